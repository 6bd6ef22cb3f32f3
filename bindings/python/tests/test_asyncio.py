"""Two endpoints exchanging flows with the asyncio API: the loop waits on
the runtime's event fd (loop.add_reader), without polling or threads."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from typing import Any, Coroutine, Dict, List, Set

import pytest

import rtmfp

WAIT = 10.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))


def test_async_exchange_with_receipts() -> None:
    async def main() -> None:
        async with rtmfp.Endpoint("127.0.0.1:0") as a, rtmfp.Endpoint("127.0.0.1:0") as b:
            session = await a.connect_peer_async(b.peer_id, b.address, timeout=WAIT)
            assert session.is_open and session.far_peer_id == b.peer_id
            flow = session.open_flow(b"async", priority=rtmfp.Priority.IMMEDIATE)
            payloads = [b"", b"one", os.urandom(3000), os.urandom(200_000)]
            ids = [flow.send(p) for p in payloads]

            async def receive() -> List[bytes]:
                got: List[bytes] = []
                async for event in b.events_async():
                    if isinstance(event, rtmfp.FlowOpened):
                        assert event.metadata == b"async"
                        event.flow.accept()
                    elif isinstance(event, rtmfp.Message):
                        got.append(event.data)
                        if len(got) == len(payloads):
                            return got
                raise AssertionError("event stream ended")

            async def receipts() -> Set[int]:
                delivered: Set[int] = set()
                while delivered != set(ids):
                    event = await a.next_event_async(timeout=WAIT)
                    assert event is not None, "no receipt"
                    assert event.kind != "message_abandoned"
                    if isinstance(event, rtmfp.MessageDelivered):
                        delivered.add(event.message)
                return delivered

            got, delivered = await asyncio.gather(receive(), receipts())
            assert got == payloads
            assert delivered == set(ids)

    run(main())


def test_async_connect_by_uri_and_reject() -> None:
    async def main() -> None:
        async with rtmfp.Endpoint("127.0.0.1:0", server=True) as server:
            async with rtmfp.Endpoint("127.0.0.1:0") as client:
                uri = f"rtmfp://{server.address}/app"
                session = await client.connect_async(uri, timeout=WAIT)
                flow = session.open_flow(b"not welcome")
                flow.send(b"knock")
                async for event in server.events_async():
                    if isinstance(event, rtmfp.FlowOpened):
                        event.flow.reject(7)
                        break
                while True:
                    e = await client.next_event_async(timeout=WAIT)
                    assert e is not None, "no FlowRejected"
                    if isinstance(e, rtmfp.FlowRejected):
                        assert e.code == 7 and e.flow == flow
                        break

    run(main())


def test_async_timeout_for_a_silent_peer() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))  # takes datagrams, never answers
        silent = "%s:%d" % sock.getsockname()
        _async_timeout_for(silent)


def _async_timeout_for(silent: str) -> None:
    async def main() -> None:
        async with rtmfp.Endpoint("127.0.0.1:0") as a:
            start = time.monotonic()
            with pytest.raises(rtmfp.TimeoutError):
                await a.connect_peer_async("ab" * 32, silent, timeout=0.3)
            assert time.monotonic() - start < 3
            # The abandoned opening shows in the stream.
            e = await a.next_event_async(timeout=WAIT)
            assert isinstance(e, rtmfp.SessionOpenFailed) and e.reason == "cancelled"

    run(main())


def test_async_waits_do_not_poll_or_add_threads() -> None:
    async def main() -> None:
        async with rtmfp.Endpoint("127.0.0.1:0") as a, rtmfp.Endpoint("127.0.0.1:0") as b:
            await a.connect_peer_async(b.peer_id, b.address, timeout=WAIT)
            threads = threading.active_count()
            tasks = len(os.listdir("/proc/self/task"))
            cpu = time.process_time()
            # Nothing happens for 0.5 s: an idle wait on the event fd.
            while (await b.next_event_async(timeout=0.05)) is not None:
                pass
            assert await b.next_event_async(timeout=0.5) is None
            assert time.process_time() - cpu < 0.25, "the idle wait burned CPU"
            assert threading.active_count() == threads
            assert len(os.listdir("/proc/self/task")) == tasks

    run(main())


def test_async_iteration_ends_on_close() -> None:
    async def main() -> None:
        ep = rtmfp.Endpoint("127.0.0.1:0")
        seen: List[str] = []

        async def reader() -> None:
            async for event in ep.events_async():
                seen.append(event.kind)

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0.05)
        await ep.close_async()
        await asyncio.wait_for(task, 5)
        with pytest.raises(rtmfp.ClosedError):
            await ep.next_event_async(timeout=1)
        with pytest.raises(rtmfp.ClosedError):
            await ep.connect_async("rtmfp://127.0.0.1:1/")

    run(main())


def test_blocking_and_async_endpoints_talk() -> None:
    """A blocking peer in a thread and an asyncio peer."""
    blocking = rtmfp.Endpoint("127.0.0.1:0")
    done = threading.Event()
    echoed: Dict[str, int] = {"n": 0}

    def echo() -> None:
        flows: Dict[rtmfp.RecvFlow, rtmfp.Flow] = {}
        for event in blocking.events():
            if isinstance(event, rtmfp.FlowOpened):
                event.flow.accept()
                flows[event.flow] = event.session.open_flow(b"echo", association=event.flow)
            elif isinstance(event, rtmfp.Message):
                flows[event.flow].send(event.data)
                echoed["n"] += 1
        done.set()

    thread = threading.Thread(target=echo)
    thread.start()
    try:

        async def main() -> None:
            async with rtmfp.Endpoint("127.0.0.1:0") as ep:
                s = await ep.connect_peer_async(blocking.peer_id, blocking.address)
                out = s.open_flow(b"to echo")
                messages = [os.urandom(n) for n in (10, 2000, 40_000)]
                for m in messages:
                    out.send(m)
                back: List[bytes] = []
                async for e in ep.events_async():
                    if isinstance(e, rtmfp.FlowOpened):
                        assert e.association == out
                        e.flow.accept()
                    elif isinstance(e, rtmfp.Message):
                        back.append(e.data)
                        if len(back) == len(messages):
                            break
                assert back == messages

        run(main())
    finally:
        blocking.close()
        thread.join(5)
    assert done.is_set() and echoed["n"] == 3
