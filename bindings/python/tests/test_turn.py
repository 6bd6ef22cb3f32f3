"""``turn=``: every datagram through a real TURN relay (coturn, started by
scripts/test.sh as ``RTMFP_TURN_URI``).  A direct (DIRECT_CONNECTIONS)
stream between two relayed NetConnections arrives whole and each side sees
the other at its relayed address; bad credentials raise ``OSError`` naming
the 401; a URI that does not parse raises ``ValueError``."""

from __future__ import annotations

import os
from typing import List

import pytest

import rtmfp
from conftest import WAIT, uri, wait_net, wait_status

TURN = os.environ.get("RTMFP_TURN_URI")
needs_turn = pytest.mark.skipif(not TURN, reason="RTMFP_TURN_URI is not set (scripts/test.sh sets it)")


@needs_turn
def test_a_direct_stream_between_two_relayed_connections(server: rtmfp.Server) -> None:
    publisher = rtmfp.NetConnection.connect(uri(server), timeout=WAIT, bind="127.0.0.1:0", turn=TURN)
    player = rtmfp.NetConnection.connect(uri(server), timeout=WAIT, bind="127.0.0.1:0", turn=TURN)
    try:
        cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
        cam.publish("cam")
        wait_status(publisher, "NetStream.Publish.Start", cam)
        play = rtmfp.NetStream(player, publisher.near_id)
        play.play("cam")
        wait_status(player, "NetStream.Play.Start", play)
        frames = [bytes([0xAF, 1]) + os.urandom(40 + i * 7) for i in range(40)]
        for i, f in enumerate(frames):
            assert cam.send_audio(i * 23, f) == 1
        got: List[bytes] = []
        while len(got) < len(frames):
            e = wait_net(player, lambda e: e.kind == "media")
            assert isinstance(e, rtmfp.Media)
            got.append(e.payload)
        assert got == frames
        # The server sees each client at its relayed address, never at its
        # socket's, and that is the only address the client announced.
        for nc in (publisher, player):
            (session,) = [s for s in server.sessions() if s.peer_id == nc.near_id]
            assert session.address != nc.address, "the server sees the relay"
            assert session.address == nc.relayed_address, "at the relayed address"
            assert set(session.addresses) <= {session.address}
    finally:
        player.close()
        publisher.close()


@needs_turn
def test_wrong_turn_credentials_raise_oserror_with_the_reason(server: rtmfp.Server) -> None:
    assert TURN is not None
    user_pass, host = TURN[len("turn://") :].rsplit("@", 1)
    bad = f"turn://{user_pass.split(':')[0]}:nope@{host}"
    with pytest.raises(OSError) as info:
        rtmfp.NetConnection.connect(uri(server), timeout=WAIT, turn=bad)
    assert "401" in str(info.value)


def test_a_turn_uri_that_does_not_parse_raises_valueerror() -> None:
    with pytest.raises(ValueError, match="turn"):
        rtmfp.NetConnection(turn="turn://user@host")
    with pytest.raises(ValueError, match="port"):
        rtmfp.Endpoint("127.0.0.1:0", turn="turn:host:notaport")
    with pytest.raises(ValueError):
        rtmfp.Server("127.0.0.1:0", turn="turns:host")
