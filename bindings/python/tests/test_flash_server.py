"""Interop with a Flash server we did not write (MonaServer2 in
scripts/test.sh when MONASERVER2_DIR names a build; our own `rtmfp server`
otherwise): NetConnections connect to $RTMFP_FLASH_SERVER_URI, one
publishes through the server, the other plays, and the audio arrives byte
for byte. Skipped without RTMFP_FLASH_SERVER_URI."""

from __future__ import annotations

import os
from typing import List

import pytest

import rtmfp
from conftest import wait_net, wait_status

URI = os.environ.get("RTMFP_FLASH_SERVER_URI", "")


@pytest.mark.skipif(not URI, reason="RTMFP_FLASH_SERVER_URI is not set")
def test_publish_and_play_through_a_flash_server() -> None:
    publisher = rtmfp.NetConnection.connect(URI, bind="127.0.0.1:0")
    player = rtmfp.NetConnection.connect(URI, bind="127.0.0.1:0")
    try:
        assert publisher.connected and len(publisher.near_id) == 64
        assert len(publisher.far_id) == 64
        live = rtmfp.NetStream(publisher, None)
        live.publish("py-interop")
        wait_status(publisher, "NetStream.Publish.Start", live)
        watch = rtmfp.NetStream(player)
        watch.play("py-interop")
        wait_status(player, "NetStream.Play.Start", watch)
        frames = [b"\xaf\x01" + bytes((i * 7 + k) % 256 for k in range(20 + i * 5)) for i in range(30)]
        for i, f in enumerate(frames):
            assert live.send_audio(i * 23, f) == 1
        got: List[bytes] = []
        while len(got) < len(frames):
            # A server may add data messages of its own (MonaServer2 does).
            e = wait_net(
                player,
                lambda e: isinstance(e, rtmfp.Media) and e.message_type == rtmfp.MessageType.AUDIO,
            )
            assert isinstance(e, rtmfp.Media)
            got.append(e.payload)
        assert got == frames
        # Unpublish and stop playing before leaving, as Flash Player did.
        watch.close()
        live.close()
    finally:
        player.close()
        publisher.close()
