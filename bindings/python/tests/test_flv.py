"""FLV byte streams on a NetStream (issue 16): a publisher writes FLV
bytes split at odd places (NetStream.write_flv), a player reads FLV bytes
back (NetStream.read_flv), through an rtmfp.Server on loopback; blocking
and asyncio; and ffmpeg's own encode, checked with ffprobe.  The same over
DIRECT_CONNECTIONS: a publisher's DIRECT_CONNECTIONS stream writes FLV to a
subscriber that plays it by the publisher's peer ID, the server carrying no
media."""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import subprocess
import tempfile
from typing import Callable, List, Tuple

import pytest

import rtmfp
from conftest import WAIT, wait_net, wait_status

Connect = Callable[[], rtmfp.NetConnection]


def synthetic_flv() -> bytes:
    """2 s of 25 fps video and ~43 fps audio, random payloads."""
    out = bytearray(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00")
    tags = [(9, i * 40, bytes([0x17 if i % 25 == 0 else 0x27, 1]) + os.urandom(200 + 53 * i % 2500)) for i in range(50)]
    tags += [(8, i * 23, b"\xaf\x01" + os.urandom(20 + 7 * i % 200)) for i in range(86)]
    tags.sort(key=lambda t: (t[1], t[0]))
    for kind, ts, data in tags:
        head = struct.pack(">BI", kind, len(data))[0:1] + len(data).to_bytes(3, "big")
        head += (ts & 0xFFFFFF).to_bytes(3, "big") + bytes([ts >> 24]) + b"\x00\x00\x00"
        out += head + data + (11 + len(data)).to_bytes(4, "big")
    return bytes(out)


def tags(flv: bytes) -> List[Tuple[int, int, bytes]]:
    """(type, timestamp, data) of the audio and video tags, each type in
    order (the types interleave as the flows raced)."""
    assert flv[:3] == b"FLV"
    at, found = 13, []
    while at + 11 <= len(flv):
        kind, size = flv[at] & 0x1F, int.from_bytes(flv[at + 1 : at + 4], "big")
        ts = int.from_bytes(flv[at + 4 : at + 7], "big") | flv[at + 7] << 24
        if kind in (8, 9):
            found.append((kind, ts, flv[at + 11 : at + 11 + size]))
        at += 11 + size + 4
    return sorted(found, key=lambda t: (t[0], t[1]))


def pair(
    connect: Connect, name: str, window_ms: int
) -> Tuple[rtmfp.NetStream, rtmfp.NetStream]:
    publisher, player = connect(), connect()
    play = rtmfp.NetStream(player)
    play.start_flv_read(window_ms)
    play.play(name)
    wait_status(player, "NetStream.Play.Start", play)
    live = rtmfp.NetStream(publisher)
    live.publish(name)
    wait_status(publisher, "NetStream.Publish.Start", live)
    wait_status(player, "NetStream.Play.PublishNotify", play)
    return live, play


def p2p_pair(
    connect: Connect, name: str, window_ms: int
) -> Tuple[rtmfp.NetStream, rtmfp.NetStream]:
    """A DIRECT_CONNECTIONS stream publishing `name` and, once it has
    accepted it, a subscriber's peer stream read as FLV."""
    publisher, player = connect(), connect()
    cam = rtmfp.NetStream(publisher, rtmfp.DIRECT_CONNECTIONS)
    cam.publish(name)
    wait_status(publisher, "NetStream.Publish.Start", cam)
    play = rtmfp.NetStream(player, publisher.near_id)
    play.start_flv_read(window_ms)
    play.play(name)
    opened = wait_net(publisher, lambda e: e.kind == "peer_stream_opened")
    assert isinstance(opened, rtmfp.PeerStreamOpened) and opened.stream == cam
    assert cam.peer_streams == [player.near_id]
    wait_status(player, "NetStream.Play.Start", play)
    return cam, play


def write_split(live: rtmfp.NetStream, data: bytes) -> None:
    sizes = [5, 1, 7, 4096, 3, 999, 17]
    at, i = 0, 0
    while at < len(data):
        end = min(at + sizes[i % len(sizes)], len(data))
        i += 1
        while at < end:
            at += live.write_flv(data[at:end], timeout=WAIT)


def read_all(play: rtmfp.NetStream) -> bytes:
    out = bytearray()
    while True:
        piece = play.read_flv(1013, timeout=WAIT)
        if not piece:
            return bytes(out)
        out += piece


@pytest.mark.parametrize("window_ms", [0, 100])
def test_flv_split_anywhere_comes_back_as_flv(connect: Connect, window_ms: int) -> None:
    live, play = pair(connect, f"w{window_ms}", window_ms)
    flv = synthetic_flv()
    write_split(live, flv)
    live.flush_flv(timeout=WAIT)
    live.close()
    got = read_all(play)
    assert tags(got) == tags(flv)
    assert play.read_flv(8, timeout=0) == b""


@pytest.mark.parametrize("window_ms", [0, 100])
def test_flv_over_direct_connections(
    server: rtmfp.Server, connect: Connect, window_ms: int
) -> None:
    cam, play = p2p_pair(connect, f"p2p{window_ms}", window_ms)
    flv = synthetic_flv()
    write_split(cam, flv)
    cam.flush_flv(timeout=WAIT)
    cam.close()  # unpublishes to the subscriber: its read ends
    got = read_all(play)
    assert tags(got) == tags(flv)
    assert play.read_flv(8, timeout=0) == b""
    assert server.stats()["media_in"] == 0, "peer to peer: the server relayed nothing"


def test_not_flv_loses_nothing_before_it(connect: Connect) -> None:
    live, play = pair(connect, "bad", 0)
    flv = synthetic_flv()
    bad = flv + b"hello, not a tag"
    taken = live.write_flv(bad, timeout=WAIT)
    while True:
        try:
            taken += live.write_flv(bad[taken:], timeout=WAIT)
        except rtmfp.InvalidArgument as e:
            assert "not FLV" in str(e)
            break
    assert len(flv) - 4 <= taken < len(bad)
    with pytest.raises(rtmfp.InvalidArgument):
        live.write_flv(b"FLV")
    live.flush_flv(timeout=WAIT)
    live.close()
    assert tags(read_all(play)) == tags(flv)


def test_misuse(connect: Connect) -> None:
    nc = connect()
    ns = rtmfp.NetStream(nc)
    with pytest.raises(rtmfp.NetError):
        ns.read_flv(8, timeout=0)
    with pytest.raises(rtmfp.NetError):
        ns.flv_fileno()
    ns.start_flv_read(0)
    with pytest.raises(rtmfp.NetError):
        ns.start_flv_read(0)
    assert ns.read_flv(64, timeout=0)[:3] == b"FLV"
    with pytest.raises(rtmfp.TimeoutError):
        ns.read_flv(64, timeout=0)
    with pytest.raises(rtmfp.InvalidArgument):
        ns.write_flv(b"GIF89a")
    with pytest.raises(rtmfp.InvalidArgument):
        ns.read_flv(8, timeout=-1)
    nc.close()
    with pytest.raises(rtmfp.ClosedError):
        ns.write_flv(b"FLV")


def test_asyncio(connect: Connect) -> None:
    live, play = pair(connect, "aio", 100)
    flv = synthetic_flv()

    async def main() -> bytes:
        async def publish() -> None:
            await rtmfp.write_flv_async(live, flv)
            await asyncio.get_running_loop().run_in_executor(None, live.flush_flv, WAIT)
            live.close()

        async def receive() -> bytes:
            out = bytearray()
            while True:
                piece = await rtmfp.read_flv_async(play, 4096)
                if not piece:
                    return bytes(out)
                out += piece

        got, _ = await asyncio.wait_for(asyncio.gather(receive(), publish()), WAIT)
        return got

    assert tags(asyncio.run(main())) == tags(flv)


def frames(path: str) -> Tuple[int, int]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "frame=media_type", "-of", "csv=p=0", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    return (
        sum(1 for line in out if line.startswith("video")),
        sum(1 for line in out if line.startswith("audio")),
    )


def ffmpeg_encode() -> bytes:
    """2 s of testsrc2 + sine, libx264 + AAC, as FLV."""
    if not (shutil.which("ffmpeg") and shutil.which("ffprobe")):
        if os.environ.get("RTMFP_SKIP_FFMPEG") == "1":
            pytest.skip("ffmpeg/ffprobe not found and RTMFP_SKIP_FFMPEG=1")
        pytest.fail("ffmpeg and ffprobe are required (RTMFP_SKIP_FFMPEG=1 skips)")
    return subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
         "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi", "-i", "sine",
         "-t", "2", "-c:v", "libx264", "-c:a", "aac", "-f", "flv", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout


def same_frames(encoded: bytes, live: rtmfp.NetStream, play: rtmfp.NetStream) -> None:
    """Writes `encoded` on `live`, reads `play` to its end: ffprobe decodes
    as many video and audio frames from what came as from the encode."""
    write_split(live, encoded)
    live.flush_flv(timeout=WAIT)
    live.close()
    got = read_all(play)
    with tempfile.TemporaryDirectory() as d:
        src, out = os.path.join(d, "src.flv"), os.path.join(d, "out.flv")
        with open(src, "wb") as f:
            f.write(encoded)
        with open(out, "wb") as f:
            f.write(got)
        want = frames(src)
        assert want[0] > 0 and want[1] > 0
        assert frames(out) == want


def test_ffmpeg_encode_through_the_api(connect: Connect) -> None:
    encoded = ffmpeg_encode()
    live, play = pair(connect, "ffmpeg", 100)
    same_frames(encoded, live, play)


def test_ffmpeg_encode_over_direct_connections(server: rtmfp.Server, connect: Connect) -> None:
    encoded = ffmpeg_encode()
    cam, play = p2p_pair(connect, "ffmpeg-p2p", 100)
    same_frames(encoded, cam, play)
    assert server.stats()["media_in"] == 0


def test_a_burst_over_direct_connections_waits_instead_of_dropping(connect: Connect) -> None:
    """More than the subscriber's flow can hold at once (9 MB of data tags,
    which have no lifetime): write_flv waits for room, as through a
    server, and every tag arrives (before the fix, the tags that did not
    fit were reported sent to no one and lost)."""
    cam, play = p2p_pair(connect, "burst", 0)
    out = bytearray(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00")
    bodies = [bytes([2, 0, 4]) + b"blob" + os.urandom(60_000) for _ in range(150)]
    for i, body in enumerate(bodies):
        head = bytes([18]) + len(body).to_bytes(3, "big") + (i * 10).to_bytes(3, "big") + b"\x00\x00\x00\x00"
        out += head + body + (11 + len(body)).to_bytes(4, "big")
    flv = bytes(out)
    at = 0
    while at < len(flv):
        at += cam.write_flv(flv[at:], timeout=WAIT)
    cam.flush_flv(timeout=WAIT)
    cam.close()
    got = read_all(play)
    data, at = [], 13
    while at + 11 <= len(got):
        kind, size = got[at] & 0x1F, int.from_bytes(got[at + 1 : at + 4], "big")
        if kind == 18 and got[at + 11 : at + 18] == bytes([2, 0, 4]) + b"blob":
            data.append(got[at + 11 : at + 11 + size])
        at += 11 + size + 4
    assert data == bodies
