"""The Flash layer and the rendezvous server with asyncio: the loop waits
on the layer's event fd (loop.add_reader); callbacks run in the reader."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any, Coroutine, List, Optional

import pytest

import rtmfp
from conftest import KEY, WAIT

LOOP = "127.0.0.1:0"


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


def server_uri(server: rtmfp.Server, key: str = KEY) -> str:
    return f"rtmfp://{server.address}/app/{key}"


async def status(nc: rtmfp.NetConnection, code: str, stream: Optional[rtmfp.NetStream]) -> None:
    while True:
        e = await nc.next_event_async(timeout=WAIT)
        assert e is not None, f"no {code}"
        if isinstance(e, rtmfp.NetStatus) and e.code == code and e.stream == stream:
            return


def test_async_connect_and_play() -> None:
    async def main() -> None:
        async with rtmfp.Server(LOOP, keys=[KEY]) as server:
            uri = server_uri(server)
            publisher = await rtmfp.NetConnection.connect_async(uri, bind=LOOP, timeout=WAIT)
            player = rtmfp.NetConnection(bind=LOOP)
            assert await player.connect_async(uri, timeout=WAIT) is player
            async with publisher, player:
                assert publisher.connected and publisher.far_id == server.peer_id
                await publisher.register_name_async("cam-owner")
                peer = await player.lookup_name_async("cam-owner")
                assert peer == publisher.near_id
                with pytest.raises(rtmfp.CallError):
                    await player.lookup_name_async("nobody")

                cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
                cam.publish("cam")
                await status(publisher, "NetStream.Publish.Start", cam)
                play = rtmfp.NetStream(player, peer)
                play.play("cam")
                await status(player, "NetStream.Play.Start", play)

                frames = [bytes([0x17, 1]) + os.urandom(100 * i) for i in range(1, 40)]
                for i, f in enumerate(frames):
                    assert cam.send_video(i * 40, f) == 1
                got: List[bytes] = []
                async for e in player.events_async():
                    if isinstance(e, rtmfp.Media):
                        assert e.stream == play and e.message_type == rtmfp.MessageType.VIDEO
                        got.append(e.payload)
                        if len(got) == len(frames):
                            break
                assert got == frames
                assert await publisher.call_async("lookupName", "cam-owner") == peer
            assert publisher.closed and player.closed
            # The last events are still read ("NetConnection.Connect.Closed":
            # how the close went), then the stream has ended.
            left = [e async for e in player.events_async()]
            codes = [e.code for e in left if isinstance(e, rtmfp.NetStatus) and e.stream is None]
            assert codes[-1:] == ["NetConnection.Connect.Closed"], codes
            with pytest.raises(rtmfp.ClosedError):
                await player.next_event_async(timeout=1)

    run(main())


def test_async_bad_key_is_rejected() -> None:
    async def main() -> None:
        async with rtmfp.Server(LOOP, keys=[KEY]) as server:
            with pytest.raises(rtmfp.ConnectError) as info:
                await rtmfp.NetConnection.connect_async(
                    server_uri(server, key="BAD"), bind=LOOP, timeout=WAIT
                )
            assert info.value.code == "NetConnection.Connect.Rejected"
            e = await server.next_event_async(timeout=WAIT)
            assert isinstance(e, rtmfp.ClientRejected)

    run(main())


def test_async_on_peer_connect_runs_in_the_reader_and_reports_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        async with rtmfp.Server(LOOP, keys=[KEY]) as server:
            uri = server_uri(server)
            publisher = await rtmfp.NetConnection.connect_async(uri, bind=LOOP)
            first = await rtmfp.NetConnection.connect_async(uri, bind=LOOP)
            second = await rtmfp.NetConnection.connect_async(uri, bind=LOOP)
            async with publisher, first, second:
                cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
                loop_thread = threading.current_thread()
                ran_on: List[threading.Thread] = []

                def on_peer_connect(peer_id: str, name: str) -> bool:
                    ran_on.append(threading.current_thread())
                    if peer_id == first.near_id:
                        raise KeyError("unlucky")
                    return True

                cam.on_peer_connect = on_peer_connect
                cam.publish("cam")
                errors: List[BaseException] = []
                accepted: List[Optional[str]] = []

                async def publisher_reader() -> None:
                    while True:
                        try:
                            async for e in publisher.events_async():
                                if isinstance(e, rtmfp.PeerConnect) and e.accepted:
                                    accepted.append(e.peer_id)
                            return
                        except rtmfp.CallbackError as e:
                            errors.append(e)

                reader = asyncio.ensure_future(publisher_reader())
                a = rtmfp.NetStream(first, publisher.near_id)
                a.play("cam")
                await status(first, "NetStream.Connect.Rejected", a)
                b = rtmfp.NetStream(second, publisher.near_id)
                b.play("cam")
                await status(second, "NetStream.Play.Start", b)
                assert ran_on == [loop_thread, loop_thread]
                assert len(errors) == 1 and isinstance(errors[0].__cause__, KeyError)
                assert accepted == [second.near_id]
                assert cam.peer_streams == [second.near_id]
                await publisher.close_async()
                await asyncio.wait_for(reader, WAIT)
        assert any("unlucky" in r.getMessage() for r in caplog.records if r.name == "rtmfp")

    with caplog.at_level(logging.ERROR, logger="rtmfp"):
        run(main())


def test_async_server_events_and_idle_waits_do_not_poll() -> None:
    async def main() -> None:
        async with rtmfp.Server(LOOP) as server:  # any key
            nc = await rtmfp.NetConnection.connect_async(
                f"rtmfp://{server.address}/open", bind=LOOP
            )
            async with nc:
                e = await server.next_event_async(timeout=WAIT)
                assert isinstance(e, rtmfp.ClientConnected) and e.peer_id == nc.near_id
                assert e.key == "open" and e.accepted
                while await nc.next_event_async(timeout=0.05) is not None:
                    pass
                while await server.next_event_async(timeout=0.05) is not None:
                    pass
                tasks = len(os.listdir("/proc/self/task"))
                cpu = time.process_time()
                assert await nc.next_event_async(timeout=0.3) is None
                assert await server.next_event_async(timeout=0.3) is None
                assert time.process_time() - cpu < 0.2, "the idle wait burned CPU"
                assert len(os.listdir("/proc/self/task")) == tasks
            async for e in server.events_async():
                if isinstance(e, rtmfp.ClientDisconnected):
                    assert e.peer_id == nc.near_id
                    break

    run(main())


def test_an_async_server_hook_decides_on_the_loop() -> None:
    async def main() -> None:
        async def on_connect(peer_id: Optional[str], app: str, key: Optional[str]) -> object:
            await asyncio.sleep(0.05)  # a database, say
            return "private apps are closed" if app.startswith("private") else True

        async with rtmfp.Server(LOOP, on_connect=on_connect) as server:
            events: List[object] = []

            async def read() -> None:
                async for e in server.events_async():
                    events.append(e)

            reader = asyncio.ensure_future(read())
            nc = await rtmfp.NetConnection.connect_async(f"rtmfp://{server.address}/open", bind=LOOP)
            async with nc:
                assert nc.connected
            with pytest.raises(rtmfp.ConnectError) as info:
                await rtmfp.NetConnection.connect_async(
                    f"rtmfp://{server.address}/private", bind=LOOP
                )
            assert "private apps are closed" in str(info.value)
            asks = [e for e in events if isinstance(e, rtmfp.ServerAsk)]
            assert [(a.what, a.pending) for a in asks] == [("connect", True), ("connect", True)]
            reader.cancel()

    run(main())


def test_an_async_server_hook_without_a_loop_refuses() -> None:
    async def on_connect(peer_id: Optional[str], app: str, key: Optional[str]) -> bool:
        return True

    with rtmfp.Server(LOOP, on_connect=on_connect) as server:
        nc = rtmfp.NetConnection(f"rtmfp://{server.address}/open", bind=LOOP)
        deadline = time.monotonic() + WAIT
        with pytest.raises(rtmfp.CallbackError) as info:
            while time.monotonic() < deadline:
                server.next_event(0.1)
        assert isinstance(info.value.__cause__, TypeError)
        e = server.next_event(WAIT)
        assert isinstance(e, rtmfp.ServerAsk) and not e.accepted and not e.pending
        nc.close()
