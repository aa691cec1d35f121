#!/usr/bin/env bash
# Set up a virtual environment (Python 3.11) with the pinned dependencies and test extras, check
# the layer contract (lint-imports, pyproject.toml [tool.importlinter]) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
# The report page's browser test (tests/browser) runs Debian's Chromium: install it where we may
# (root with apt-get), else stop and say how; never skip it silently.
CHROMIUM="${HANDOFF_BRIDGE_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    else
        echo "scripts/test.sh: the browser test needs Chromium at $CHROMIUM; install Debian's package" >&2
        echo "  (sudo apt-get install -y chromium) or set HANDOFF_BRIDGE_CHROMIUM to a Chromium binary" >&2
        exit 2
    fi
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest -q "$@"
