"""Where a session may work: the rules for a work dir asked for from Discord (`/new`, `/bind`).

An admin on Discord is not the operator at the shell: they must not point Claude at /etc
or at the bridge's own secrets. So a work dir from Discord must resolve — symlinks and
`..` followed, as the kernel would — to `[claude] work_dir_roots` or below (by default the
global `[claude] work_dir` and below), never to VAI_HOME or inside it. A relative path is
taken under the first root. A directory that does not exist yet is made, but only under a
root. The operator's own `vai add-session --work-dir` is not confined, but the directory
must exist.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from vai.common.errors import BridgeError
from vai.common.tmux import pane_umask
from vai.supervisor.claude_access import share_like
from vai.supervisor.config import Config


def roots_of(config: Config) -> list[Path]:
    """The configured roots (or the global work dir), as given."""
    configured = config.file.claude.work_dir_roots
    return [Path(r).expanduser() for r in configured] or [Path(config.claude_work_dir)]


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _within(path: Path, parent: Path) -> bool:
    return path == parent or path.is_relative_to(parent)


def confined_work_dir(
    requested: str, roots: Sequence[Path], forbidden: Sequence[Path], *, create: bool
) -> Path:
    """The real directory `requested` names, if it is allowed; BridgeError says why not.
    With `create`, a missing directory under a root is made (else it only must be
    makeable)."""
    text = requested.strip()
    real_roots = [_real(root) for root in roots if root.is_dir()]
    if not real_roots:
        shown = ", ".join(str(r) for r in roots)
        raise BridgeError(f"no work dir root exists ({shown}): see `[claude] work_dir_roots`")
    if "\0" in text or text.startswith("~"):
        raise BridgeError(
            f"{text!r} is not a usable path: give an absolute path, or one relative to"
            f" {real_roots[0]}"
        )
    path = _real(real_roots[0] / text) if text else real_roots[0]
    allowed = ", ".join(str(r) for r in real_roots)
    if not any(_within(path, root) for root in real_roots):
        raise BridgeError(f"{path} is outside the allowed work dirs ({allowed})")
    if any(_within(path, _real(f)) for f in forbidden):
        raise BridgeError(f"{path} is the bridge's own directory: choose another")
    if path.exists() and not path.is_dir():
        raise BridgeError(f"{path} is not a directory")
    if not path.exists() and create:
        made = _missing_chain(path)
        umask = pane_umask()
        try:
            for directory in made:  # the operator's umask: this is Claude's work dir
                directory.mkdir(exist_ok=True)
                if umask >= 0:
                    os.chmod(directory, 0o777 & ~umask)
        except OSError as exc:
            raise BridgeError(f"cannot make {path}: {exc.strerror or exc}") from None
        if made:
            share_like(made[0], made[0].parent)
        again = _real(path)  # a symlink raced in while it was made
        if again != path or not any(_within(again, root) for root in real_roots):
            raise BridgeError(f"{path} is outside the allowed work dirs ({allowed})")
    return path


def _missing_chain(path: Path) -> list[Path]:
    """The directories to make for `path`, outermost first."""
    missing: list[Path] = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing[::-1]


def operator_work_dir(requested: str) -> Path:
    """`vai add-session --work-dir`: any existing directory (the operator decides)."""
    path = Path(requested).expanduser()
    if not path.is_absolute():
        raise BridgeError(f"{requested!r}: give an absolute path")
    if not path.is_dir():
        raise BridgeError(f"{path} is not a directory")
    return _real(path)
