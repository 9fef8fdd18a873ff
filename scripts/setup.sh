#!/usr/bin/env bash
# Create .venv and install wdcli with its test dependencies and the extras the tests exercise (serve, export,
# report, mlflow, tensorboard, tune; the report/mlflow/tensorboard ones: about 30 s from a warm pip cache).
# torch==2.13.0 first: it is the CPU build, and the project's own range (torch>=2.3,<3) then installs nothing more.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q torch==2.13.0
python -m pip install -q -e '.[test,serve,export,report,mlflow,tensorboard,tune]'   # the extras too: CI tests them
