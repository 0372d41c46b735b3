"""`vai init --host NAME`: this machine as a host agent of a hub (issue 15).

Makes the host's CURVE keypair in VAI_HOME/host.key (0600; the secret never leaves this
machine), writes vai.toml's `[host]` section, and prints the public key with the lines
to add to the hub's vai.toml. No bot token: the hub alone holds it.
"""

from __future__ import annotations

import json
from pathlib import Path

from vai.common.atomic import write_atomic
from vai.common.errors import BridgeError
from vai.protocol.layout import Layout
from vai.supervisor.hub.keys import valid_key, write_keypair


def render_host_toml(name: str, hub: str, hub_public_key: str, work_dir: str) -> str:
    return "\n".join(
        [
            "# claude-discord-bridge host agent (written by `vai init --host`).",
            "",
            "[host]",
            f"name = {json.dumps(name)}",
            f"hub = {json.dumps(hub)}",
            "# The hub's public key: its log says it at start (`hub: public key ...`).",
            f"hub_public_key = {json.dumps(hub_public_key)}",
            "",
            "[claude]",
            f"work_dir = {json.dumps(work_dir)}",
            "",
        ]
    )


def init_host(
    home: Path, name: str, *, hub: str, hub_public_key: str, work_dir: str, force: bool
) -> list[str]:
    """Write host.key and vai.toml; the lines to print."""
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise BridgeError(f"--host {name!r}: use letters, digits, '-', '_' or '.'")
    if hub_public_key and not valid_key(hub_public_key):
        raise BridgeError("--hub-key is not a z85 CURVE public key (40 characters)")
    layout = Layout(str(home))
    targets = [layout.host_key, layout.config_file]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise BridgeError(f"{existing[0]} exists; use --force to overwrite")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys = write_keypair(layout.host_key)
    toml = render_host_toml(name, hub or "tcp://HUB:7310", hub_public_key, work_dir)
    write_atomic(layout.config_file, toml.encode(), mode=0o600)
    public = keys.public.decode()
    lines = [
        f"wrote {layout.host_key} (the secret key stays on this machine)",
        f"wrote {layout.config_file}",
        f"public key of host {name}: {public}",
        "register it on the hub, in its vai.toml:",
        f"  [hub.hosts.{name}]",
        f'  public_key = "{public}"',
    ]
    if not hub or not hub_public_key:
        lines.append(f"then set `hub` and `hub_public_key` in {layout.config_file}")
    lines.append("next: `vai doctor` to check the link, then `vai run --host`")
    return lines
