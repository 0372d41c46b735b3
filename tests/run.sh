#!/usr/bin/env bash
# The project's test command: install into .venv, then lint, format check, strict types, pytest.
# Extra arguments go to pytest (e.g. `bash tests/run.sh -k worker`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v tmux >/dev/null 2>&1; then
    echo "tests need tmux: install it (e.g. apt-get install tmux)" >&2
    exit 1
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict
.venv/bin/pytest "$@"
