"""`vai`: the operator's command line (SPEC section 3).

Each command lives in its own module under supervisor/commands/ (its help is its
docstring). Expected failures print one line on stderr and exit non-zero, never a
traceback. Exit codes: 0 done, 1 failed, 2 bad usage, 3 `vai status`: something is not
running, 4 the supervisor is unreachable, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence
from types import ModuleType

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_UNREACHABLE
from vai.supervisor.commands import COMMANDS
from vai.supervisor.commands._common import Context
from vai.supervisor.control_client import SupervisorUnreachable

EPILOG = """exit codes: 0 done, 1 failed, 2 bad usage, 3 (status) something is not running,
4 the supervisor is unreachable.  VAI_HOME (default ~/.claude-discord-bridge) holds
everything; `vai COMMAND --help` tells more."""


def installed_version() -> str:
    try:
        return importlib.metadata.version("claude-discord-bridge")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def load_commands() -> dict[str, ModuleType]:
    from vai.supervisor.sessions_crypto import command_modules

    commands = {
        name.replace("_", "-"): importlib.import_module(f"vai.supervisor.commands.{name}")
        for name in COMMANDS
    }
    commands.update(command_modules())  # encrypt-sessions, decrypt-sessions
    return commands


def build_parser(commands: dict[str, ModuleType] | None = None) -> argparse.ArgumentParser:
    commands = commands or load_commands()
    parser = argparse.ArgumentParser(
        prog="vai",
        description="Run many Claude Code sessions from Discord, one per channel.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"vai {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in commands.items():
        doc = (module.__doc__ or name).strip()
        summary = doc.splitlines()[0]
        command = sub.add_parser(
            name,
            help=summary[0].lower() + summary[1:].rstrip("."),
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.setup(command)
        command.set_defaults(module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module: ModuleType = args.module
    try:
        code: int = module.execute(args, Context())
        return code
    except SupervisorUnreachable as exc:
        print(f"vai: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except BridgeError as exc:
        print(f"vai: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_ERROR
