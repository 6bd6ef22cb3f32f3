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
        # Nothing listens on port 9: its ICMP port unreachable ends this at
        # once (rtmfp.TimeoutError if nothing at all answered).
        ep.connect_peer("00" * 32, ("127.0.0.1", 9), timeout=5.0)
    except rtmfp.SessionError as e:
        caught.append(type(e).__name__)
    return caught


# ------------------------------------------------------------ Flash layer --


def describe_net(event: rtmfp.NetEvent) -> str:
    if event.kind == "status":
        where = "connection" if event.stream is None else f"stream {event.stream.id}"
        return f"{where}: {event.code} ({event.level})"
    if event.kind == "media":
        return f"{len(event.payload)} bytes of type {event.message_type} at {event.timestamp}"
    if isinstance(event, rtmfp.PeerConnect):
        return f"{event.peer_id} asked for {event.name}: {event.accepted}"
    return event.kind


def describe_server(event: rtmfp.ServerEvent) -> str:
    if event.kind == "connected":
        key: Optional[str] = event.key
        return f"{event.peer_id} connected to {event.app} with {key}"
    if isinstance(event, rtmfp.PeerIntroduced):
        return f"{event.initiator} introduced to {event.peer_id[:16]}"
    return event.kind


def flash(server: rtmfp.Server) -> Tuple[int, List[str]]:
    uri = f"rtmfp://{server.address}/typed/KEY"
    publisher: rtmfp.NetConnection = rtmfp.NetConnection.connect(uri, bind="127.0.0.1:0")
    player = rtmfp.NetConnection(bind="127.0.0.1:0", max_peer_connections=4)
    player = player.connect(uri, timeout=10.0)
    with publisher, player:
        near: str = publisher.near_id
        far: Optional[str] = publisher.far_id
        assert far == server.peer_id and publisher.near_nonce is not None
        publisher.register_name("typed")
        assert player.lookup_name("typed") == near

        cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)

        def on_peer_connect(peer_id: str, name: str) -> bool:
            return name == "typed-cam"

        cam.on_peer_connect = on_peer_connect
        cam.max_peer_connections = 2
        cam.publish("typed-cam")
        play = rtmfp.NetStream(player, near)
        play.play("typed-cam")
        log: List[str] = []
        started = False
        while not started:
            # The publisher's reads run on_peer_connect.
            for e in publisher.drain_events():
                log.append(describe_net(e))
            ev = player.next_event(timeout=0.05)
            if ev is not None:
                log.append(describe_net(ev))
                started = ev.kind == "status" and ev.code == "NetStream.Play.Start"
        n: int = cam.send_video(0, bytearray(b"\x17\x01frame"))
        n += cam.send_data("hello", {"from": "typed"}, timestamp=1)
        peers: List[str] = cam.peer_streams
        assert peers == [player.near_id]
        sessions: List[rtmfp.ServerSession] = server.sessions()
        assert len(sessions) == 2
        for s in server.drain_events():
            log.append(describe_server(s))
        return n, log


async def flash_async(server: rtmfp.Server) -> str:
    uri = f"rtmfp://{server.address}/typed/KEY"
    nc = await rtmfp.NetConnection.connect_async(uri, bind="127.0.0.1:0", timeout=10.0)
    async with nc:
        await nc.register_name_async("typed-async")
        peer: str = await nc.lookup_name_async("typed-async")
        async for event in nc.events_async():
            if isinstance(event, rtmfp.NetStatus):
                break
    return peer


def flash_errors(server: rtmfp.Server) -> List[str]:
    caught: List[str] = []
    try:
        rtmfp.NetConnection.connect(f"rtmfp://{server.address}/typed/WRONG", bind="127.0.0.1:0")
    except rtmfp.ConnectError as e:
        caught.append(e.code)
    return caught


def main() -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as a, rtmfp.Endpoint("127.0.0.1:0") as b:
        received, _ = blocking(a, b)
        assert received == [b"bytes", b"bytearray", b"memoryview"]
        assert errors(a) == ["InvalidArgument", "SessionError"]
    with rtmfp.Endpoint("127.0.0.1:0", recv_coalesce=0.001) as a, rtmfp.Endpoint(
        "127.0.0.1:0"
    ) as b:
        assert asyncio.run(with_asyncio(a, b)) == [b"async"]
    with rtmfp.Server("127.0.0.1:0", keys=["KEY"], recv_coalesce=0.0) as server:
        sent, log = flash(server)
        assert sent == 2 and any("Play.Start" in line for line in log)
        assert len(asyncio.run(flash_async(server))) == 64
        assert flash_errors(server) == ["NetConnection.Connect.Rejected"]


if __name__ == "__main__":
    main()
