"""The Discord side of the gateway: the only code that holds the token or talks to Discord.

BridgeBot only wires events to the modules that do one job each:

- gateway.inbound: Discord messages -> `Inbound` for the supervisor (access, rate limits,
  catch-up after a full reconnect);
- gateway.replies: `PostReply` -> messages (split, files, nonces);
- gateway.feedback: reactions, typing, short notices;
- gateway.progress: one progress message per turn, edited as tools run;
- gateway.choices: permission prompts and questions as buttons;
- gateway.commands: /status, /sessions, /recover, /interrupt, /add-session;
- gateway.preflight: problems only the operator can fix;
- gateway.outbound + gateway.pacer: every request to Discord, paced and ordered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, assert_never

import aiohttp
import discord

from vai.common.backoff import Backoff
from vai.common.bus_auth import ClientKeys
from vai.common.tasks import Background
from vai.gateway.access import AccessPolicy
from vai.gateway.choices import ChoiceButtons
from vai.gateway.commands import BridgeCommands
from vai.gateway.control import ControlClient
from vai.gateway.feedback import Feedback, TypingIndicators
from vai.gateway.inbound import InboundForwarder
from vai.gateway.mentions import post_mentions
from vai.gateway.outbound import Outbound
from vai.gateway.owners import application_owners
from vai.gateway.pacer import Pacer
from vai.gateway.preflight import ChannelCheck, interactions_endpoint_text, unreachable_text
from vai.gateway.progress import ProgressMessages
from vai.gateway.ratelimit import InboundLimiter, RateSettings
from vai.gateway.replies import ReplyPoster
from vai.gateway.routing import Router
from vai.gateway.supervisor_link import SupervisorLink
from vai.gateway.thread_sessions import ThreadSessions
from vai.protocol.links import SupervisorToGateway
from vai.protocol.messages import (
    ChatMessage,
    ChoiceRequest,
    ChoiceWithdrawn,
    GatewayProblem,
    Heartbeat,
    InboundAck,
    PostReply,
    PromptProgress,
    SessionMap,
    SettingsUpdate,
    ToolProgress,
    Typing,
)
from vai.protocol.specs import GatewaySettings, GatewaySpec

if TYPE_CHECKING:  # the local server (aiohttp.web) is loaded only in local mode
    from vai.gateway.local_discord import LocalDiscord

log = logging.getLogger("gateway")

PACER_BURST = 10.0
MAX_RATELIMIT_WAIT = 30.0  # discord.py's minimum; longer waits come back to the outbound queue
LOGIN_RETRY = Backoff(base=1.0, cap=60.0)
# GatewayProblem topics that are not channels.
TOPIC_INVALID = -1
TOPIC_COMMANDS = -2
TOPIC_UNREACHABLE = -3
TOPIC_ENDPOINT = -4


class BridgeBot(discord.Client):
    def __init__(
        self,
        spec: GatewaySpec,
        keys: ClientKeys,
        local: LocalDiscord | None = None,
        *,
        pacer: Pacer | None = None,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        settings = spec.settings
        self.pacer = pacer or Pacer(rate=settings.requests_per_second, burst=PACER_BURST)
        self.pacer.on_level = self._on_invalid_level
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(
            intents=intents,
            http_trace=self.pacer.trace_config(lambda: discord.http.Route.BASE),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
            guild_ready_timeout=guild_ready_timeout,
            allowed_mentions=post_mentions(),  # each post says so too; this is the net
        )
        self.spec = spec
        self.local = local
        self.router = Router()
        self.access = AccessPolicy(
            0,
            settings.allowed_users,
            settings.allowed_roles,
            admin_users=settings.admin_users,
            admin_roles=settings.admin_roles,
            owners=settings.owners,
        )
        self.link = SupervisorLink(spec.layout, keys, spec.heartbeat_interval, self.on_supervisor)
        self.outbound = Outbound(self.pacer)
        self.typing = TypingIndicators(self, self.outbound)
        self.feedback = Feedback(self, self.outbound, self.typing)
        self.limiter = InboundLimiter(rate_settings(settings))
        self.inbound = InboundForwarder(
            self,
            self.router,
            self.access,
            self.limiter,
            self.feedback,
            send=self._send_inbound,
            denied_reaction=settings.denied_reaction,
            catch_up_max_age=spec.catch_up_max_age,
        )
        self.channel_check = ChannelCheck(self, self.router, self._report_channel)
        self.replies = ReplyPoster(
            self,
            self.outbound,
            self.link.send,
            max_messages=settings.reply_max_messages,
            upload_limit=settings.max_upload_bytes,
            before_post=lambda channel_id: self.typing.set(channel_id, False),
            blocked=self.channel_check.reason_blocked,
            on_unusable=self.channel_check.mark_unusable,
            usage_footer=settings.usage_footer,
        )
        self.progress = ProgressMessages(self, self.outbound, enabled=settings.progress)
        self.choices = ChoiceButtons(
            self,
            self.outbound,
            self._may_answer,
            self.link.send,
            on_posted=lambda channel_id: self.typing.set(channel_id, False),
            settings=settings,
        )
        self.control = ControlClient(spec.layout, self.link.context)
        self.slash = BridgeCommands(
            self, self.control, self.router, lambda: self.access, self._report_general
        )
        self.threads = ThreadSessions(self, self.control, self.router, self.inbound, self._post)
        self._tasks: list[asyncio.Task[None]] = []
        self.background = Background(log)
        self._map_ready = asyncio.Event()
        self._link_started = False
        self._catch_up_due = False

    # -- lifecycle ------------------------------------------------------------------------------

    def start_link(self) -> None:
        """Heartbeats to the supervisor from before the login (idempotent)."""
        if self._link_started:
            return
        self._link_started = True
        self._tasks = [
            asyncio.create_task(self.link.receive_loop()),
            asyncio.create_task(self.link.upkeep_loop()),
            asyncio.create_task(self._exit_when_orphaned()),
        ]

    async def setup_hook(self) -> None:
        self.start_link()
        self.choices.start()

    async def _exit_when_orphaned(self) -> None:
        await self.link.lost.wait()
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.typing.close()
        self.progress.close()
        self.choices.close()
        self.inbound.held.close()
        self.outbound.close()
        await super().close()

    async def run_discord(self, token: str) -> None:
        """Log in (patiently: Discord may be unreachable for a while), then stay connected.

        discord.py reconnects by itself once connected; a login that cannot reach Discord
        is retried here with a capped backoff, and reported for `vai status` meanwhile.
        Refusals (bad token, intents) are raised to the caller.
        """
        failures = 0
        while True:
            try:
                await self.login(token)
                break
            except (aiohttp.ClientConnectionError, TimeoutError, discord.DiscordServerError) as exc:
                text = unreachable_text(discord.http.Route.BASE, exc)
                failures += 1
                delay = LOGIN_RETRY.delay(failures)
                log.error("%s; next attempt in %.0fs", text, delay)
                await self.link.send(GatewayProblem(text=text, channel_id=TOPIC_UNREACHABLE))
                await self.http.close()  # also closes its connector: the next login makes both
                self.http.connector = discord.utils.MISSING
                await asyncio.sleep(delay)
        if failures:
            log.info("Discord is reachable again")
            await self.link.send(GatewayProblem(text="", channel_id=TOPIC_UNREACHABLE))
        self._settle_owners()
        endpoint = self.application.interactions_endpoint_url if self.application else None
        if endpoint:
            await self._report_general(interactions_endpoint_text(endpoint), TOPIC_ENDPOINT)
        await self.connect(reconnect=True)

    def _settle_owners(self) -> None:
        """The owners from vai.toml, else (and always in the local demo) the application's
        owner or team as Discord reported it at login; said once, at start-up."""
        owners, source = set(self.access.owners), "vai.toml"
        if not owners or self.local is not None:
            found, source = application_owners(self.application)
            owners |= found
        self.access.owners = frozenset(owners)
        if owners:
            log.info("owners from %s; access: %s", source, self.access.describe())
        else:
            log.error(
                "no owner (%s) and none in vai.toml: nobody may use the bridge but the allow"
                " lists; set `owners = [<your Discord user id>]` in [discord]",
                source,
            )

    async def report_fatal(self, text: str) -> None:
        """Tell the supervisor why the gateway cannot run, before exiting."""
        self.start_link()
        await self.link.send(GatewayProblem(text=text, fatal=True))

    async def on_connect(self) -> None:
        """Discord accepted the token and the intents (READY): now we are ready."""
        assert self.user is not None
        # A new Discord session: what was posted while we were away is not replayed. Its
        # live messages are held from here, before any await lets one of them run.
        catch_up_now = self.inbound.map_known
        if catch_up_now:
            self.inbound.new_session()
        else:
            self._catch_up_due = True
        self.access.self_id = self.user.id
        if not self.link.hello_sent:
            log.info("connected to Discord as %s (%d)", self.user, self.user.id)
            await self.link.hello(self.local.page_url if self.local else "")
        if catch_up_now:
            self._spawn(self.inbound.catch_up())

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("ready as %s (%d) in %d servers", self.user, self.user.id, len(self.guilds))
        self._spawn(self._after_ready())

    async def on_resumed(self) -> None:
        log.info("Discord session resumed; missed events are replayed by Discord")

    async def _after_ready(self) -> None:
        await self._map_ready.wait()
        await self.channel_check.run()
        self.threads.on_map()  # threads made while the gateway was away
        await self.slash.sync()

    # -- Discord events -------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        self.threads.on_message(message)
        await self.inbound.on_message(message)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.on_thread_create(thread)

    async def on_raw_thread_update(self, payload: discord.RawThreadUpdateEvent) -> None:
        self.threads.on_raw_thread_update(payload)

    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        self.threads.on_raw_thread_delete(payload)

    async def _post(self, channel_id: int, text: str) -> None:
        """A short note from the bridge itself (thread sessions)."""
        found = self.get_channel(channel_id)
        channel = (
            found
            if isinstance(found, discord.abc.Messageable)
            else self.get_partial_messageable(channel_id)
        )
        await channel.send(text, allowed_mentions=post_mentions())

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if not await self.slash.on_interaction(interaction):
            await self.choices.on_interaction(interaction)

    async def _send_inbound(self, session: int, chat: ChatMessage) -> None:
        await self.link.send_inbound(session, chat)

    async def _may_answer(self, user: discord.abc.User, session: int) -> bool:
        if user.bot:
            return False
        roles = tuple(role.id for role in getattr(user, "roles", ()))
        return self.access.user_allowed(user.id, roles, session)

    async def _report_channel(self, channel_id: int, text: str) -> None:
        await self.link.send(GatewayProblem(text=text, channel_id=channel_id))

    async def _report_general(self, text: str, topic: int = TOPIC_COMMANDS) -> None:
        log.error("%s", text)
        await self.link.send(GatewayProblem(text=text, channel_id=topic))

    def _on_invalid_level(self, level: str, count: int) -> None:
        text = (
            ""
            if level == "ok"
            else f"{count} invalid requests (401/403/429) to Discord in 10 minutes; Discord"
            " bans a bot at 10,000 for a while: see `vai tail gateway` for what fails"
        )
        self._spawn(self.link.send(GatewayProblem(text=text, channel_id=TOPIC_INVALID)))

    # -- supervisor -> Discord ------------------------------------------------------------------

    async def on_supervisor(self, message: SupervisorToGateway) -> None:
        match message:
            case SessionMap():
                self.router.update(message)
                self.access.update(message)
                for route in message.routes:
                    self.inbound.known_last[route.channel_id] = route.last_message_id
                if self.local is not None:
                    from vai.gateway.local_mode import ensure_channels

                    ensure_channels(self.local, message)
                first = not self._map_ready.is_set()
                self._map_ready.set()
                self.inbound.map_known = True
                if self._catch_up_due:
                    self._catch_up_due = False
                    self.inbound.new_session()
                    self._spawn(self.inbound.catch_up())
                if not first and self.is_ready():
                    self._spawn(self.channel_check.run())
            case InboundAck(message_id=message_id):
                self.inbound.acked(message_id)
            case PromptProgress():
                self.feedback.on_prompt_progress(message)
            case PostReply():
                if message.turn_id:
                    self.progress.on_turn_end(message.channel_id)
                self.replies.submit(message)
            case Typing(channel_id=channel_id, active=active):
                self.typing.set(channel_id, active)
            case ToolProgress():
                self.progress.on_tool(message)
            case ChoiceRequest():
                self.choices.offer(message)
            case ChoiceWithdrawn():
                self.choices.withdraw(message)
            case SettingsUpdate(settings=settings):
                self.apply_settings(settings)
            case Heartbeat():
                pass
            case _:
                assert_never(message)

    def apply_settings(self, settings: GatewaySettings) -> None:
        """vai.toml reloaded: the lists, the limits and the reactions apply from now on;
        the other settings when the gateway next starts."""
        self.access.reconfigure(settings)
        if self.application is not None:  # else at login
            self._settle_owners()
        self.limiter.reconfigure(rate_settings(settings))
        self.inbound.denied_reaction = settings.denied_reaction
        self.progress.enabled = settings.progress
        self.replies.usage_footer = settings.usage_footer
        self.choices.settings = settings  # who a choice pings, and its reminder
        log.info("settings reloaded: owners, allow lists, admins, rate limits, pings")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.background.spawn(coro)


def rate_settings(settings: GatewaySettings) -> RateSettings:
    return RateSettings(
        user_burst=settings.user_burst,
        user_per_minute=settings.user_per_minute,
        session_burst=settings.session_burst,
        session_per_minute=settings.session_per_minute,
        queue=settings.rate_limit_queue,
    )
