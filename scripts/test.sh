#!/usr/bin/env bash
# Set up (if needed), lint, type-check and run the test suite; arguments go to pytest in place of `tests`
# (./scripts/test.sh -x -q tests/test_cli.py runs that file only).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# The report's browser test renders it in headless Chromium (Debian's package; about 30 s to install). Without
# it that one test is skipped, so a failed install does not fail the run.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "note: chromium could not be installed; the browser test of the report will be skipped"
fi
. .venv/bin/activate
ruff check wdcli tests bench specs
ruff format --check wdcli tests bench specs
mypy  # the parts and strictness are in pyproject.toml ([tool.mypy])
# By default the tests run in one worker per CPU (pytest-xdist, at most 4; a test file stays in one worker, so
# its module fixtures are built once), each worker kept to its own CPU (tests/conftest.py).
workers=$(python -c 'import os; print(min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4))')
[ "$#" -gt 0 ] || { if [ "$workers" -gt 1 ]; then set -- tests -n "$workers" --dist loadfile; else set -- tests; fi; }
python -m pytest "$@"
