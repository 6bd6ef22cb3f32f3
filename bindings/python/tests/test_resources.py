"""No thread or file descriptor outlives its endpoint."""

from __future__ import annotations

import gc
import os
from typing import Tuple

import rtmfp
from conftest import WAIT, wait_kind


def counts() -> Tuple[int, int]:
    gc.collect()
    return len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))


def test_no_leak_after_100_open_close_cycles() -> None:
    # Warm up: first-use allocations (the exception types, the resolver).
    with rtmfp.Endpoint("127.0.0.1:0"):
        pass
    before = counts()
    peer = None
    for i in range(100):
        with rtmfp.Endpoint("127.0.0.1:0") as ep:
            assert ep.closed is False
            if i % 10 == 0:
                # Every tenth cycle also opens a session and a flow.
                with rtmfp.Endpoint("127.0.0.1:0") as peer:
                    s = ep.connect_peer(peer.peer_id, peer.address, timeout=WAIT)
                    s.open_flow(b"leak?").send(b"data")
                    wait_kind(peer, "flow_opened")
                    # A session keeps its closed endpoint's memory and two
                    # event fds (not its thread or sockets) until it goes.
                    del s
        assert ep.closed
    del ep, peer
    assert counts() == before


def test_no_leak_when_endpoints_are_dropped_without_close() -> None:
    with rtmfp.Endpoint("127.0.0.1:0"):
        pass
    before = counts()
    for _ in range(20):
        ep = rtmfp.Endpoint("127.0.0.1:0")
        ep.next_event(0)
        del ep  # the runtime shuts down when the last reference goes
    assert counts() == before


KEYING_THREADS = 2


def test_threads_during_life() -> None:
    before, _ = counts()
    ep = rtmfp.Endpoint("127.0.0.1:0")
    # One I/O thread per endpoint plus the runtime's two Diffie-Hellman
    # workers (RuntimeConfig::keying_threads), nothing more.
    assert counts()[0] == before + 1 + KEYING_THREADS
    ep.close()
    assert counts()[0] == before
