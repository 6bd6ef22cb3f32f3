"""Errors: bad arguments, unreachable hosts (in bounded time), closed
endpoints, and blocking waits that return when they should."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Callable, Iterator, List, Tuple

import pytest

import rtmfp
from conftest import WAIT, wait_kind


@pytest.fixture
def silent() -> Iterator[str]:
    """A UDP socket on loopback that takes datagrams and never answers:
    a peer that does not respond (no ICMP error either)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield "%s:%d" % sock.getsockname()


@pytest.fixture
def closed_port() -> str:
    """A loopback port nobody listens on: datagrams to it draw an ICMP
    port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return "%s:%d" % sock.getsockname()


def test_hierarchy() -> None:
    for cls in (
        rtmfp.ClosedError,
        rtmfp.TimeoutError,
        rtmfp.InvalidArgument,
        rtmfp.SessionError,
        rtmfp.FlowError,
        rtmfp.WouldBlock,
        rtmfp.NetError,
        rtmfp.ConnectError,
        rtmfp.CallError,
        rtmfp.CallbackError,
    ):
        assert issubclass(cls, rtmfp.Error)
        assert cls.__module__ == "rtmfp"
    assert issubclass(rtmfp.Error, Exception)
    assert issubclass(rtmfp.TimeoutError, TimeoutError)
    assert issubclass(rtmfp.InvalidArgument, ValueError)
    assert issubclass(rtmfp.WouldBlock, rtmfp.FlowError)
    assert issubclass(rtmfp.WouldBlock, BlockingIOError)
    assert issubclass(rtmfp.ConnectError, rtmfp.NetError)
    assert issubclass(rtmfp.CallError, rtmfp.NetError)


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "http://127.0.0.1/app",
        "rtmfp:",
        "rtmfp://",
        "rtmfp://127.0.0.1:notaport/app",
        "rtmfp://127.0.0.1:99999/app",
        "rtmfp://[::1/app",
        "rtmfp://:1935/app",
    ],
)
def test_bad_uris(uri: str) -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        with pytest.raises(rtmfp.InvalidArgument, match="URI"):
            ep.connect(uri, timeout=1)
        with pytest.raises(ValueError):
            ep.start_connect(uri)


@pytest.mark.parametrize(
    "peer_id",
    ["", "abc", "zz" * 32, "ab" * 31, "ab" * 33, b"short", b"\x00" * 33],
)
def test_bad_peer_ids(peer_id: Any) -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        with pytest.raises(rtmfp.InvalidArgument, match="peer ID"):
            ep.connect_peer(peer_id, "127.0.0.1:1935", timeout=1)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.0.0.1:port", "1.2.3.4.5:80", 42, [], ("127.0.0.1", "x"), [None]],
)
def test_bad_addresses(address: Any) -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        with pytest.raises(rtmfp.InvalidArgument):
            ep.connect_peer("ab" * 32, address, timeout=1)


def test_bad_arguments() -> None:
    with pytest.raises(rtmfp.InvalidArgument):
        rtmfp.Endpoint("not an address")
    with pytest.raises(rtmfp.InvalidArgument, match="idle_timeout"):
        rtmfp.Endpoint("127.0.0.1:0", idle_timeout=-1)
    with pytest.raises(OSError):
        # Binding a non-local address fails in the OS.
        rtmfp.Endpoint("192.0.2.1:0")
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        with pytest.raises(rtmfp.InvalidArgument, match="timeout"):
            ep.next_event(-1)
        with pytest.raises(rtmfp.InvalidArgument, match="timeout"):
            ep.connect_peer("ab" * 32, "127.0.0.1:1", timeout=float("nan"))


def test_flow_arguments(pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint]) -> None:
    a, b = pair
    session = a.connect_peer(b.peer_id, b.address, timeout=WAIT)
    with pytest.raises(rtmfp.InvalidArgument, match="priority"):
        session.open_flow(b"", priority=8)
    with pytest.raises(rtmfp.InvalidArgument, match="512"):
        session.open_flow(bytes(513))
    flow = session.open_flow(b"ok")
    with pytest.raises(rtmfp.InvalidArgument, match="deadline"):
        flow.send(b"x", deadline=-0.5)
    # Options are accepted.
    first = flow.send(b"x", deadline=5.0, start_deadline=1.0)
    flow.send(b"y", retransmit=False, parent=first)
    opened = wait_kind(b, "flow_opened")
    assert isinstance(opened, rtmfp.FlowOpened)
    with pytest.raises(rtmfp.InvalidArgument, match="order"):
        opened.flow.accept(order="random")  # type: ignore[arg-type]
    with pytest.raises(rtmfp.InvalidArgument, match="association"):
        session.open_flow(b"", association=opened.flow)  # b's flow, not a's
    flow.close()
    with pytest.raises(rtmfp.FlowError):
        flow.send(b"after close")


def test_a_silent_peer_times_out_in_bounded_time(silent: str) -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        start = time.monotonic()
        with pytest.raises(rtmfp.TimeoutError, match="within 0.300 s"):
            ep.connect_peer("ab" * 32, silent, timeout=0.3)
        elapsed = time.monotonic() - start
        assert 0.25 <= elapsed < 2.0, elapsed
        # The opening was abandoned, and says so.
        failed = wait_kind(ep, "session_open_failed")
        assert isinstance(failed, rtmfp.SessionOpenFailed)
        assert failed.reason == "cancelled"
        assert ep.stats()["openings"] == 0


def test_a_silent_uri_times_out(silent: str) -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        start = time.monotonic()
        with pytest.raises(TimeoutError):  # the built-in catches it too
            ep.connect(f"rtmfp://{silent}/app", timeout=0.2)
        assert time.monotonic() - start < 2.0


def test_a_closed_port_fails_on_the_icmp_error_not_the_timeout(closed_port: str) -> None:
    # The timeouts are far longer than the test's own bound: only the
    # ICMP port unreachable can end these, and the error names the port.
    with rtmfp.Endpoint("127.0.0.1:0", open_timeout=300) as ep:
        with pytest.raises(rtmfp.SessionError, match=f"{closed_port} is unreachable"):
            ep.connect(f"rtmfp://{closed_port}/app", timeout=300)
        failed = wait_kind(ep, "session_open_failed")
        assert isinstance(failed, rtmfp.SessionOpenFailed)
        assert failed.reason == "unreachable" and failed.address == closed_port
    with pytest.raises(rtmfp.ConnectError, match=f"{closed_port} is unreachable"):
        rtmfp.NetConnection.connect(f"rtmfp://{closed_port}/app", bind="127.0.0.1:0", timeout=300)


def test_open_timeout_of_the_endpoint_fails_the_session(silent: str) -> None:
    with rtmfp.Endpoint("127.0.0.1:0", open_timeout=0.2) as ep:
        session = ep.start_connect_peer("cd" * 32, silent)
        with pytest.raises(rtmfp.TimeoutError, match="open timeout"):
            session.wait_open(timeout=5)


def test_calls_on_a_closed_endpoint(pair: Tuple[rtmfp.Endpoint, rtmfp.Endpoint]) -> None:
    a, b = pair
    session = a.connect_peer(b.peer_id, b.address, timeout=WAIT)
    flow = session.open_flow(b"f")
    opened_b = wait_kind(b, "session_opened")
    assert isinstance(opened_b, rtmfp.SessionOpened)
    assert a.close() is True
    assert a.closed
    assert a.close() is False  # again: nothing to do
    # The last events are still read (SessionClosed: how the close went),
    # then the stream has ended.
    left = [e.kind for e in a.events()]
    assert "session_closed" in left, left
    calls: List[Callable[[], object]] = [
        lambda: a.connect("rtmfp://127.0.0.1:1935/app"),
        lambda: a.connect_peer(b.peer_id, b.address),
        lambda: a.start_connect("rtmfp://127.0.0.1:1935/app"),
        lambda: a.start_connect_peer(b.peer_id, b.address),
        lambda: a.next_event(),
        lambda: a.next_event(0),
        lambda: a.stats(),
        lambda: session.open_flow(),
        lambda: session.close(),
        lambda: session.wait_open(1),
        lambda: flow.send(b"x"),
        lambda: flow.writable,
        lambda: flow.close(),
    ]
    for call in calls:
        with pytest.raises(rtmfp.ClosedError, match="closed"):
            call()
    assert not session.is_open
    assert a.drain_events() == []
    assert list(a.events()) == []
    assert isinstance(a.fileno(), int)
    assert "closed" in repr(a)
    # The far end saw the orderly close.
    closed = wait_kind(b, "session_closed")
    assert isinstance(closed, rtmfp.SessionClosed) and closed.reason == "remote"


def test_next_event_returns_in_bounded_time() -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        start = time.monotonic()
        assert ep.next_event(0) is None
        assert ep.next_event(0.3) is None
        elapsed = time.monotonic() - start
        assert 0.25 <= elapsed < 1.5, elapsed


def test_blocking_wait_releases_the_gil() -> None:
    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        counter = [0]
        stop = threading.Event()

        def spin() -> None:
            while not stop.is_set():
                counter[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        try:
            time.sleep(0.05)
            before = counter[0]
            # Python's switch interval is 5 ms: a wait that kept the GIL
            # would let the other thread run only between its slices.
            ep.next_event(0.4)
            during = counter[0] - before
        finally:
            stop.set()
            t.join()
        assert during > 100_000, during


CHILD = textwrap.dedent(
    """
    import signal, sys, rtmfp
    # A parent that ignores SIGINT (a background job) passes that on:
    # make Ctrl-C raise KeyboardInterrupt whatever we inherited.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ep = rtmfp.Endpoint("127.0.0.1:0")
    print("ready", flush=True)
    try:
        if sys.argv[1] == "next_event":
            ep.next_event()          # no timeout: waits for ever
        elif sys.argv[1] == "events":
            for _ in ep.events():
                pass
        else:
            ep.connect_peer("ab" * 32, "192.0.2.1:1935", timeout=3600)
    except KeyboardInterrupt:
        print("interrupted", ep.stats()["openings"], flush=True)
        ep.close()
        sys.exit(0)
    sys.exit(3)
    """
)


@pytest.mark.parametrize("wait", ["next_event", "events", "connect"])
def test_ctrl_c_interrupts_blocking_waits(wait: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, wait],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=10)
        assert time.monotonic() - start < 2.0
        assert child.returncode == 0, out
        # An interrupted connect abandons its opening.
        assert out.strip() == "interrupted 0"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_busy_port_raises_oserror_with_errno_and_the_address() -> None:
    import errno

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        busy = "%s:%d" % sock.getsockname()
        for make in (
            lambda: rtmfp.Endpoint(busy),
            lambda: rtmfp.Server(busy),
            lambda: rtmfp.NetConnection.connect("rtmfp://127.0.0.1:1/app", bind=busy),
        ):
            with pytest.raises(OSError) as info:
                make()
            assert info.value.errno == errno.EADDRINUSE
            assert info.value.filename == busy
            assert busy in str(info.value)


def test_a_missing_keys_file_raises_filenotfounderror_with_its_name(tmp_path: Any) -> None:
    missing = str(tmp_path / "no-such-keys.txt")
    with pytest.raises(FileNotFoundError) as info:
        rtmfp.Server("127.0.0.1:0", keys=missing)
    assert info.value.filename == missing
    assert info.value.errno is not None
