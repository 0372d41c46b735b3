"""Who is on the bus: CURVE keys, checked at every handshake by ZAP (pyzmq's zmq.auth).

The listening side (the supervisor now; remote hosts over TCP later) holds a BusGate: its
own keypair and the client keys it admits, each under a peer name. libzmq asks the gate
at every handshake. A key it does not know is refused there (ZAP 400, logged once per
key), so not one frame of that peer is ever read; an admitted key's name becomes the
`User-Id` of every frame from that connection (`peer_name`), so the receiver checks who
really sent a frame instead of trusting the routing identity the peer chose. A peer
without CURVE, or with the wrong server key, fails the handshake; `watch_handshakes`
logs those, a few lines at most however often they retry.

A connecting side needs only its ClientKeys (`secure_client`), handed to it by whoever
admitted them (the supervisor: through a pipe at spawn, common.child_secrets).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import zmq
import zmq.asyncio
from zmq.auth.asyncio import AsyncioAuthenticator
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

DOMAIN = "vai-bus"
# Refused keys remembered (so each is logged once); past this, one line per interval.
MAX_REMEMBERED = 1024


class ClientKeys(msgspec.Struct, frozen=True, kw_only=True):
    """What one peer needs to join the bus: z85 keys and the routing identity to use."""

    server_key: str
    public_key: str
    secret_key: str
    identity: str


@dataclass(frozen=True)
class ServerKeys:
    public: bytes  # z85
    secret: bytes

    @classmethod
    def new(cls) -> ServerKeys:
        public, secret = zmq.curve_keypair()
        return cls(public, secret)

    def client_keys(self, identity: str) -> ClientKeys:
        """A fresh keypair for one client of this server."""
        public, secret = zmq.curve_keypair()
        return ClientKeys(
            server_key=self.public.decode(),
            public_key=public.decode(),
            secret_key=secret.decode(),
            identity=identity,
        )


def secure_server(socket: zmq.Socket[Any], keys: ServerKeys, *, zap: bool = True) -> None:
    """Make `socket` a CURVE server (before bind). With `zap`, a handshake needs the ZAP
    handler's yes, and fails if no handler runs (never silently open)."""
    socket.curve_server = True
    socket.curve_secretkey = keys.secret
    if zap:
        socket.zap_domain = DOMAIN.encode()
        socket.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)


def secure_client(socket: zmq.Socket[Any], keys: ClientKeys) -> None:
    """CURVE keys and routing identity for a connecting socket (before connect)."""
    socket.curve_serverkey = keys.server_key.encode()
    socket.curve_publickey = keys.public_key.encode()
    socket.curve_secretkey = keys.secret_key.encode()
    socket.setsockopt(zmq.IDENTITY, keys.identity.encode())


def peer_name(frame: zmq.Frame) -> str | None:
    """The name the gate admitted the sender's key under (None: not authenticated)."""
    try:
        value = frame.get("User-Id")
    except zmq.ZMQError:
        return None
    return value if isinstance(value, str) else None


def short_key(key: bytes | str) -> str:
    text = key.decode("ascii", "replace") if isinstance(key, bytes) else key
    return text[:8] + "…"


class Throttle:
    """At most one log line per topic per `interval` seconds; counts what it held back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: dict[object, float] = {}
        self._held: dict[object, int] = {}

    def allow(self, topic: object) -> int | None:
        """None: stay quiet; else log now, with this many lines held back since the last."""
        now = self.clock()
        last = self._last.get(topic)
        if last is not None and now - last < self.interval:
            self._held[topic] = self._held.get(topic, 0) + 1
            return None
        if len(self._last) >= MAX_REMEMBERED:
            self._last.clear()
        self._last[topic] = now
        return self._held.pop(topic, 0)


class _Authenticator(AsyncioAuthenticator):
    """pyzmq's ZAP handler, naming each admitted peer by its gate name (the User-Id)."""

    def __init__(self, context: zmq.asyncio.Context, gate: BusGate) -> None:
        super().__init__(context, log=logging.getLogger("zmq.auth"))
        self._gate = gate

    def curve_user_id(self, client_public_key: bytes) -> str:
        return self._gate.name_of(z85.encode(client_public_key)) or "?"


class BusGate:
    """The server side: this end's keys, and the client keys admitted, each with a name."""

    def __init__(
        self,
        context: zmq.asyncio.Context,
        log: logging.Logger,
        keys: ServerKeys | None = None,
    ) -> None:
        self.keys = keys or ServerKeys.new()
        self.log = log
        self._names: dict[bytes, str] = {}  # z85 public key -> peer name
        self._refused: set[bytes] = set()
        self._refusals = Throttle(60.0)
        self._auth = _Authenticator(context, self)

    def start(self) -> None:
        """Answer ZAP requests (in the running event loop) from now on."""
        self._auth.start()
        self._auth.configure_curve_callback(DOMAIN, self)

    def stop(self) -> None:
        self._auth.stop()

    def secure(self, socket: zmq.Socket[Any]) -> None:
        secure_server(socket, self.keys)

    # -- who is admitted --------------------------------------------------------------------

    def admit(self, public_key: bytes, name: str) -> None:
        self._names[public_key] = name

    def revoke(self, public_key: bytes) -> None:
        """Handshakes with this key fail from now on (a live connection stays up)."""
        self._names.pop(public_key, None)

    def issue(self, name: str, identity: str) -> ClientKeys:
        """New keys for a peer about to start, admitted under `name`."""
        keys = self.keys.client_keys(identity)
        self.admit(keys.public_key.encode(), name)
        return keys

    def name_of(self, public_key: bytes) -> str | None:
        return self._names.get(public_key)

    def callback(self, domain: str, key: bytes) -> bool:
        """ZAP's question for each CURVE handshake: is this (z85) key admitted?"""
        if key in self._names:
            return True
        if key in self._refused:
            return False
        if len(self._refused) < MAX_REMEMBERED:
            self._refused.add(key)
            self.log.warning(
                "bus: refused a peer with an unknown key %s (not a process this"
                " supervisor started)",
                short_key(key),
            )
        elif (held := self._refusals.allow("many")) is not None:
            self.log.warning("bus: refused more unknown keys (%d not logged)", held)
        return False


HANDSHAKE_FAILURES = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL

_PROTOCOL_ERRORS: dict[int, str] = {
    int(zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH): "it does not use CURVE",
    int(zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC): "a wrong server key or a corrupt handshake",
}


async def watch_handshakes(
    socket: zmq.asyncio.Socket, log: logging.Logger, interval: float = 10.0
) -> None:
    """Log peers that fail the handshake (no CURVE, wrong server key): a reconnecting peer
    retries every few milliseconds, so at most one line per reason per `interval`.
    Refused keys are logged by the gate itself."""
    monitor = socket.get_monitor_socket(HANDSHAKE_FAILURES)
    throttle = Throttle(interval)
    try:
        while True:
            try:
                event = parse_monitor_message(await monitor.recv_multipart())
            except zmq.ZMQError:  # the socket is closing
                return
            value = int(event["value"])
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                reason = _PROTOCOL_ERRORS.get(value, f"protocol error {value:#x}")
            else:  # the connection broke off mid-handshake: `value` is an errno (a peer
                # without CURVE often hangs up on seeing the server's mechanism first)
                reason = f"it broke off the handshake ({os.strerror(value)}; no CURVE?)"
            held = throttle.allow(reason)
            if held is not None:
                more = f" ({held} more since the last line)" if held else ""
                log.warning("bus: a peer failed the handshake: %s%s", reason, more)
    finally:
        with contextlib.suppress(zmq.ZMQError):
            socket.disable_monitor()
        monitor.close(linger=0)
