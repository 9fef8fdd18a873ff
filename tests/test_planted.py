"""scripts/planted.py keeps its bugs plantable: a bug whose text the package no longer holds once, or whose tests
are gone, would be reported missed (or never run) only when someone runs the script, long after the change that
moved it (commit e5c3e79 fixed one such drift). These checks read the text alone; they run no planted bug."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from .conftest import ROOT


def _bugs() -> list:
    spec = importlib.util.spec_from_file_location("planted", ROOT / "scripts" / "planted.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("planted", module)  # (its dataclass looks its module up)
    spec.loader.exec_module(module)
    return module.BUGS


BUGS = _bugs()


def test_each_bug_has_a_name_of_its_own():
    names = [b.name for b in BUGS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("bug", BUGS, ids=lambda b: b.name)
def test_each_bug_changes_text_the_package_holds_once_and_names_tests_that_exist(bug):
    text = (ROOT / bug.path).read_text()
    assert text.count(bug.old) == 1, f"{bug.path} holds the text to change {text.count(bug.old)} times, not once"
    assert bug.old != bug.new and bug.tests
    for test in bug.tests:
        file, _, node = test.partition("::")
        source = (ROOT / file).read_text()
        name = re.sub(r"\[.*\]$", "", node.split("::")[-1])
        assert not name or re.search(rf"^\s*def {re.escape(name)}\(", source, re.M), f"no test {test}"
