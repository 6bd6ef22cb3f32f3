"""``rtmfp.check``: whether UDP reaches a server, at what address it sees
us, what the NAT does; through a TURN relay, whether the relay works.  The
words are the core's (``rtmfp check`` prints the same)."""

from __future__ import annotations

import os
import time

import pytest

import rtmfp
from conftest import uri


def test_a_server_on_loopback_is_reached_with_no_nat(server: rtmfp.Server) -> None:
    report = rtmfp.check(uri(server), bind="127.0.0.1:0")
    assert report.reached and report.error is None
    assert report.server == server.address
    assert report.rtt is not None and report.rtt >= 0
    assert report.public_address is not None and report.public_address.startswith("127.0.0.1:")
    assert report.mapping is None, "no check service: not measured"
    keys = [k for k, _ in report.lines]
    assert keys[:3] == ["server", "udp", "public"] and keys[-1] == "verdict"
    assert str(report).startswith("server      ") and "no NAT" in str(report)


def test_a_closed_port_is_not_reached_quickly() -> None:
    started = time.monotonic()
    report = rtmfp.check("rtmfp://127.0.0.1:9", bind="127.0.0.1:0", timeout=5.0)
    assert not report.reached
    assert report.error is not None and "unreachable" in report.error
    assert report.verdict == "UDP does not reach the server"
    assert time.monotonic() - started < 5.0, "the ICMP error ends it"


@pytest.mark.skipif(not os.environ.get("RTMFP_TURN_URI"), reason="RTMFP_TURN_URI is not set")
def test_a_turn_proxy_with_a_wrong_password_is_named(server: rtmfp.Server) -> None:
    turn = os.environ["RTMFP_TURN_URI"]
    user_pass, host = turn[len("turn://") :].rsplit("@", 1)
    bad = f"turn://{user_pass.split(':')[0]}:nope@{host}"
    report = rtmfp.check(uri(server), bind="127.0.0.1:0", turn=bad)
    assert not report.reached
    assert dict(report.lines)["turn"].startswith("the TURN proxy does not work")
    good = rtmfp.check(uri(server), bind="127.0.0.1:0", turn=turn)
    assert good.reached


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        rtmfp.check("http://127.0.0.1")
    with pytest.raises(ValueError):
        rtmfp.check("rtmfp://127.0.0.1", stun="nope")
