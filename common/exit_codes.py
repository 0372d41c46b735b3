"""Exit codes, in one place: the CLI's (SPEC section 3) and the children's to the supervisor.

The CLI's follow the SPEC; a child's tell the supervisor whether restarting can help.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1  # an expected failure, said in one line on stderr
EXIT_USAGE = 2  # bad usage (argparse's own code)
EXIT_NOT_RUNNING = 3  # `vai status`: something is not RUNNING
EXIT_UNREACHABLE = 4  # the supervisor is not running or does not answer
EXIT_INTERRUPTED = 130  # Ctrl-C

# A worker whose Claude never became ready, or that could not get its pane or lock.
EXIT_NOT_READY = 2
EXIT_NO_PANE = 3
# The gateway cannot work until the operator fixes its configuration (bad token, the
# Message Content intent off): the supervisor does not restart it (sysexits EX_CONFIG).
EXIT_CONFIG = 78
