"""Server(cluster=...): a node of a rendezvous cluster on Redis.

A name registered on one node resolves on another; Redis unreachable is
an OSError that says so.  The test starts its own redis-server (Debian
package redis-server) on a free port, and skips without it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from typing import Iterator

import pytest

import rtmfp
from conftest import KEY, WAIT

LOOP = "127.0.0.1:0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def redis_url() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + WAIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/"
    finally:
        proc.kill()
        proc.wait()


def test_unreachable_redis_is_an_os_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/"
    with pytest.raises(OSError) as info:
        rtmfp.Server(LOOP, cluster=url)
    assert "Redis is unreachable" in str(info.value)
    assert url in str(info.value)


def test_a_name_registered_on_one_node_resolves_on_another(redis_url: str) -> None:
    with rtmfp.Server(LOOP, cluster=redis_url) as a, rtmfp.Server(LOOP, cluster=redis_url) as b:
        with rtmfp.NetConnection(bind=LOOP).connect(
            f"rtmfp://{a.address}/app/{KEY}", timeout=WAIT
        ) as owner, rtmfp.NetConnection(bind=LOOP).connect(
            f"rtmfp://{b.address}/app/{KEY}", timeout=WAIT
        ) as seeker:
            owner.register_name("py-owner", timeout=WAIT)
            # Node b has no such client: Redis answers.
            assert seeker.lookup_name("py-owner", timeout=WAIT) == owner.near_id
            with pytest.raises(rtmfp.CallError):
                seeker.lookup_name("nobody", timeout=WAIT)
