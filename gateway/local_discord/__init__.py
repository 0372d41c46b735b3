"""A local Discord-compatible server that the unmodified discord.py client can use.

Used by the tests and embedded by ``vai run`` when no bot token is configured, so a new user can
chat with Claude from a browser. See :class:`LocalDiscord` (asyncio) and
:class:`LocalDiscordThread` (its own thread, synchronous controls).
"""

from .interactions import Interaction
from .rest import RequestRecord
from .server import LocalDiscord
from .store import ApiError, LocalUser
from .threaded import LocalDiscordThread

__all__ = [
    "ApiError",
    "Interaction",
    "LocalDiscord",
    "LocalDiscordThread",
    "LocalUser",
    "RequestRecord",
]
