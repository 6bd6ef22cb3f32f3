"""Events after close(): the last events of a closed object are still read,
in order, then the stream ends (core's ``AfterClose::Drain``, as in C and
Node).  A closed object's ``SessionClosed`` or
"NetConnection.Connect.Closed" is how the application learns how the
close went."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator, List, Tuple

import pytest

import rtmfp
from conftest import WAIT, uri, wait_kind


def kinds(events: List[Any]) -> List[str]:
    return [e.kind for e in events]


def local_close(events: List[Any]) -> rtmfp.SessionClosed:
    closed = [e for e in events if isinstance(e, rtmfp.SessionClosed)]
    assert closed, f"no session_closed among {kinds(events)}"
    return closed[-1]


def connect_status(events: List[Any]) -> List[str]:
    return [e.code for e in events if isinstance(e, rtmfp.NetStatus) and e.stream is None]


@pytest.fixture
def session_pair() -> Iterator[Tuple[rtmfp.Endpoint, rtmfp.Endpoint]]:
    """Two endpoints with a session between them, every event read."""
    with rtmfp.Endpoint("127.0.0.1:0") as a, rtmfp.Endpoint("127.0.0.1:0") as b:
        a.connect_peer(b.peer_id, b.address, timeout=WAIT)
        wait_kind(b, "session_opened")
        a.drain_events()
        yield a, b


def test_endpoint_iteration_reads_session_closed_after_close(
    session_pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint],
) -> None:
    a, _ = session_pair
    assert a.close() is True
    assert a.closed
    events = list(a.events())  # ends by itself: nothing waits for ever
    closed = local_close(events)
    assert closed.reason == "local"
    assert list(a.events()) == []
    with pytest.raises(rtmfp.ClosedError):
        a.next_event(0)


def test_endpoint_next_event_and_drain_after_close(
    session_pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint],
) -> None:
    a, _ = session_pair
    a.close()
    first = a.next_event(timeout=None)  # does not wait: what is left
    assert first is not None
    rest = a.drain_events()
    local_close([first, *rest])
    assert a.drain_events() == []
    with pytest.raises(rtmfp.ClosedError):
        a.next_event(timeout=None)


def test_a_reader_thread_sees_the_close_it_did_not_do(
    session_pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint],
) -> None:
    a, _ = session_pair
    seen: List[Any] = []
    reader = threading.Thread(target=lambda: seen.extend(a.events()))
    reader.start()
    a.close()
    reader.join(WAIT)
    assert not reader.is_alive(), "the iterator did not end after close()"
    assert local_close(seen).reason == "local"


def test_netconnection_reads_connect_closed_after_close(server: rtmfp.Server) -> None:
    nc = rtmfp.NetConnection.connect(uri(server), bind="127.0.0.1:0", timeout=WAIT)
    nc.drain_events()
    assert nc.close() is True
    assert nc.closed
    events = list(nc.events())
    assert connect_status(events)[-1:] == ["NetConnection.Connect.Closed"]
    assert nc.drain_events() == []
    with pytest.raises(rtmfp.ClosedError):
        nc.next_event(0)


def test_netconnection_drain_events_after_close(server: rtmfp.Server) -> None:
    nc = rtmfp.NetConnection.connect(uri(server), bind="127.0.0.1:0", timeout=WAIT)
    nc.drain_events()
    nc.close()
    assert "NetConnection.Connect.Closed" in connect_status(nc.drain_events())
    assert nc.drain_events() == []


def test_server_reads_a_clients_close_after_its_own() -> None:
    with rtmfp.Server("127.0.0.1:0") as srv:
        nc = rtmfp.NetConnection(bind="127.0.0.1:0")
        try:
            nc.start_connect(f"rtmfp://{srv.address}/app")
            connected = None
            while connected is None:
                e = srv.next_event(WAIT)
                assert e is not None, "no client_connected"
                if isinstance(e, rtmfp.ClientConnected):
                    connected = e
            srv.close()
            left = kinds(list(srv.events()))
            assert "disconnected" in left, left
            assert list(srv.events()) == []
        finally:
            nc.close()


def test_asyncio_reads_the_last_events_then_ends(
    session_pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint],
) -> None:
    a, _ = session_pair

    async def main() -> List[Any]:
        seen: List[Any] = []

        async def reader() -> None:
            async for event in a.events_async():
                seen.append(event)

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0)
        await a.close_async()
        await asyncio.wait_for(task, WAIT)
        with pytest.raises(rtmfp.ClosedError):
            await a.next_event_async(timeout=1)
        return seen

    seen = asyncio.run(main())
    assert local_close(seen).reason == "local"


def test_asyncio_after_a_blocking_close(server: rtmfp.Server) -> None:
    nc = rtmfp.NetConnection.connect(uri(server), bind="127.0.0.1:0", timeout=WAIT)
    nc.drain_events()
    nc.close()

    async def main() -> List[Any]:
        return [e async for e in nc.events_async()]

    events = asyncio.run(main())
    assert connect_status(events)[-1:] == ["NetConnection.Connect.Closed"]
