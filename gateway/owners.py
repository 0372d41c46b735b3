"""The bridge's owners when vai.toml names none: whoever owns the bot's application.

Discord tells the bot at login (GET /oauth2/applications/@me; discord.py keeps it as
`Client.application`): the application's owner or, for an application that belongs to a
team, the team's owner and the members who accepted and may change the application
(admins and developers; read-only members are not owners). In the local demo that is the
local operator: the local Discord's application belongs to its one user.
"""

from __future__ import annotations

import discord


def application_owners(app: discord.AppInfo | None) -> tuple[frozenset[int], str]:
    """The owners' user ids, and where they come from (for the log)."""
    if app is None:
        return frozenset(), "Discord said nothing about the application"
    team = app.team
    if team is None:
        return frozenset({app.owner.id}), f"the application's owner {app.owner}"
    members = {
        member.id
        for member in team.members
        if member.membership_state is discord.TeamMembershipState.accepted
        and member.role is not discord.TeamMemberRole.read_only
    }
    if team.owner_id:
        members.add(team.owner_id)
    return frozenset(members), f"the application's team {team.name!r}"
