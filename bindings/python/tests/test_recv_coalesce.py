"""Receive coalescing (``recv_coalesce``, core's option of that name):
an endpoint or server that naps while datagrams are dense still delivers
everything in order, the naps show in ``stats()["io"]``, and a negative
delay is refused in core's words."""

from __future__ import annotations

import os
from typing import Callable, List

import pytest

import rtmfp

from conftest import KEY, WAIT, wait_event, wait_kind


def exchange(a: rtmfp.Endpoint, b: rtmfp.Endpoint, count: int) -> List[bytes]:
    """Sends `count` messages from a to b; returns what b received."""
    sa = a.connect_peer(b.peer_id, b.address, timeout=WAIT)
    wait_kind(b, "session_opened")
    flow = sa.open_flow(b"coalesce", priority=rtmfp.Priority.DATA)
    payloads = [i.to_bytes(4, "big") + os.urandom(1000) for i in range(count)]
    for p in payloads:
        flow.send(p)
    received: List[bytes] = []
    while len(received) < count:
        event = wait_event(b, lambda e: e.kind in ("flow_opened", "message"))
        if isinstance(event, rtmfp.FlowOpened):
            event.flow.accept()
        elif isinstance(event, rtmfp.Message):
            received.append(event.data)
    assert received == payloads
    return received


def test_a_coalescing_pair_delivers_in_order_and_naps() -> None:
    with rtmfp.Endpoint("127.0.0.1:0", recv_coalesce=0.002) as a, rtmfp.Endpoint(
        "127.0.0.1:0", recv_coalesce=0.002
    ) as b:
        exchange(a, b, 300)
        # 300 KB over loopback is dense: the receiver read in batches.
        assert b.stats()["io"]["coalesced_wakeups"] > 0


def test_zero_never_naps() -> None:
    with rtmfp.Endpoint("127.0.0.1:0", recv_coalesce=0) as a, rtmfp.Endpoint(
        "127.0.0.1:0", recv_coalesce=0.0
    ) as b:
        exchange(a, b, 100)
        assert a.stats()["io"]["coalesced_wakeups"] == 0
        assert b.stats()["io"]["coalesced_wakeups"] == 0


def test_a_server_takes_it() -> None:
    for delay in (0.0, 0.005, 1.0):  # 1 s is taken as the most, 10 ms
        with rtmfp.Server("127.0.0.1:0", recv_coalesce=delay) as server:
            nc = rtmfp.NetConnection.connect(
                f"rtmfp://{server.address}/app/{KEY}", bind="127.0.0.1:0"
            )
            try:
                nc.register_name("coalesced")
                assert nc.lookup_name("coalesced") == nc.near_id
            finally:
                nc.close()


@pytest.mark.parametrize("make", [rtmfp.Endpoint, rtmfp.Server])
def test_a_negative_delay_is_refused(make: Callable[..., object]) -> None:
    with pytest.raises(ValueError) as info:
        make("127.0.0.1:0", recv_coalesce=-0.001)
    assert isinstance(info.value, rtmfp.InvalidArgument)
    assert str(info.value) == "recv_coalesce must be >= 0 seconds, got -0.001"
