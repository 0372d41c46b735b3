"""Who a bot post may ping: nobody, unless the bridge itself means to.

Claude's answers, its questions, file names and command answers are text from outside:
an `@everyone`, `<@&role>` or `<@user>` in them must show as text, never notify. Every
message, edit and follow-up the gateway sends takes its AllowedMentions from here (and the
client's default is the same, as a net), so a mention the bridge does mean (the person
who started a turn, say) is added in this one place.
"""

from __future__ import annotations

from collections.abc import Iterable

import discord


def post_mentions(*, users: Iterable[int] = ()) -> discord.AllowedMentions:
    """Nobody is pinged, except `users`, whom the bridge names on purpose."""
    wanted = [discord.Object(id=user) for user in users]
    if not wanted:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(everyone=False, roles=False, users=wanted, replied_user=False)
