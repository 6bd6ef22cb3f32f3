"""The Flash layer and the rendezvous server, blocking style: a server
written in Python (rtmfp.Server) and Python peers (rtmfp.NetConnection,
rtmfp.NetStream) on loopback."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from typing import Callable, List, Optional, Tuple, Union

import pytest

import rtmfp
from conftest import KEY, WAIT, uri, wait_net, wait_status

Connect = Callable[[], rtmfp.NetConnection]


class Pump:
    """Reads a connection's (or server's) events on a thread, so that its
    callbacks run, and keeps them; a CallbackError is kept and reading
    goes on."""

    def __init__(self, source: "rtmfp.NetConnection | rtmfp.Server") -> None:
        self.source = source
        self.events: List[object] = []
        self.errors: List[rtmfp.CallbackError] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while True:
            try:
                for e in self.source.events():
                    self.events.append(e)
                return
            except rtmfp.CallbackError as e:
                self.errors.append(e)

    def kinds(self, kind: str) -> List[object]:
        return [e for e in list(self.events) if getattr(e, "kind", None) == kind]

    def wait_kinds(self, kind: str, count: int) -> List[object]:
        """The events of `kind` once there are `count` (or after WAIT).  An
        event is kept after its callback ran, so the far end can see the
        callback's verdict before this thread has kept the event."""
        deadline = time.monotonic() + WAIT
        while len(self.kinds(kind)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.kinds(kind)

    def stop(self) -> None:
        self.source.close()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()


def media_plan() -> List[Tuple[int, int, bytes]]:
    """(type, timestamp, payload): video of many sizes (a few beyond one
    packet), audio, and a data message now and then."""
    plan: List[Tuple[int, int, bytes]] = []
    for i in range(120):
        ts = i * 20
        if i % 4 == 0:
            size = 20_000 if i % 40 == 0 else 300 + 37 * i
            plan.append((9, ts, bytes([0x17 if i % 40 == 0 else 0x27, 1]) + os.urandom(size)))
        plan.append((8, ts, b"\xaf\x01" + os.urandom(100 + i)))
    return plan


def test_direct_connections_publish_and_play_by_peer_id(
    server: rtmfp.Server, connect: Connect
) -> None:
    publisher = connect()
    player = connect()
    assert len(publisher.near_id) == 64 and publisher.near_id != player.near_id
    assert publisher.far_id == server.peer_id
    assert publisher.connected and publisher.uri == uri(server)
    assert publisher.near_nonce and publisher.far_nonce

    cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
    assert cam.kind == "direct_connections" and cam.max_peer_connections == 8
    cam.publish("movie")
    wait_status(publisher, "NetStream.Publish.Start", cam)

    play = rtmfp.NetStream(player, publisher.near_id)
    assert play.kind == "peer" and play.peer_id == publisher.near_id
    play.play("movie")
    seen: List[rtmfp.NetEvent] = []
    wait_status(player, "NetStream.Play.Start", play, seen)
    assert cam.peer_streams == [player.near_id]

    plan = media_plan()
    for i, (kind, ts, payload) in enumerate(plan):
        assert cam.send(kind, ts, memoryview(payload)) == 1, "one subscriber"
        if i % 8 == 0:
            time.sleep(0.002)  # a camera's pace, roughly
    assert cam.send_data("onTextData", {"text": "bye", "n": 3}, [1, "x"], timestamp=5000) == 1
    # A NetStream carries audio, video and data only (core's check).
    for refused in (1, 4, 20):
        with pytest.raises(rtmfp.InvalidArgument, match=f"message type {refused} is not audio"):
            cam.send(refused, 0, b"x")

    got: List[Tuple[int, int, bytes]] = [
        (e.message_type, e.timestamp, e.payload) for e in seen if isinstance(e, rtmfp.Media)
    ]
    data: Optional[rtmfp.Media] = None
    # Audio, video and data go on flows of their own: wait for them all.
    while data is None or len(got) < len(plan):
        e = wait_net(player, lambda e: e.kind == "media")
        assert isinstance(e, rtmfp.Media) and e.stream == play
        if e.message_type == rtmfp.MessageType.DATA:
            data = e
        else:
            got.append((e.message_type, e.timestamp, e.payload))
    for kind in (8, 9):
        sent = [m for m in plan if m[0] == kind]
        arrived = [m for m in got if m[0] == kind]
        assert len(arrived) == len(sent), f"type {kind}: every message arrives"
        assert arrived == sent, f"type {kind}: byte for byte, in order"
    assert data.values() == ["onTextData", {"text": "bye", "n": 3.0}, [1.0, "x"]]
    assert data.timestamp == 5000

    # The server introduced the player to the publisher and carried no media.
    stats = server.stats()
    assert stats["introductions"] >= 1 and stats["media_in"] == 0
    introduced = [e for e in server.drain_events() if isinstance(e, rtmfp.PeerIntroduced)]
    assert any(e.peer_id == publisher.near_id for e in introduced)
    assert {s.peer_id for s in server.sessions()} == {publisher.near_id, player.near_id}

    # The subscriber leaves: the publisher sees it go.
    player.close()
    closed = wait_net(publisher, lambda e: e.kind == "peer_stream_closed")
    assert isinstance(closed, rtmfp.PeerStreamClosed) and closed.stream == cam
    assert closed.peer_id == player.near_id
    assert cam.peer_streams == []


def test_on_peer_connect_rejects_the_second_subscriber(
    server: rtmfp.Server, connect: Connect
) -> None:
    publisher = connect()
    first, second = connect(), connect()
    cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
    asked: List[Tuple[str, str]] = []

    def on_peer_connect(peer_id: str, name: str) -> Union[bool, str]:
        asked.append((peer_id, name))
        return True if peer_id == first.near_id else "one viewer only"

    cam.on_peer_connect = on_peer_connect
    assert cam.on_peer_connect is on_peer_connect
    cam.publish("cam")
    pump = Pump(publisher)  # the callback runs on this reader thread
    try:
        a = rtmfp.NetStream(first, publisher.near_id)
        a.play("cam")
        wait_status(first, "NetStream.Play.Start", a)
        b = rtmfp.NetStream(second, publisher.near_id)
        b.play("cam")
        refused = wait_status(second, "NetStream.Connect.Rejected", b)
        assert refused.level == "error"
        assert "one viewer only" in refused.description
        assert asked == [(first.near_id, "cam"), (second.near_id, "cam")]
        assert cam.peer_streams == [first.near_id]
        assert cam.send_audio(0, b"\xaf\x01only-first") == 1
        wait_net(first, lambda e: isinstance(e, rtmfp.Media) and e.payload.endswith(b"first"))
        connects = pump.wait_kinds("peer_connect", 2)
        decisions = [(e.peer_id, e.accepted, e.reason) for e in connects]  # type: ignore[attr-defined]
        assert decisions == [
            (first.near_id, True, None),
            (second.near_id, False, "one viewer only"),
        ]
        assert pump.errors == []
    finally:
        pump.stop()


def test_max_peer_connections_limits_subscribers(server: rtmfp.Server, connect: Connect) -> None:
    publisher = connect()
    first, second = connect(), connect()
    cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
    cam.max_peer_connections = 1
    assert publisher.max_peer_connections == 1
    cam.publish("cam")
    a = rtmfp.NetStream(first, publisher.near_id)
    a.play("cam")
    wait_status(first, "NetStream.Play.Start", a)
    b = rtmfp.NetStream(second, publisher.near_id)
    b.play("cam")
    refused = wait_status(second, "NetStream.Connect.Rejected", b)
    assert "max_peer_connections" in refused.description
    assert cam.peer_streams == [first.near_id]


def test_a_callback_that_raises_is_reported_and_kills_nothing(
    server: rtmfp.Server, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = connect()
    first, second = connect(), connect()
    cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)

    def broken(peer_id: str, name: str) -> bool:
        raise ValueError(f"boom for {name}")

    cam.on_peer_connect = broken
    cam.publish("cam")
    wait_status(publisher, "NetStream.Publish.Start", cam)
    a = rtmfp.NetStream(first, publisher.near_id)
    a.play("cam")
    with caplog.at_level(logging.ERROR, logger="rtmfp"):
        # The publisher's event reading runs the callback: the exception
        # comes out of next_event as a CallbackError, never lost ...
        deadline = time.monotonic() + WAIT
        error: Optional[rtmfp.CallbackError] = None
        while error is None and time.monotonic() < deadline:
            try:
                publisher.next_event(0.1)
            except rtmfp.CallbackError as e:
                error = e
    assert error is not None, "the callback's exception was lost"
    assert isinstance(error.__cause__, ValueError) and "boom for cam" in str(error.__cause__)
    assert "on_peer_connect raised ValueError: boom for cam" in str(error)
    # ... it was logged at once, with its traceback ...
    records = [r for r in caplog.records if r.name == "rtmfp"]
    assert records and records[0].exc_info is not None
    assert "boom for cam" in records[0].getMessage()
    # ... the event follows, and the subscriber was rejected.
    event = publisher.next_event(WAIT)
    assert isinstance(event, rtmfp.PeerConnect) and not event.accepted
    assert event.peer_id == first.near_id
    wait_status(first, "NetStream.Connect.Rejected", a)
    # Nothing died: a fixed callback lets the next subscriber in.
    cam.on_peer_connect = lambda peer_id, name: True
    b = rtmfp.NetStream(second, publisher.near_id)
    b.play("cam")
    pump = Pump(publisher)
    try:
        wait_status(second, "NetStream.Play.Start", b)
        assert cam.peer_streams == [second.near_id]
        assert cam.send_video(40, b"\x17\x01frame") == 1
        wait_net(second, lambda e: isinstance(e, rtmfp.Media) and e.payload == b"\x17\x01frame")
    finally:
        pump.stop()


def test_a_bad_key_gets_connect_rejected(server: rtmfp.Server) -> None:
    with pytest.raises(rtmfp.ConnectError) as info:
        rtmfp.NetConnection.connect(uri(server, key="WRONG"), bind="127.0.0.1:0", timeout=WAIT)
    assert info.value.code == "NetConnection.Connect.Rejected"
    assert info.value.level == "error"
    assert "WRONG" in info.value.description
    assert isinstance(info.value, rtmfp.NetError)
    # Without waiting: the status arrives as an event.
    with rtmfp.NetConnection(uri(server, key="WRONG"), bind="127.0.0.1:0") as nc:
        status = wait_net(nc, lambda e: e.kind == "status")
        assert isinstance(status, rtmfp.NetStatus) and status.stream is None
        assert status.code == "NetConnection.Connect.Rejected"
        assert status.info["code"] == status.code
        assert not nc.connected
    rejected = wait_event_of(server, "rejected")
    assert isinstance(rejected, rtmfp.ClientRejected) and "WRONG" in rejected.reason


def wait_event_of(server: rtmfp.Server, kind: str) -> rtmfp.ServerEvent:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        e = server.next_event(0.1)
        if e is not None and e.kind == kind:
            return e
    raise AssertionError(f"no {kind} event")


def test_register_and_lookup_names(server: rtmfp.Server, connect: Connect) -> None:
    alice, bob = connect(), connect()
    alice.register_name("alice")
    assert bob.lookup_name("alice") == alice.near_id
    assert server.lookup_name("alice") == alice.near_id
    with pytest.raises(rtmfp.CallError) as info:
        bob.lookup_name("carol")
    assert info.value.code == "NetConnection.Call.Failed"
    assert "carol" in str(info.value)
    with pytest.raises(rtmfp.CallError):
        bob.register_name("alice")  # taken
    # The answers also went by as events.
    results = []
    while (e := bob.next_event(0)) is not None:
        if isinstance(e, rtmfp.CallResult):
            results.append(e.ok)
    assert results == [True, False, False]
    alice.close()
    deadline = time.monotonic() + WAIT
    while server.lookup_name("alice") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.lookup_name("alice") is None  # names go with the peer


def refused(nc: rtmfp.NetConnection, reason: str) -> None:
    """A hook's refusal comes before the client is answered: its first
    status is Rejected, with the reason as description (RFC 7425 §5.3.2)."""
    e = wait_net(nc, lambda e: e.kind == "status" and e.stream is None)
    assert isinstance(e, rtmfp.NetStatus)
    assert (e.code, e.description) == ("NetConnection.Connect.Rejected", reason)
    assert not nc.connected


def test_server_hooks_run_on_the_reading_thread(server: rtmfp.Server) -> None:
    calls: List[Tuple[Optional[str], str, Optional[str]]] = []
    gone: List[Optional[str]] = []
    threads: List[str] = []

    def on_connect(peer_id: Optional[str], app: str, key: Optional[str]) -> Union[bool, str]:
        calls.append((peer_id, app, key))
        threads.append(threading.current_thread().name)
        return "private apps are closed" if app.startswith("private") else True

    server.on_connect = on_connect
    server.on_disconnect = gone.append
    reader = threading.Thread(target=server.serve_forever, name="server-reader", daemon=True)
    reader.start()
    ok = rtmfp.NetConnection.connect(uri(server), bind="127.0.0.1:0", timeout=WAIT)
    # Refused before the client is answered, with the hook's reason.
    nc = rtmfp.NetConnection(uri(server, app="private"), bind="127.0.0.1:0")
    refused(nc, "private apps are closed")
    assert [c[1] for c in calls] == ["app/" + KEY, "private/" + KEY]
    assert calls[0] == (ok.near_id, "app/" + KEY, KEY)
    assert threads == ["server-reader", "server-reader"]
    ok.close()
    deadline = time.monotonic() + WAIT
    while ok.near_id not in gone and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ok.near_id in gone
    nc.close()
    server.close()
    reader.join(WAIT)
    assert not reader.is_alive()


def test_a_server_hook_that_raises_refuses_and_is_raised(server: rtmfp.Server) -> None:
    def on_connect(peer_id: Optional[str], app: str, key: Optional[str]) -> bool:
        raise RuntimeError("hook bug")

    server.on_connect = on_connect
    nc = rtmfp.NetConnection(uri(server), bind="127.0.0.1:0")
    with pytest.raises(rtmfp.CallbackError) as info:
        wait_event_of(server, "ask")
    assert isinstance(info.value.__cause__, RuntimeError)
    e = server.next_event(WAIT)  # the event follows
    assert isinstance(e, rtmfp.ServerAsk) and not e.accepted and e.what == "connect"
    refused(nc, "the server's on_connect failed")
    nc.close()


def test_on_publish_and_on_play_decide_before_the_client_is_answered(
    server: rtmfp.Server, connect: Connect
) -> None:
    asked: List[Tuple[Optional[str], str]] = []

    def on_publish(peer_id: Optional[str], name: str) -> Union[bool, str]:
        asked.append((peer_id, name))
        return "no such channel" if name == "secret" else True

    server.on_publish = on_publish
    server.on_play = lambda peer_id, name: name == "live"
    pump = Pump(server)
    publisher, player = connect(), connect()
    secret = rtmfp.NetStream(publisher, None)
    secret.publish("secret")
    e = wait_status(publisher, "NetStream.Publish.BadName", secret)
    assert e.description == "no such channel"
    live = rtmfp.NetStream(publisher, None)
    live.publish("live")
    wait_status(publisher, "NetStream.Publish.Start", live)
    assert asked == [(publisher.near_id, "secret"), (publisher.near_id, "live")]
    watch = rtmfp.NetStream(player)
    watch.play("live")
    wait_status(player, "NetStream.Play.Start", watch)
    other = rtmfp.NetStream(player)
    other.play("other")
    e = wait_status(player, "NetStream.Play.Failed", other)
    assert e.description == "refused by the server's on_play"
    asks = [(a.what, a.name, a.accepted) for a in pump.wait_kinds("ask", 4)]  # type: ignore[attr-defined]
    assert asks == [
        ("publish", "secret", False),
        ("publish", "live", True),
        ("play", "live", True),
        ("play", "other", False),
    ]
    pump.stop()


def test_a_hook_nobody_runs_refuses_at_hook_timeout() -> None:
    with rtmfp.Server("127.0.0.1:0", keys=[KEY], on_connect=lambda *a: True, hook_timeout=0.5) as server:
        start = time.monotonic()
        nc = rtmfp.NetConnection(uri(server), bind="127.0.0.1:0")
        refused(nc, "no answer from the server application")
        assert time.monotonic() - start >= 0.5
        # Read late: the hook runs, its verdict did not apply.
        ask = wait_event_of(server, "ask")
        assert isinstance(ask, rtmfp.ServerAsk) and not ask.accepted
        assert ask.reason is not None and "expired" in ask.reason
        ended = wait_event_of(server, "ask_ended")
        assert isinstance(ended, rtmfp.ServerAskEnded)
        assert (ended.id, ended.end) == (ask.id, "expired")
        wait_event_of(server, "rejected")
        nc.close()


def test_a_client_that_leaves_while_its_connect_waits(server: rtmfp.Server) -> None:
    server.on_connect = lambda *a: True
    nc = rtmfp.NetConnection(uri(server), bind="127.0.0.1:0")
    deadline = time.monotonic() + WAIT
    while not server.sessions() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # its connect is parked
    nc.close()
    while server.sessions() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.sessions()
    ask = wait_event_of(server, "ask")
    assert isinstance(ask, rtmfp.ServerAsk) and not ask.accepted
    assert ask.reason is not None and "went away" in ask.reason
    ended = wait_event_of(server, "ask_ended")
    assert isinstance(ended, rtmfp.ServerAskEnded) and ended.end == "gone"


def test_publish_and_play_through_the_server(server: rtmfp.Server, connect: Connect) -> None:
    publisher, player = connect(), connect()
    watch = rtmfp.NetStream(player)
    assert watch.kind == "server"
    watch.play("live")
    wait_status(player, "NetStream.Play.Start", watch)
    live = rtmfp.NetStream(publisher, None)
    live.publish("live")
    wait_status(publisher, "NetStream.Publish.Start", live)
    wait_status(player, "NetStream.Play.PublishNotify", watch)
    # The first is a keyframe: the relay starts a player on one.
    frames = [bytes([0x17 if i == 0 else 0x27, 1]) + os.urandom(50 + i * 100) for i in range(30)]
    for i, f in enumerate(frames):
        assert live.send_video(i * 40, f) == 1
    got: List[bytes] = []
    while len(got) < len(frames):
        e = wait_net(player, lambda e: e.kind == "media")
        assert isinstance(e, rtmfp.Media)
        got.append(e.payload)
    assert got == frames
    (stream,) = server.streams()
    assert stream.name == "live" and stream.players == 1
    assert stream.publisher_id == publisher.near_id
    kinds = {e.kind for e in server.drain_events()}
    assert {"connected", "published", "playing"} <= kinds


def test_errors_of_the_flash_layer(server: rtmfp.Server, connect: Connect) -> None:
    nc = rtmfp.NetConnection(bind="127.0.0.1:0")
    with pytest.raises(rtmfp.NetError):
        nc.near_id
    with pytest.raises(rtmfp.NetError):
        rtmfp.NetStream(nc, rtmfp.DIRECT_CONNECTIONS)
    with pytest.raises(rtmfp.InvalidArgument):
        nc.connect("http://example.com/")
    nc.close()
    with pytest.raises(rtmfp.ClosedError):
        nc.start_connect(uri(server))

    a = connect()
    with pytest.raises(rtmfp.NetError):
        a.start_connect(uri(server))  # connects once
    with pytest.raises(rtmfp.InvalidArgument):
        rtmfp.NetStream(a, "not a peer id")
    cam = rtmfp.NetStream(a, rtmfp.DIRECT_CONNECTIONS)
    with pytest.raises(rtmfp.NetError):
        cam.send_audio(0, b"not publishing yet")
    with pytest.raises(TypeError):
        cam.send_data(object())  # type: ignore[arg-type]
    play = rtmfp.NetStream(a, "ab" * 32)
    with pytest.raises(rtmfp.NetError):
        play.on_peer_connect = lambda p, n: True
    a.close()
    assert a.closed and not a.connected
    with pytest.raises(rtmfp.ClosedError):
        cam.publish("x")
    # The last events are still read ("NetConnection.Connect.Closed": how
    # the close went), then the stream has ended.
    left = [e.code for e in a.events() if isinstance(e, rtmfp.NetStatus) and e.stream is None]
    assert left[-1:] == ["NetConnection.Connect.Closed"], left
    with pytest.raises(rtmfp.ClosedError):
        a.next_event(0)
    assert list(a.events()) == []
    assert a.close() is False  # again: nothing to do

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
        hole.bind(("127.0.0.1", 0))  # takes datagrams, never answers
        port = hole.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(rtmfp.TimeoutError):
            rtmfp.NetConnection.connect(
                f"rtmfp://127.0.0.1:{port}/app", bind="127.0.0.1:0", timeout=0.3
            )
        assert time.monotonic() - start < 2.0


def test_server_keys_from_a_file(tmp_path: "os.PathLike[str]") -> None:
    path = os.path.join(tmp_path, "keys.txt")
    with open(path, "w") as f:
        f.write("# developer keys\nFILEKEY\n")
    with rtmfp.Server("127.0.0.1:0", keys=path) as s:
        nc = rtmfp.NetConnection.connect(uri(s, key="FILEKEY"), bind="127.0.0.1:0", timeout=WAIT)
        nc.close()
        with pytest.raises(rtmfp.ConnectError):
            rtmfp.NetConnection.connect(uri(s, key="OTHER"), bind="127.0.0.1:0", timeout=WAIT)
    with pytest.raises(OSError):
        rtmfp.Server("127.0.0.1:0", keys=os.path.join(tmp_path, "missing"))


def test_no_thread_or_fd_leak_after_connection_cycles(server: rtmfp.Server) -> None:
    from test_resources import counts

    nc = rtmfp.NetConnection.connect(uri(server), bind="127.0.0.1:0", timeout=WAIT)
    nc.close()
    del nc  # its duplicate of the event fd lives as long as the object
    before = counts()
    for i in range(20):
        with rtmfp.NetConnection.connect(uri(server), bind="127.0.0.1:0", timeout=WAIT) as nc:
            if i % 5 == 0:
                rtmfp.NetStream(nc, rtmfp.DIRECT_CONNECTIONS).on_peer_connect = lambda p, n: True
    del nc
    assert counts() == before


CHILD = textwrap.dedent(
    """
    import signal, socket, sys, rtmfp
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server = rtmfp.Server("127.0.0.1:0")
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.1", 0))
    nc = rtmfp.NetConnection(bind="127.0.0.1:0")
    print("ready", flush=True)
    try:
        if sys.argv[1] == "connect":
            port = hole.getsockname()[1]
            nc.connect(f"rtmfp://127.0.0.1:{port}/app", timeout=3600)
        elif sys.argv[1] == "next_event":
            nc.connect(f"rtmfp://{server.address}/app")
            while True:
                nc.next_event()          # no timeout: waits for ever
        else:
            server.serve_forever()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        nc.close()
        server.close()
        sys.exit(0)
    sys.exit(3)
    """
)


@pytest.mark.parametrize("wait", ["connect", "next_event", "serve_forever"])
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
        time.sleep(0.3)
        start = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=10)
        assert time.monotonic() - start < 2.0
        assert child.returncode == 0, out
        assert out.strip() == "interrupted"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def key_lines(path: "os.PathLike[str]") -> List[List[str]]:
    with open(path) as f:
        return [line.split(" ") for line in f.read().splitlines()]


def test_key_logs_of_a_server_a_net_connection_and_endpoints(tmp_path: "os.PathLike[str]") -> None:
    server_log = os.path.join(tmp_path, "server.keys")
    client_log = os.path.join(tmp_path, "client.keys")
    with rtmfp.Server("127.0.0.1:0", keys=[KEY], key_log=server_log) as s:
        nc = rtmfp.NetConnection.connect(uri(s), timeout=WAIT, key_log=client_log)
        nc.close()
    (srv,) = key_lines(server_log)
    (cli,) = key_lines(client_log)
    for line in (srv, cli):
        assert line[0] == "RTMFP_SESSION" and len(line) == 8, line
        assert len(line[2]) == 32 and len(line[3]) == 32, line
    # One session seen from both ends: the keys are mirrored.
    assert (srv[2], srv[3]) == (cli[3], cli[2])

    # Plain endpoints take the same option; lines append.
    ep_log = os.path.join(tmp_path, "endpoints.keys")
    with rtmfp.Endpoint("127.0.0.1:0", server=True, key_log=ep_log) as a, rtmfp.Endpoint(
        "127.0.0.1:0", key_log=ep_log
    ) as b:
        b.connect(f"rtmfp://{a.address}/app", timeout=WAIT)
    assert len(key_lines(ep_log)) == 2

    with pytest.raises(OSError) as info:
        rtmfp.NetConnection(key_log=str(tmp_path))
    assert info.value.filename == str(tmp_path)
