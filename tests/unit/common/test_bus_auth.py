"""The gate's decisions and the log throttle, without a handshake (tests/integration/security
has the real ones)."""

from __future__ import annotations

import logging

import pytest
import zmq
import zmq.asyncio

from tests.support.clock import FakeClock
from vai.common.bus_auth import BusGate, ServerKeys, Throttle


def test_the_gate_admits_issued_keys_until_revoked_and_logs_a_refused_key_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    context = zmq.asyncio.Context()
    try:
        gate = BusGate(context, logging.getLogger("test.gate"))
        keys = gate.issue("session-1", "session-1/abc")
        assert keys.server_key == gate.keys.public.decode()
        assert keys.identity == "session-1/abc"
        public = keys.public_key.encode()
        assert gate.callback("vai-bus", public) and gate.name_of(public) == "session-1"
        stranger = ServerKeys.new().client_keys("x").public_key.encode()
        with caplog.at_level(logging.WARNING):
            assert not gate.callback("vai-bus", stranger)
            assert not gate.callback("vai-bus", stranger)
        assert len([r for r in caplog.records if "unknown key" in r.getMessage()]) == 1
        gate.revoke(public)
        assert not gate.callback("vai-bus", public) and gate.name_of(public) is None
    finally:
        context.term()


def test_the_throttle_says_how_many_lines_it_held_back() -> None:
    clock = FakeClock()
    throttle = Throttle(10.0, clock)
    assert throttle.allow("a") == 0
    assert throttle.allow("a") is None and throttle.allow("a") is None
    assert throttle.allow("b") == 0  # each topic on its own
    clock.advance(10)
    assert throttle.allow("a") == 2
    assert throttle.allow("a") is None
