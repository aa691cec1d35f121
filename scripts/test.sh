#!/usr/bin/env bash
# Set up a virtual environment (Python 3.11) with the pinned dependencies and test extras, check
# the layer contract (lint-imports, pyproject.toml [tool.importlinter]) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest -q "$@"
