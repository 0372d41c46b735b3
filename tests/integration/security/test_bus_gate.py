"""The bus's handshake with real libzmq sockets: only admitted keys get a frame through.

One admitted peer, and beside it every kind of forger: no CURVE at all, a key the gate
never issued, a key it revoked, the wrong server key. Each is refused at the handshake
with a log line (one per key, or per reason every so often: a reconnecting forger does
not flood the log), and the admitted peer's frames arrive with its name as User-Id.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from vai.common.bus import dealer_socket, router_socket
from vai.common.bus_auth import BusGate, ServerKeys, peer_name, watch_handshakes
from vai.protocol.layout import ipc_endpoint

pytestmark = pytest.mark.timeout(60)
log = logging.getLogger("test.bus")


async def until(check: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)


def test_only_admitted_keys_get_through_and_every_refusal_is_logged(
    short_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "test.bus")
    endpoint = ipc_endpoint(short_tmp / "bus.sock")

    def logged(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    async def scenario() -> None:
        context = zmq.asyncio.Context()
        gate = BusGate(context, log)
        gate.start()
        router = router_socket(context, endpoint, gate)
        watcher = asyncio.create_task(watch_handshakes(router, log, interval=60))
        revoked = gate.issue("session-2", "session-2/old")
        gate.revoke(revoked.public_key.encode())
        forgers = [
            dealer_socket(context, endpoint, gate.keys.client_keys("gateway")),  # never issued
            dealer_socket(context, endpoint, revoked),
            dealer_socket(context, endpoint, ServerKeys.new().client_keys("session-1")),
        ]
        plain = context.socket(zmq.DEALER)
        plain.setsockopt(zmq.IDENTITY, b"gateway")
        plain.setsockopt(zmq.RECONNECT_IVL, 20)
        plain.connect(endpoint)
        forgers.append(plain)
        try:
            for forger in forgers:
                await forger.send(b"forged")
            await until(lambda: logged("does not use CURVE") and logged("wrong server key"))
            await until(lambda: logged("unknown key") == 2)
            keys = gate.issue("session-1", "session-1/abc")
            good = dealer_socket(context, endpoint, keys)
            await good.send(b"real")
            identity, body = await asyncio.wait_for(router.recv_multipart(copy=False), 10)
            assert (identity.bytes, body.bytes) == (b"session-1/abc", b"real")
            assert peer_name(body) == "session-1"
            assert not await router.poll(0)  # nothing of the forgers' was queued
            # The plain forger retries every 20 ms: one line still (the throttle).
            assert logged("does not use CURVE") == 1 and logged("unknown key") == 2
            good.close(0)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
            for forger in forgers:
                forger.close(0)
            gate.stop()
            router.close(0)
            context.term()

    asyncio.run(scenario())
