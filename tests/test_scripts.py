"""The scripts a contributor runs: `scripts/test.sh` hands its arguments to pytest in place of `tests`."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from .conftest import ROOT


def _stub(path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def checkout(tmp_path):
    """A copy of scripts/test.sh whose set-up, linters and python are stubs that log how they were called."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test.sh", tmp_path / "scripts" / "test.sh")
    _stub(tmp_path / "scripts" / "setup.sh", "exit 0")
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for tool in ("ruff", "mypy", "python", "chromium"):
        _stub(bin_ / tool, f'echo "{tool} $*" >> "{tmp_path}/calls.log"')
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "activate").write_text(f'export PATH="{bin_}:$PATH"\n')
    return tmp_path


def _pytest_call(checkout, *args: str) -> str:
    env = {**os.environ, "PATH": f"{checkout / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(["bash", str(checkout / "scripts" / "test.sh"), *args], check=True, env=env, cwd=checkout)
    calls = (checkout / "calls.log").read_text().splitlines()
    return next(c for c in calls if c.startswith("python -m pytest"))


def test_test_script_passes_its_arguments_in_place_of_tests(checkout):
    assert _pytest_call(checkout, "-x", "-q", "tests/test_cli.py") == "python -m pytest -x -q tests/test_cli.py"


def test_test_script_runs_the_suite_without_arguments(checkout):
    assert _pytest_call(checkout) == "python -m pytest tests"
