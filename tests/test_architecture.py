"""The package's shape: the imports the design allows, stated as contracts in pyproject.toml
(`[tool.importlinter]`: data flows one way through the parts, scoring never imports training, the model never
reads files, features know no torch, nothing imports the CLI, each extra is imported only where it is needed),
and modules and functions small enough to read."""

from __future__ import annotations

import ast

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "wdcli"


def test_imports_keep_the_contracts(capsys):
    lint = pytest.importorskip("importlinter.cli", reason="import-linter comes with the test extra")
    kept = lint.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert kept == 0, capsys.readouterr().out  # the report names each broken contract and the imports that break it


def test_modules_stay_small():
    big = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > 400
    ]
    assert not big, big


def test_functions_stay_short():
    """No function or method in wdcli/ has a body over 60 lines. The body is counted from its first statement
    (the docstring, where there is one) to its last line: neither decorators nor the signature count, so that a
    command's typed options (a long signature) do not make it long, and every function is held to the same rule.
    A nested function counts within the one around it and is checked in its own right."""
    long = [
        f"{p.relative_to(ROOT)}:{f.lineno}: {f.name} ({n} lines)"
        for p in sorted(PACKAGE.rglob("*.py"))
        for f in ast.walk(ast.parse(p.read_text(), str(p)))
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        and (n := (f.end_lineno or f.lineno) - f.body[0].lineno + 1) > 60
    ]
    assert not long, long


def test_one_place_reads_a_jobs_place_from_the_environment():
    """RANK, WORLD_SIZE and their kin are read by `Processes.from_env` alone (data/cpus.py): a second reader
    would let a part of the package decide who speaks or writes by its own reading."""
    import re

    read = re.compile(r"(get\(|getenv\(|\[)\"(LOCAL_)?(RANK|WORLD_SIZE)\"")
    readers = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if read.search(p.read_text()))
    assert readers == ["wdcli/data/cpus.py"], readers
