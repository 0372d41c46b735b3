"""One module per `vai` command, circus style.

Each module's docstring is its help (first line: the summary in `vai --help`; the rest:
`vai COMMAND --help`), `setup(parser)` declares its arguments and `execute(args, ctx)`
runs it and returns the exit code. `supervisor.cli` only assembles them.
"""

from __future__ import annotations

COMMANDS = (
    "init",
    "run",
    "start",
    "stop",
    "status",
    "add_session",
    "remove_session",
    "list_sessions",
    "recover",
    "restart",
    "stop_session",
    "start_session",
    "reload",
    "move",
    "tail",
    "attach",
    "view",
    "doctor",
)
