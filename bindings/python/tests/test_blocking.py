"""Two endpoints exchanging flows with the blocking API."""

from __future__ import annotations

import array
import os
import threading
import time
from typing import Any, Dict, List, Set, Tuple

import pytest

import rtmfp
from conftest import WAIT, wait_event, wait_kind

Connected = Tuple[rtmfp.Endpoint, rtmfp.Endpoint, rtmfp.Session, rtmfp.Session]


def test_endpoint_identity(pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint]) -> None:
    a, b = pair
    assert len(a.peer_id) == 64 and int(a.peer_id, 16) >= 0
    assert a.peer_id_bytes == bytes.fromhex(a.peer_id)
    assert a.peer_id != b.peer_id
    host, port = a.address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert a.addresses == [a.address]
    assert not a.closed
    assert isinstance(a.fileno(), int)
    assert a.peer_id[:16] in repr(a)


def test_session_opens_at_both_ends(pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint]) -> None:
    a, b = pair
    session = a.connect_peer(b.peer_id, b.address, timeout=WAIT)
    assert session.is_open
    assert session.role == "initiator"
    assert session.far_address == b.address
    assert session.far_peer_id == b.peer_id
    # The event connect() waited for stays in the stream.
    opened = wait_kind(a, "session_opened")
    assert isinstance(opened, rtmfp.SessionOpened)
    assert opened.session == session and hash(opened.session) == hash(session)
    assert opened.role == "initiator" and opened.far_peer_id == b.peer_id
    far = wait_kind(b, "session_opened")
    assert isinstance(far, rtmfp.SessionOpened)
    assert far.role == "responder"
    assert far.far_peer_id == a.peer_id
    assert far.far_address == a.address
    # RFC 7425 nonces: each end's near nonce is the other's far nonce.
    assert far.near_nonce == opened.far_nonce and far.far_nonce == opened.near_nonce
    stats = session.stats()
    assert stats is not None and {"srtt", "bytes_in", "cwnd"} <= stats.keys()


def test_messages_arrive_exactly_with_receipts(connected: Connected) -> None:
    a, b, sa, _ = connected
    flow = sa.open_flow(b"blocking-test", priority=rtmfp.Priority.DATA)
    assert flow.writable
    payloads = [
        b"",
        b"x",
        os.urandom(1000),
        os.urandom(5000),  # several fragments
        os.urandom(300_000),  # many packets
        bytes(range(256)) * 10,
    ]
    sent_ids = [flow.send(p) for p in payloads]
    assert sent_ids == sorted(set(sent_ids))

    received: List[bytes] = []
    while len(received) < len(payloads):
        event = wait_event(b, lambda e: e.kind in ("flow_opened", "message"))
        if isinstance(event, rtmfp.FlowOpened):
            assert event.metadata == b"blocking-test"
            assert event.association is None
            event.flow.accept()
        elif isinstance(event, rtmfp.Message):
            assert not event.gap_before
            received.append(event.data)
    assert received == payloads

    delivered: Set[int] = set()
    while delivered != set(sent_ids):
        event = wait_kind(a, "message_delivered")
        assert isinstance(event, rtmfp.MessageDelivered)
        assert event.flow == flow
        delivered.add(event.message)

    flow.close()
    assert isinstance(wait_kind(a, "flow_complete"), rtmfp.FlowComplete)
    finished = wait_kind(b, "flow_finished")
    assert isinstance(finished, rtmfp.FlowFinished)


def test_bytes_like_inputs_are_accepted(connected: Connected) -> None:
    a, b, sa, _ = connected
    flow = sa.open_flow(memoryview(b"__meta__")[2:-2])
    big = bytearray(os.urandom(70_000))
    inputs: List[Any] = [
        bytearray(b"bytearray"),
        memoryview(b"0123456789")[3:7],  # a slice: no copy to bytes first
        memoryview(big),
        array.array("I", [1, 2, 3]),  # any contiguous buffer exporter
    ]
    expected = [b"bytearray", b"3456", bytes(big), array.array("I", [1, 2, 3]).tobytes()]
    for data in inputs:
        flow.send(data)
    got: List[bytes] = []
    while len(got) < len(expected):
        event = wait_event(b, lambda e: e.kind in ("flow_opened", "message"))
        if isinstance(event, rtmfp.FlowOpened):
            assert event.metadata == b"meta"
            event.flow.accept(order="network")
        elif isinstance(event, rtmfp.Message):
            got.append(event.data)
    assert sorted(got) == sorted(expected)
    with pytest.raises(TypeError, match="bytes-like"):
        flow.send("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        flow.send(12)  # type: ignore[arg-type]


def test_reject_code_reaches_the_sender(connected: Connected) -> None:
    a, b, sa, _ = connected
    flow = sa.open_flow(b"unwanted")
    message = flow.send(b"please")
    opened = wait_kind(b, "flow_opened")
    assert isinstance(opened, rtmfp.FlowOpened)
    opened.flow.reject(42)
    seen: List[rtmfp.Event] = []
    rejected = wait_event(a, lambda e: e.kind == "flow_rejected", seen=seen)
    assert isinstance(rejected, rtmfp.FlowRejected)
    assert rejected.code == 42
    assert rejected.flow == flow
    # The rejected flow takes no more messages and completes.
    with pytest.raises(rtmfp.FlowError, match="closed"):
        flow.send(b"again")
    wait_event(a, lambda e: e.kind == "flow_complete", seen=seen)
    # The one message had reached the far end before the rejection: every
    # message has exactly one receipt.
    receipts = [e for e in seen if e.kind in ("message_delivered", "message_abandoned")]
    assert [r.message for r in receipts] == [message]


def test_return_flow_is_associated(connected: Connected) -> None:
    a, b, sa, _ = connected
    request = sa.open_flow(b"request")
    request.send(b"ping")
    opened = wait_kind(b, "flow_opened")
    assert isinstance(opened, rtmfp.FlowOpened)
    opened.flow.accept()
    reply = opened.session.open_flow(b"reply", association=opened.flow)
    reply.send(b"pong")
    back = wait_kind(a, "flow_opened")
    assert isinstance(back, rtmfp.FlowOpened)
    assert back.metadata == b"reply"
    assert back.association == request
    back.flow.accept()
    message = wait_kind(a, "message")
    assert isinstance(message, rtmfp.Message) and message.data == b"pong"


def test_flows_in_both_directions_and_many_at_once(connected: Connected) -> None:
    a, b, sa, sb = connected
    flows_a = [sa.open_flow(f"a{i}".encode()) for i in range(5)]
    flows_b = [sb.open_flow(f"b{i}".encode()) for i in range(5)]
    for i, f in enumerate(flows_a):
        f.send(f"from a on {i}".encode())
    for i, f in enumerate(flows_b):
        f.send(f"from b on {i}".encode())

    def collect(ep: rtmfp.Endpoint, n: int) -> Dict[bytes, bytes]:
        names: Dict[rtmfp.RecvFlow, bytes] = {}
        got: Dict[bytes, bytes] = {}
        while len(got) < n:
            e = wait_event(ep, lambda e: e.kind in ("flow_opened", "message"))
            if isinstance(e, rtmfp.FlowOpened):
                names[e.flow] = e.metadata
                e.flow.accept()
            elif isinstance(e, rtmfp.Message):
                got[names[e.flow]] = e.data
        return got

    assert collect(b, 5) == {f"a{i}".encode(): f"from a on {i}".encode() for i in range(5)}
    assert collect(a, 5) == {f"b{i}".encode(): f"from b on {i}".encode() for i in range(5)}


def test_would_block_then_writable(connected: Connected) -> None:
    a, b, sa, _ = connected
    flow = sa.open_flow(b"fill")
    chunk = bytes(64 * 1024)
    with pytest.raises(rtmfp.WouldBlock) as info:
        for _ in range(1000):  # the far end never accepts: the buffer fills
            flow.send(chunk)
    assert isinstance(info.value, BlockingIOError)
    assert isinstance(info.value, rtmfp.FlowError)
    # (Acknowledgements may already have made room: no check of
    # flow.writable here.  The event below comes either way.)
    opened = wait_kind(b, "flow_opened")
    assert isinstance(opened, rtmfp.FlowOpened)
    opened.flow.accept()
    writable = wait_event(a, lambda e: e.kind == "flow_writable", timeout=30)
    assert isinstance(writable, rtmfp.FlowWritable) and writable.flow == flow
    assert flow.writable
    flow.send(b"more")


def test_session_close_is_seen_by_both(connected: Connected) -> None:
    a, b, sa, sb = connected
    sa.close()
    closed = wait_kind(b, "session_closed")
    assert isinstance(closed, rtmfp.SessionClosed)
    assert closed.session == sb and closed.reason == "remote"
    local = wait_kind(a, "session_closed")
    assert isinstance(local, rtmfp.SessionClosed) and local.reason == "local"
    assert not sa.is_open
    with pytest.raises(rtmfp.SessionError):
        sa.open_flow()


def test_connect_by_uri_to_a_server() -> None:
    with rtmfp.Endpoint("127.0.0.1:0", server=True) as server, rtmfp.Endpoint(
        "127.0.0.1:0"
    ) as client:
        port = server.address.rsplit(":", 1)[1]
        session = client.connect(f"rtmfp://127.0.0.1:{port}/app", timeout=WAIT)
        assert session.is_open and session.far_peer_id == server.peer_id
        opened = wait_kind(server, "session_opened")
        assert isinstance(opened, rtmfp.SessionOpened)
        assert opened.far_peer_id == client.peer_id


def test_start_connect_then_wait_open(pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint]) -> None:
    a, b = pair
    session = a.start_connect_peer(b.peer_id_bytes, [("127.0.0.1", int(b.address.split(":")[1]))])
    assert isinstance(session, rtmfp.Session)
    assert session.wait_open(timeout=WAIT) == session
    # Already open: returns at once.
    assert session.wait_open(timeout=0) == session


def test_events_iterator_ends_when_closed_from_another_thread(
    pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint],
) -> None:
    a, b = pair
    seen: List[str] = []

    def read() -> None:
        for event in b.events():
            seen.append(event.kind)

    reader = threading.Thread(target=read)
    reader.start()
    a.connect_peer(b.peer_id, b.address, timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while "session_opened" not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "session_opened" in seen
    b.close()
    reader.join(5)
    assert not reader.is_alive()
    assert list(b.events()) == []


def test_glare_returns_the_surviving_session(pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint]) -> None:
    a, b = pair
    results: Dict[str, rtmfp.Session] = {}

    def connect(name: str, ep: rtmfp.Endpoint, other: rtmfp.Endpoint) -> None:
        results[name] = ep.connect_peer(other.peer_id, other.address, timeout=WAIT)

    threads = [
        threading.Thread(target=connect, args=("a", a, b)),
        threading.Thread(target=connect, args=("b", b, a)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT + 5)
    assert results["a"].is_open and results["b"].is_open
    assert results["a"].far_peer_id == b.peer_id
    assert results["b"].far_peer_id == a.peer_id
    flow = results["a"].open_flow(b"after glare")
    flow.send(b"ok")
    opened = wait_kind(b, "flow_opened")
    assert isinstance(opened, rtmfp.FlowOpened)
    assert opened.session == results["b"]
