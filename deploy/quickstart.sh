#!/usr/bin/env bash
# One command from a fresh clone to a running bridge: installs into .venv and runs `vai run`.
# With no DISCORD_BOT_TOKEN it talks to an embedded local Discord (open the printed URL);
# with no `claude` on PATH it uses the bundled offline stand-in, so the flow is visible at once.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v tmux >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq tmux
    else
        echo "the bridge needs tmux: install it (e.g. sudo apt-get install tmux)" >&2
        exit 1
    fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check .
exec .venv/bin/vai run "$@"
