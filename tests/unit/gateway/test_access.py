"""Who may talk to Claude, and how fast: the pure policies, without Discord."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import discord
import pytest
from discord import TeamMemberRole

from tests.support.clock import FakeClock
from vai.gateway.access import AccessPolicy, DeniedNotices
from vai.gateway.owners import application_owners
from vai.gateway.ratelimit import InboundLimiter, RateSettings, RateVerdict, TokenBucket
from vai.gateway.routing import Router
from vai.protocol.messages import Author, Route, SessionMap
from vai.protocol.specs import GatewaySettings

BOT = 1000
ALICE, BOB, CAROL = 1, 2, 3
DEV_ROLE, OPS_ROLE, ADMIN_ROLE = 50, 60, 70


def smap(*routes: Route, route_unmapped: bool = False, default: int | None = 1) -> SessionMap:
    return SessionMap(routes=list(routes), default_session=default, route_unmapped=route_unmapped)


def test_bots_webhooks_and_the_bridge_itself_are_never_forwarded() -> None:
    policy = AccessPolicy(BOT, owners=[ALICE])  # no allow list: the owner alone
    assert policy.check(Author(id=ALICE, name="alice"), 1).forward
    assert not policy.check(Author(id=BOT, name="me", bot=True), 1).forward
    assert not policy.check(Author(id=555, name="other", bot=True), 1).forward
    webhook = policy.check(Author(id=777, name="hook"), 1, is_webhook=True)
    assert not webhook.forward and not webhook.denied_human
    # A bot that is the owner's id is still a bot.
    assert not policy.check(Author(id=ALICE, name="alice", bot=True), 1).forward
    assert policy.owners_only


def test_access_is_closed_by_default_owners_are_always_allowed_and_admins() -> None:
    nobody = AccessPolicy(BOT)  # no owner known, no list: nobody
    refused = nobody.check(Author(id=BOB, name="bob"), 1)
    assert not refused.forward and refused.denied_human
    assert not nobody.user_allowed(BOB, (DEV_ROLE,), None)
    owned = AccessPolicy(BOT, owners=[ALICE])
    assert not owned.check(Author(id=BOB, name="bob"), 1).forward
    assert owned.user_allowed(ALICE, (), 1) and owned.user_allowed(ALICE, (), None)
    assert owned.is_admin(ALICE, ()) and not owned.is_admin(BOB, ())
    # With allow lists, and a session with its own: the owner stays allowed everywhere.
    listed = AccessPolicy(BOT, [BOB], owners=[ALICE])
    listed.update(smap(Route(session=1, channel_id=10), Route(2, 20, allowed_users=(CAROL,))))
    assert listed.check(Author(id=BOB, name="bob"), 1).forward
    assert not listed.check(Author(id=BOB, name="bob"), 2).forward
    assert listed.check(Author(id=CAROL, name="carol"), 2).forward
    for session in (1, 2, None):
        assert listed.user_allowed(ALICE, (), session)
    assert not listed.owners_only and not listed.needs_roles(ALICE, 1)
    # The owners are set after login, when Discord said who owns the application.
    nobody.owners = frozenset({BOB})
    assert nobody.check(Author(id=BOB, name="bob"), 1).forward
    assert nobody.describe().startswith("owners 2; nobody else")
    assert "allowed users 2" in listed.describe()
    # vai.toml reloaded: its owners replace the configured ones.
    listed.reconfigure(GatewaySettings(owners=[CAROL]))
    assert listed.user_allowed(CAROL, (), None) and not listed.user_allowed(ALICE, (), 1)


def test_the_denied_reaction_comes_once_per_person_per_hour() -> None:
    clock = FakeClock()
    notices = DeniedNotices(every=3600.0, clock=clock)
    assert notices.due(BOB) and not notices.due(BOB)
    assert notices.due(CAROL)
    clock.advance(3599)
    assert not notices.due(BOB)
    clock.advance(1)
    assert notices.due(BOB) and not notices.due(BOB)


def test_the_owners_discord_reports_are_the_owner_or_the_teams_active_members() -> None:
    def member(user_id: int, role: str, accepted: bool = True) -> SimpleNamespace:
        state = discord.TeamMembershipState.accepted if accepted else None
        return SimpleNamespace(id=user_id, membership_state=state, role=TeamMemberRole(role))

    alone = SimpleNamespace(owner=SimpleNamespace(id=ALICE), team=None)
    assert application_owners(cast(discord.AppInfo, alone))[0] == {ALICE}
    team = SimpleNamespace(
        name="devs",
        owner_id=CAROL,
        members=[member(ALICE, "admin"), member(BOB, "read_only"), member(9, "developer", False)],
    )
    owned = SimpleNamespace(owner=SimpleNamespace(id=999), team=team)
    owners, source = application_owners(cast(discord.AppInfo, owned))
    assert owners == {ALICE, CAROL} and "team 'devs'" in source
    assert application_owners(None)[0] == frozenset()


def test_allowed_users_and_roles_globally() -> None:
    policy = AccessPolicy(BOT, [ALICE], [DEV_ROLE])
    assert policy.check(Author(id=ALICE, name="alice"), 1).forward
    assert policy.check(Author(id=BOB, name="bob", role_ids=(DEV_ROLE,)), 1).forward
    refused = policy.check(Author(id=CAROL, name="carol", role_ids=(OPS_ROLE,)), 1)
    assert not refused.forward and refused.denied_human
    # A bot with an allowed role is still a bot.
    assert not policy.check(Author(id=9, name="b", bot=True, role_ids=(DEV_ROLE,)), 1).forward
    assert not policy.owners_only


def test_a_session_with_its_own_lists_replaces_the_global_ones() -> None:
    policy = AccessPolicy(BOT, [ALICE], [DEV_ROLE], admin_roles=[ADMIN_ROLE])
    policy.update(
        smap(
            Route(session=1, channel_id=10),
            Route(session=2, channel_id=20, allowed_users=(BOB,)),
            Route(session=3, channel_id=30, allowed_roles=(OPS_ROLE,)),
        )
    )
    alice = Author(id=ALICE, name="alice")
    bob = Author(id=BOB, name="bob")
    ops = Author(id=CAROL, name="carol", role_ids=(OPS_ROLE,))
    admin = Author(id=99, name="root", role_ids=(ADMIN_ROLE,))
    assert policy.check(alice, 1).forward and not policy.check(bob, 1).forward
    assert not policy.check(alice, 2).forward and policy.check(bob, 2).forward
    assert policy.check(ops, 3).forward and not policy.check(alice, 3).forward
    for session in (1, 2, 3):  # admins everywhere
        assert policy.check(admin, session).forward
    assert policy.is_admin(99, (ADMIN_ROLE,)) and not policy.is_admin(ALICE, ())
    # Outside any session (a command in an unmapped channel): the global lists.
    assert policy.user_allowed(ALICE, (), None) and not policy.user_allowed(BOB, (), None)


def test_roles_are_looked_up_only_when_they_decide() -> None:
    policy = AccessPolicy(BOT, [ALICE], [DEV_ROLE])
    assert not policy.needs_roles(ALICE, 1)  # allowed by id
    assert policy.needs_roles(BOB, 1)
    assert not AccessPolicy(BOT).needs_roles(BOB, 1)  # open
    assert not AccessPolicy(BOT, [ALICE]).needs_roles(BOB, 1)  # users only: roles irrelevant


def test_router_ignores_unmapped_channels_unless_told_to_use_the_default() -> None:
    routes = (Route(session=1, channel_id=10), Route(session=2, channel_id=20))
    router = Router(smap(*routes))
    assert router.session_for(10) == 1 and router.session_for(20) == 2
    assert router.session_for(99) is None
    router.update(smap(*routes, route_unmapped=True, default=2))
    assert router.session_for(99) == 2
    # A default that is not a session routes nothing.
    router.update(smap(*routes, route_unmapped=True, default=7))
    assert router.session_for(99) is None
    assert router.channel_for(2) == 20 and sorted(router.channels) == [10, 20]


def test_token_bucket_refills_with_time() -> None:
    bucket = TokenBucket(capacity=3, rate=1.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_time(0.0) == pytest.approx(1.0)
    assert not bucket.take(0.5)
    assert bucket.take(1.0)
    assert bucket.available(100.0) == 3  # never above capacity
    # A clock that goes back (messages read from history) does not mint tokens.
    bucket = TokenBucket(capacity=1, rate=1.0)
    assert bucket.take(10.0)
    assert not bucket.take(5.0)
    assert TokenBucket(capacity=1, rate=0.0).wait_time(0.0, 2) == float("inf")


def test_inbound_limiter_per_user_then_per_session_with_one_notice() -> None:
    # queue=0: the strict mode, every message over a limit refused at once.
    limits = RateSettings(
        user_burst=2,
        user_per_minute=60,
        session_burst=3,
        session_per_minute=60,
        notice_every=30,
        queue=0,
    )
    limiter = InboundLimiter(limits)
    assert limiter.check(ALICE, 1, 0.0).ok
    assert limiter.check(ALICE, 1, 0.0).ok
    third = limiter.check(ALICE, 1, 0.0)
    assert not third.ok and third.scope == "user" and third.notify
    assert third.retry_in == pytest.approx(1.0)
    assert "not** sent to Claude" in third.notice(limits)
    assert not limiter.check(ALICE, 1, 0.1).notify  # one notice per window
    # Bob has his own bucket, but the session's is nearly empty now.
    assert limiter.check(BOB, 1, 0.2).ok
    session_full = limiter.check(BOB, 1, 0.2)
    assert not session_full.ok and session_full.scope == "session"
    assert "for this session" in session_full.notice(limits)
    # Other sessions are not affected; time refills.
    assert limiter.check(BOB, 2, 0.2).ok
    assert limiter.check(ALICE, 1, 5.0).ok
    # A refused message takes no token from the other bucket.
    assert limiter.check(ALICE, 1, 40.0).ok and limiter.check(ALICE, 1, 40.0).ok
    again = limiter.check(ALICE, 1, 40.0)
    assert not again.ok and again.notify  # the notice window passed


def test_over_the_limit_messages_wait_their_turn_until_the_queue_is_full() -> None:
    limits = RateSettings(user_burst=2, user_per_minute=60, session_burst=100, queue=3)
    limiter = InboundLimiter(limits)
    assert limiter.check(ALICE, 1, 0.0) == RateVerdict(True)
    assert limiter.check(ALICE, 1, 0.0) == RateVerdict(True)
    # Over the burst: queued, each one a token's refill later than the one before.
    waits = [limiter.check(ALICE, 1, 0.0) for _ in range(3)]
    assert all(v.ok for v in waits)
    assert [v.delay for v in waits] == pytest.approx([1.0, 2.0, 3.0])
    assert [v.notify for v in waits] == [True, False, False]  # one notice per window
    assert "waits and goes to Claude in order" in waits[0].queued_notice(limits)
    # Beyond the queue's cap: refused, and said so.
    full = limiter.check(ALICE, 1, 0.0)
    assert not full.ok and full.scope == "user"
    assert "not** sent to Claude" in full.notice(limits) and "3 already wait" in full.notice(limits)
    assert full.retry_in == pytest.approx(1.0)
    # Bob is not held up by Alice's queue; time pays the credit back.
    assert limiter.check(BOB, 1, 0.0) == RateVerdict(True)
    assert limiter.check(ALICE, 1, 1.0).delay == pytest.approx(3.0)
    assert limiter.check(ALICE, 1, 10.0) == RateVerdict(True)
    # New settings (vai reload): fresh, full buckets.
    limiter.reconfigure(RateSettings(user_burst=1, user_per_minute=60, queue=0))
    assert limiter.check(ALICE, 1, 10.0).ok and not limiter.check(ALICE, 1, 10.0).ok


def test_limits_can_be_turned_off() -> None:
    limiter = InboundLimiter(RateSettings(user_burst=0, session_burst=0))
    assert all(limiter.check(ALICE, 1, 0.0).ok for _ in range(1000))
