"""What the supervisor tells the gateway at spawn time (JSON in VAI_GATEWAY_SPEC).

The bot token travels separately, in the gateway's environment only. Per-session allow
lists travel in the SessionMap's routes, since sessions come and go while it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from vai.protocol.layout import Layout

if TYPE_CHECKING:
    from vai.supervisor.config import DiscordSection

SPEC_ENV = "VAI_GATEWAY_SPEC"
TOKEN_ENV = "DISCORD_BOT_TOKEN"
# The gateway cannot work until the operator fixes its configuration (bad token, the
# Message Content intent off): the supervisor does not restart it (sysexits EX_CONFIG).
EXIT_CONFIG = 78


class GatewaySettings(msgspec.Struct, frozen=True, kw_only=True):
    """The `[discord]` settings of vai.toml that the gateway acts on."""

    allowed_users: list[int] = msgspec.field(default_factory=list)
    allowed_roles: list[int] = msgspec.field(default_factory=list)
    # May run /add-session; allowed everywhere.
    admin_users: list[int] = msgspec.field(default_factory=list)
    admin_roles: list[int] = msgspec.field(default_factory=list)
    # Put on messages from people who are not allowed ("" = say nothing).
    denied_reaction: str = ""
    # Token buckets for messages to Claude; a burst of 0 turns a limit off. The defaults
    # stop runaway floods (a script, a compromised account) without ever slowing a
    # person, or the SPEC's bursts; tighten them for shared servers.
    user_burst: int = 600
    user_per_minute: float = 300.0
    session_burst: int = 600
    session_per_minute: float = 300.0
    # One message per turn, edited as tools run.
    progress: bool = True
    # Discord's per-file limit without boosts; bigger files get a clear error instead.
    max_upload_bytes: int = 10 * 1024 * 1024
    # An answer that needs more messages than this goes as a file.
    reply_max_messages: int = 4
    # The bridge's own pace for REST calls, under Discord's global 50/s.
    requests_per_second: float = 40.0


class GatewaySpec(msgspec.Struct, frozen=True, kw_only=True):
    home: str
    api_url: str
    gateway_url: str
    local_discord: bool = False
    local_port: int = 0
    heartbeat_interval: float = 1.0
    catch_up_max_age: float = 3600.0
    settings: GatewaySettings = msgspec.field(default_factory=GatewaySettings)

    @property
    def layout(self) -> Layout:
        return Layout(self.home)


def gateway_settings(section: DiscordSection) -> GatewaySettings:
    """The gateway's part of the `[discord]` section."""
    names = [name for name in GatewaySettings.__struct_fields__ if hasattr(section, name)]
    return GatewaySettings(**{name: getattr(section, name) for name in names})


def encode_spec(spec: GatewaySpec) -> str:
    return msgspec.json.encode(spec).decode()


def decode_spec(text: str) -> GatewaySpec:
    return msgspec.json.decode(text, type=GatewaySpec)
