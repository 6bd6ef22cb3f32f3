"""Typical use of the API, written for `mypy --strict` (scripts/test.sh
type-checks this file against the installed package's stubs) and run by
test_typed_usage.py so that it stays true."""

from __future__ import annotations

import asyncio
from typing import Dict, List, Optional, Tuple

import rtmfp


def describe(event: rtmfp.Event) -> str:
    # `kind` is a Literal on each class: comparing it narrows the union.
    if event.kind == "message":
        return f"{len(event.data)} bytes on flow {event.flow.id}"
    if event.kind == "flow_rejected":
        return f"rejected with code {event.code}"
    if isinstance(event, rtmfp.SessionOpened):
        peer: Optional[str] = event.far_peer_id
        return f"session with {peer} at {event.far_address} as {event.role}"
    return event.kind


def blocking(a: rtmfp.Endpoint, b: rtmfp.Endpoint) -> Tuple[List[bytes], List[str]]:
    session: rtmfp.Session = a.connect_peer(b.peer_id, b.address, timeout=10.0)
    flow: rtmfp.Flow = session.open_flow(b"typed", priority=rtmfp.Priority.DATA)
    ids: List[int] = [
        flow.send(b"bytes"),
        flow.send(bytearray(b"bytearray"), deadline=5.0),
        flow.send(memoryview(b"memoryview"), retransmit=True),
    ]
    received: List[bytes] = []
    kinds: List[str] = []
    while len(received) < len(ids):
        event = b.next_event(timeout=10.0)
        if event is None:
            raise rtmfp.TimeoutError("nothing arrived")
        kinds.append(describe(event))
        if isinstance(event, rtmfp.FlowOpened):
            event.flow.accept(order="sequence")
        elif isinstance(event, rtmfp.Message):
            received.append(event.data)
    stats: Dict[str, object] = a.stats()
    assert stats["sessions"] == 1
    return received, kinds


async def with_asyncio(a: rtmfp.Endpoint, b: rtmfp.Endpoint) -> List[bytes]:
    session = await a.connect_peer_async(b.peer_id, [b.address], timeout=10.0)
    flow = session.open_flow(b"typed-async")
    flow.send(b"async")
    got: List[bytes] = []
    async for event in b.events_async():
        if isinstance(event, rtmfp.FlowOpened):
            event.flow.accept()
        elif isinstance(event, rtmfp.Message):
            got.append(event.data)
            break
    return got


def errors(ep: rtmfp.Endpoint) -> List[str]:
    caught: List[str] = []
    try:
        ep.connect("not a uri")
    except rtmfp.InvalidArgument as e:
        caught.append(type(e).__name__)
    try:
        ep.connect_peer("00" * 32, ("127.0.0.1", 9), timeout=0.1)
    except rtmfp.TimeoutError as e:
        caught.append(type(e).__name__)
    return caught


def main() -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as a, rtmfp.Endpoint("127.0.0.1:0") as b:
        received, _ = blocking(a, b)
        assert received == [b"bytes", b"bytearray", b"memoryview"]
        assert errors(a) == ["InvalidArgument", "TimeoutError"]
    with rtmfp.Endpoint("127.0.0.1:0") as a, rtmfp.Endpoint("127.0.0.1:0") as b:
        assert asyncio.run(with_asyncio(a, b)) == [b"async"]


if __name__ == "__main__":
    main()
