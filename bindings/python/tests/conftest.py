"""Shared helpers: endpoint pairs on loopback and bounded event waits."""

from __future__ import annotations

import time
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

import rtmfp

# Every wait in the tests is bounded by this (seconds); nothing asserts on
# speed except where a test says so.
WAIT = 10.0


def wait_event(
    ep: rtmfp.Endpoint,
    match: Callable[[rtmfp.Event], bool],
    timeout: float = WAIT,
    seen: Optional[List[rtmfp.Event]] = None,
) -> rtmfp.Event:
    """Reads events until one matches; the others go to `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching event within {timeout} s; saw {seen}")
        event = ep.next_event(left)
        if event is None:
            continue
        if match(event):
            return event
        if seen is not None:
            seen.append(event)


def wait_kind(ep: rtmfp.Endpoint, kind: str, timeout: float = WAIT) -> rtmfp.Event:
    seen: List[rtmfp.Event] = []
    return wait_event(ep, lambda e: e.kind == kind, timeout, seen)


@pytest.fixture
def pair() -> Iterator[Tuple[rtmfp.Endpoint, rtmfp.Endpoint]]:
    """Two peer endpoints on loopback."""
    a = rtmfp.Endpoint("127.0.0.1:0")
    b = rtmfp.Endpoint("127.0.0.1:0")
    try:
        yield a, b
    finally:
        a.close()
        b.close()


@pytest.fixture
def connected(
    pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint],
) -> Tuple[rtmfp.Endpoint, rtmfp.Endpoint, rtmfp.Session, rtmfp.Session]:
    """`pair` with a session from a to b, open at both ends; the
    SessionOpened events have been read."""
    a, b = pair
    sa = a.connect_peer(b.peer_id, b.address, timeout=WAIT)
    opened = wait_kind(b, "session_opened")
    assert isinstance(opened, rtmfp.SessionOpened)
    wait_kind(a, "session_opened")
    return a, b, sa, opened.session


# ------------------------------------------------------------ Flash layer --

KEY = "TESTKEY"


def wait_net(
    nc: rtmfp.NetConnection,
    match: Callable[[rtmfp.NetEvent], bool],
    timeout: float = WAIT,
    seen: Optional[List[rtmfp.NetEvent]] = None,
) -> rtmfp.NetEvent:
    """Reads a NetConnection's events until one matches; the others go to
    `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching event within {timeout} s; saw {seen}")
        event = nc.next_event(left)
        if event is None:
            continue
        if match(event):
            return event
        if seen is not None:
            seen.append(event)


def wait_status(
    nc: rtmfp.NetConnection,
    code: str,
    stream: Optional[rtmfp.NetStream] = None,
    seen: Optional[List[rtmfp.NetEvent]] = None,
) -> rtmfp.NetStatus:
    """Waits for status `code` (of `stream`, or of the connection)."""
    if seen is None:
        seen = []
    e = wait_net(
        nc, lambda e: e.kind == "status" and e.code == code and e.stream == stream, seen=seen
    )
    assert isinstance(e, rtmfp.NetStatus)
    return e


@pytest.fixture
def server() -> Iterator[rtmfp.Server]:
    """A rendezvous server on loopback that accepts the key KEY."""
    s = rtmfp.Server("127.0.0.1:0", keys=[KEY])
    try:
        yield s
    finally:
        s.close()


def uri(server: rtmfp.Server, key: str = KEY, app: str = "app") -> str:
    return f"rtmfp://{server.address}/{app}/{key}"


@pytest.fixture
def connect(server: rtmfp.Server) -> Iterator[Callable[[], rtmfp.NetConnection]]:
    """Makes NetConnections to `server` (connected), closed afterwards."""
    made: List[rtmfp.NetConnection] = []

    def make() -> rtmfp.NetConnection:
        nc = rtmfp.NetConnection.connect(uri(server), bind="127.0.0.1:0", timeout=WAIT)
        made.append(nc)
        return nc

    try:
        yield make
    finally:
        for nc in made:
            nc.close()
