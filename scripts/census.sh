#!/usr/bin/env bash
# Set up (if needed), then train the census sample spec: the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. .venv/bin/activate
wdcli validate specs/census.yaml
wdcli train specs/census.yaml "$@"
