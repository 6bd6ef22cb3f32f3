"""Other processes: the chat example (a server and two peers), and the
Rust CLI (`rtmfp echo`)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional, Set

import pytest

import rtmfp
from conftest import WAIT, wait_event

REPO = Path(__file__).resolve().parents[3]
CHAT = REPO / "bindings" / "python" / "examples" / "chat.py"


class Proc:
    """A child process whose output lines are read by a thread."""

    def __init__(self, args: List[str]) -> None:
        self.p = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.seen: List[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern: str, timeout: float = WAIT) -> "re.Match[str]":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        raise AssertionError(f"no line matching {pattern!r}; output so far: {self.seen}")

    def write(self, text: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(text)
        self.p.stdin.flush()

    def close_stdin(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        # Its reader thread ends at end of output: do not leave it behind
        # for the thread counts of later tests.
        self.reader.join(WAIT)


def test_chat_example_finds_a_friend_by_name_and_talks() -> None:
    """The seed's flow: a rendezvous server (rtmfp.Server in chat.py), alice
    registers her name, bob finds her by name and they talk directly."""
    procs: List[Proc] = []
    try:
        server = Proc([sys.executable, str(CHAT), "--serve", "127.0.0.1:0"])
        procs.append(server)
        uri = server.expect(r"^serving on (rtmfp://\S+)").group(1)
        peer = ["--server", uri, "--bind", "127.0.0.1:0"]
        alice = Proc([sys.executable, str(CHAT), *peer, "--name", "alice"])
        procs.append(alice)
        alice_id = alice.expect(r"^\* registered as alice \(peer ID ([0-9a-f]{64})\)").group(1)
        bob = Proc([sys.executable, str(CHAT), *peer, "--name", "bob", "--find", "alice"])
        procs.append(bob)
        assert bob.expect(r"^\* found alice: ([0-9a-f]{64})").group(1) == alice_id
        bob.expect(r"^\* talking with alice$")
        alice.expect(r"^\* [0-9a-f]{16}\.\.\. joined$")  # bob plays her stream
        bob.expect(r"^\* alice joined$")  # she plays his back
        bob.write("hello from bob\n")
        alice.expect(r"^bob> hello from bob$")
        alice.write("hi bob\n")
        bob.expect(r"^alice> hi bob$")
        # The server only introduced them.
        server.expect(r"introduced .* to " + alice_id[:16])
        bob.close_stdin()  # end of input: bob leaves
        assert bob.p.wait(WAIT) == 0
        alice.expect(r"^\* bob left$")
        alice.close_stdin()
        assert alice.p.wait(WAIT) == 0
    finally:
        for p in procs:
            p.stop()


def find_cli() -> Optional[Path]:
    """The `rtmfp` binary of the Rust CLI, if it is built and has `echo`."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("debug", "release"):
        exe = target / profile / "rtmfp"
        if not exe.is_file():
            continue
        try:
            probe = subprocess.run(
                [str(exe), "echo", "--help"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and "--listen" in probe.stdout + probe.stderr:
            return exe
    return None


@pytest.mark.parametrize("by", ["peer_id", "uri"])
def test_python_peer_echoes_through_the_rust_cli(by: str) -> None:
    exe = find_cli()
    if exe is None:
        pytest.skip(
            "cross-language: no Rust CLI with an `echo --listen ADDR` subcommand in "
            "target/{debug,release}/rtmfp (build it with `cargo build -p rtmfp-cli`)"
        )
    server = Proc([str(exe), "echo", "--listen", "127.0.0.1:0"])
    try:
        # `rtmfp echo` prints its fingerprint (peer ID) and `listening ADDR`.
        address = server.expect(r"^listening (\S+)").group(1)
        ids = [m for line in server.seen for m in re.findall(r"\b[0-9a-f]{64}\b", line)]
        with rtmfp.Endpoint("127.0.0.1:0") as ep:
            if by == "peer_id":
                assert ids, f"no peer ID in {server.seen}"
                session = ep.connect_peer(ids[0], address, timeout=WAIT)
            else:
                session = ep.connect(f"rtmfp://{address}/echo", timeout=WAIT)
            if ids:
                assert session.far_peer_id == ids[0]
            flow = session.open_flow(b"echo")
            messages = [b"hello rust", os.urandom(1000), os.urandom(50_000), b""]
            ids_sent = [flow.send(m) for m in messages]
            back: List[bytes] = []
            delivered: Set[int] = set()
            while len(back) < len(messages) or len(delivered) < len(messages):
                e = wait_event(
                    ep, lambda e: e.kind in ("flow_opened", "message", "message_delivered")
                )
                if isinstance(e, rtmfp.FlowOpened):
                    assert e.association == flow  # the echo's return flow
                    e.flow.accept()
                elif isinstance(e, rtmfp.Message):
                    back.append(e.data)
                elif isinstance(e, rtmfp.MessageDelivered):
                    delivered.add(e.message)
            assert back == messages
            assert delivered == set(ids_sent)
    finally:
        server.stop()
