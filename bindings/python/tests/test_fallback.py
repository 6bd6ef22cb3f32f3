"""The relay fallback (docs/relay-fallback.md) through the Python API: a
``direct_timeout`` of 1 µs gives up the direct path before any handshake
can finish, as two symmetric NATs would, so the player plays through the
server relay on the same NetStream ("NetStream.Play.Relayed"), the
publisher is told ("NetStream.Publish.Relayed"), and every message
arrives."""

from __future__ import annotations

import os
from typing import List

import pytest

import rtmfp
from conftest import WAIT, uri, wait_net, wait_status


def test_no_direct_path_in_time_plays_through_the_server_relay(server: rtmfp.Server) -> None:
    publisher = rtmfp.NetConnection.connect(uri(server), timeout=WAIT, bind="127.0.0.1:0")
    player = rtmfp.NetConnection.connect(
        uri(server), timeout=WAIT, bind="127.0.0.1:0", direct_timeout=1e-6
    )
    try:
        cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
        cam.publish("cam")
        wait_status(publisher, "NetStream.Publish.Start", cam)
        play = rtmfp.NetStream(player, publisher.near_id)
        play.play("cam")
        relayed = wait_status(player, "NetStream.Play.Relayed", play)
        assert "no direct path to peer" in relayed.description
        wait_status(player, "NetStream.Play.Start", play)
        told = wait_status(publisher, "NetStream.Publish.Relayed", cam)
        assert player.near_id in told.description
        frames = [bytes([0xAF, 1]) + os.urandom(30 + i * 11) for i in range(30)]
        for i, f in enumerate(frames):
            assert cam.send_audio(i * 23, f) == 1, "the relay is one destination"
        got: List[bytes] = []
        while len(got) < len(frames):
            e = wait_net(player, lambda e: e.kind == "media")
            assert isinstance(e, rtmfp.Media) and e.stream == play
            got.append(e.payload)
        assert got == frames
        assert server.stats()["relayed"] >= len(frames)
    finally:
        player.close()
        publisher.close()


def test_direct_timeout_is_checked() -> None:
    with pytest.raises(rtmfp.InvalidArgument):
        rtmfp.NetConnection(direct_timeout=-1.0)
