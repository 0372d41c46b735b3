"""`[hub]` and `[host]` in vai.toml (issue 15): a bridge that spans hosts. Apart from
config.py (whose FileConfig holds them) to keep that module small."""

from __future__ import annotations

import msgspec


class HubHost(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[hub.hosts.NAME]`: a host agent admitted by its CURVE public key (z85)."""

    public_key: str


class HubSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[hub]`: where host agents connect (empty: a single machine, no network at all)."""

    listen: str = ""  # e.g. "tcp://0.0.0.0:7310"
    name: str = "hub"  # the hub's own host: sessions placed here (or nowhere) run locally
    hosts: dict[str, HubHost] = msgspec.field(default_factory=dict)
    heartbeat_interval: float = 1.0
    liveness: int = 3  # missed heartbeats before a host is down


class HostSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[host]`: this machine as a host agent of a hub (`vai run --host`)."""

    name: str = ""
    hub: str = ""  # e.g. "tcp://hub.example:7310"
    hub_public_key: str = ""
