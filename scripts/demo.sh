#!/usr/bin/env bash
# Set up a virtual environment (Python 3.11) with the pinned dependencies and run the demo:
# the emulators (extra "demo") on loopback, a bundled scenario replayed through the real daemon cycle.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[demo]'
exec .venv/bin/handoff-bridge demo "$@"
