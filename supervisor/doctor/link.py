"""`vai doctor` on a bridge that spans hosts (issue 15): the keys, and the link itself.

On a host agent: its keypair (host.key, 0600), the hub's public key, and (online) a CURVE
handshake with the hub, which succeeds only if the hub has this host's key registered;
no frame is sent, so a running host agent is not disturbed. On a hub: its keypair, the
registered hosts' keys, and that every session's host is registered.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import zmq
from zmq.utils.monitor import parse_monitor_message

from vai.common.bus_auth import ClientKeys, secure_client
from vai.common.errors import ConfigError
from vai.protocol.session_settings import LOCAL_HOST
from vai.supervisor.config import Config
from vai.supervisor.doctor.findings import Finding, fail, ok
from vai.supervisor.hub.keys import read_keypair, valid_key
from vai.supervisor.hub.placement import placed_hosts
from vai.supervisor.sessions_file import load_entries

HANDSHAKE_TIMEOUT = 5.0


def check_link(config: Config, online: bool) -> Iterator[Finding]:
    if config.file.host.name:
        yield from _host(config, online)
    if config.file.hub.listen:
        yield from _hub(config)


def _host(config: Config, online: bool) -> Iterator[Finding]:
    section = config.file.host
    try:
        keys = read_keypair(config.layout.host_key)
    except ConfigError as exc:
        yield fail(str(exc), f"run `vai init --host {section.name}` on this machine")
        return
    yield ok(f"host {section.name}: keypair in {config.layout.host_key}")
    if not valid_key(section.hub_public_key):
        yield fail(
            "[host] hub_public_key is not a CURVE public key",
            "copy it from the hub's log (`hub: public key ...`) into vai.toml",
        )
        return
    if not section.hub.startswith("tcp://"):
        yield fail(f"[host] hub = {section.hub!r}", 'set it like "tcp://hub.example:7310"')
        return
    if not online:
        return
    client = ClientKeys(
        server_key=section.hub_public_key,
        public_key=keys.public.decode(),
        secret_key=keys.secret.decode(),
        identity=f"doctor:{section.name}",
    )
    result = handshake(section.hub, client)
    if result == "ok":
        yield ok(f"the hub at {section.hub} admits this host (CURVE handshake)")
    else:
        yield fail(
            f"no link to the hub at {section.hub}: {result}",
            f"on the hub, [hub.hosts.{section.name}] public_key = {keys.public.decode()!r};"
            " check the address, the port and any firewall between",
        )


def handshake(endpoint: str, keys: ClientKeys, timeout: float = HANDSHAKE_TIMEOUT) -> str:
    """'ok', or why the CURVE handshake with `endpoint` did not succeed."""
    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    events = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    events |= zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    monitor = socket.get_monitor_socket(events)
    try:
        secure_client(socket, keys)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(endpoint)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not monitor.poll(int(left * 1000) + 1):
                break
            event = parse_monitor_message(monitor.recv_multipart())["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                return "ok"
            if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                return "the hub refused this host's key (not registered in [hub.hosts])"
            if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                return "the handshake failed (a wrong hub_public_key?)"
        return f"no handshake within {timeout:.0f}s (hub down or unreachable?)"
    finally:
        with contextlib.suppress(zmq.ZMQError):
            socket.disable_monitor()
        monitor.close(linger=0)
        socket.close(linger=0)
        context.term()


def _hub(config: Config) -> Iterator[Finding]:
    hub_key = config.layout.hub_key
    if hub_key.exists():
        try:
            public = read_keypair(hub_key).public.decode()
            yield ok(f"hub: keypair in {hub_key}; hosts set hub_public_key = {public!r}")
        except ConfigError as exc:
            yield fail(str(exc), f"remove {hub_key} to have a new one made (then tell the hosts)")
    bad = [n for n, h in config.file.hub.hosts.items() if not valid_key(h.public_key)]
    for name in bad:
        yield fail(
            f"[hub.hosts.{name}] public_key is not a CURVE public key",
            f"use the key `vai init --host {name}` printed on that host",
        )
    try:
        entries = load_entries(config.layout.sessions_file, config.encryption_key)
    except ConfigError:
        entries = {}  # the config check reports the file
    placed = placed_hosts(entries, config.file.hub.name)
    unknown = sorted(set(placed.values()) - set(config.file.hub.hosts))
    if LOCAL_HOST in config.file.hub.hosts and config.file.hub.name != LOCAL_HOST:
        bad.append(LOCAL_HOST)
        yield fail(
            f"[hub.hosts.{LOCAL_HOST}]: {LOCAL_HOST!r} is what sessions.json calls the hub's"
            " own machine, so no session can be placed on that host",
            "register the host under another name (`vai init --host NAME` on it)",
        )
    for host in unknown:
        yield fail(
            f"sessions are placed on host {host!r}, which is not in [hub.hosts]",
            f"register it ([hub.hosts.{host}] public_key = ...) or `vai move` its sessions",
        )
    if not bad and not unknown:
        yield ok(
            f"hub: listens on {config.file.hub.listen} for {len(config.file.hub.hosts)} host(s)"
        )
