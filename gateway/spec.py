"""What the supervisor tells the gateway at spawn time (JSON in VAI_GATEWAY_SPEC).

The bot token travels separately, in the gateway's environment only.
"""

from __future__ import annotations

import msgspec

from protocol.layout import Layout

SPEC_ENV = "VAI_GATEWAY_SPEC"
TOKEN_ENV = "DISCORD_BOT_TOKEN"


class GatewaySpec(msgspec.Struct, frozen=True, kw_only=True):
    home: str
    api_url: str
    gateway_url: str
    local_discord: bool = False
    local_port: int = 0
    allowed_users: list[int] = msgspec.field(default_factory=list)
    allowed_roles: list[int] = msgspec.field(default_factory=list)
    heartbeat_interval: float = 1.0
    catch_up_max_age: float = 3600.0

    @property
    def layout(self) -> Layout:
        return Layout(self.home)


def encode_spec(spec: GatewaySpec) -> str:
    return msgspec.json.encode(spec).decode()


def decode_spec(text: str) -> GatewaySpec:
    return msgspec.json.decode(text, type=GatewaySpec)
