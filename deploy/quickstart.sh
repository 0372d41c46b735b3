#!/usr/bin/env bash
# One command from a fresh clone to a running bridge: installs into .venv and runs `vai run`.
# With no DISCORD_BOT_TOKEN it talks to an embedded local Discord (open the printed URL);
# with no `claude` on PATH it uses the bundled offline stand-in, so the flow is visible at once.
set -euo pipefail
started_in="$(pwd -P)"
repo="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$repo"
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '%s==>%s %s\n' "$bold" "$plain" "$*"; }

if ! command -v python3 >/dev/null 2>&1; then
    echo "the bridge needs Python 3.11 or newer (python3 was not found)" >&2
    exit 1
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "the bridge needs Python 3.11 or newer (this is $(python3 -V))" >&2
    exit 1
fi
if ! command -v tmux >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing tmux (apt-get)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux
    else
        echo "the bridge needs tmux 3.2 or newer: install it (e.g. sudo apt-get install tmux)" >&2
        exit 1
    fi
fi
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    python3 -m venv .venv 2>/dev/null || {
        echo "python3 cannot create a virtual environment: install python3-venv" \
            "(e.g. sudo apt-get install python3-venv)" >&2
        exit 1
    }
fi
say "installing the bridge into .venv (about 30 s the first time)"
.venv/bin/pip install --disable-pip-version-check --progress-bar off -q . 2>&1 \
    | grep -v "^WARNING: Location" || true
.venv/bin/vai --version >/dev/null

# Claude works in the directory you started from; never in the bridge's own checkout.
if [ -z "${VAI_CLAUDE_WORK_DIR:-}" ] && [ "$started_in" = "$repo" ]; then
    export VAI_CLAUDE_WORK_DIR="${VAI_HOME:-$HOME/.claude-discord-bridge}/workspace"
    mkdir -p "$VAI_CLAUDE_WORK_DIR"
fi
say "Claude works in ${VAI_CLAUDE_WORK_DIR:-$started_in} (change it: VAI_CLAUDE_WORK_DIR or [claude] work_dir)"
say "the vai command is $repo/.venv/bin/vai (or: export PATH=\"$repo/.venv/bin:\$PATH\")"
say "starting the bridge: stop it with Ctrl-C"
cd "$started_in"
exec "$repo/.venv/bin/vai" run "$@"
