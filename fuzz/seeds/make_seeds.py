#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/
(stdlib only; run from anywhere). scripts/fuzz.sh copies them into each
target's working corpus before it runs.

- datagram, endpoint: the handshake datagrams captured from rtmfp-cpp,
  librtmfp and MonaServer2 (tests/fixtures/*/).
- amf, flash_message, flv, rendezvous: messages shaped as the other stacks
  send them
  (the connect, setPeerInfo without a command object as librtmfp sends it,
  Set Keepalive Timers, onStatus, an AMF3 object, a small FLV file).
"""
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def s0(text):
    b = text.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def n0(x):
    return b"\x00" + struct.pack(">d", x)


def obj0(props):
    out = b"\x03"
    for k, v in props:
        kb = k.encode()
        out += struct.pack(">H", len(kb)) + kb + v
    return out + b"\x00\x00\x09"


def write(target, name, data):
    d = HERE / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    for target in ("datagram", "endpoint"):
        for f in sorted((ROOT / "tests" / "fixtures").glob("*/*.bin")):
            d = HERE / target
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, d / f"{f.parent.name}-{f.name}")

    connect = s0("connect") + n0(1) + obj0([
        ("app", s0("live")), ("flashVer", s0("WIN 11,1,102,55")),
        ("tcUrl", s0("rtmfp://127.0.0.1/live")), ("fpad", b"\x01\x00"),
        ("capabilities", n0(235)), ("objectEncoding", n0(3)),
    ])
    set_peer_info_lr = s0("setPeerInfo") + n0(0) + s0("192.0.2.2:56699") + s0("[fd00::2]:58429")
    on_status = s0("onStatus") + n0(0) + b"\x05" + obj0([
        ("level", s0("status")), ("code", s0("NetStream.Play.Start")),
        ("description", s0("Started playing")),
    ])
    amf3_object = b"\x11\x0a\x0b\x01\x07app\x06\x09live\x0bcount\x04\x7f\x01"
    write("amf", "connect.amf0", connect)
    write("amf", "onstatus.amf0", on_status)
    write("amf", "object.amf3", amf3_object[1:])
    write("amf", "avmplus.amf0", amf3_object)

    ts = b"\x00\x00\x00\x00"
    write("flash_message", "connect", b"\x14" + ts + connect)
    write("flash_message", "connect-amf3", b"\x11" + ts + b"\x00" + connect)
    write("flash_message", "set-peer-info-librtmfp", b"\x14" + ts + set_peer_info_lr)
    write("flash_message", "onstatus", b"\x14" + ts + on_status)
    write("flash_message", "keepalive-timers", b"\x04" + ts + bytes.fromhex("0029 00003a98 00002710"))
    write("flash_message", "flow-metadata", b"TC\x04\xfa\x89\x01")

    def tag(t, time, body):
        head = bytes([t]) + len(body).to_bytes(3, "big") + (time & 0xFFFFFF).to_bytes(3, "big") + bytes([time >> 24]) + b"\x00\x00\x00"
        return head + body + struct.pack(">I", 11 + len(body))
    flv = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
    flv += tag(18, 0, s0("onMetaData") + b"\x08\x00\x00\x00\x01" + b"\x00\x08duration" + n0(1.0) + b"\x00\x00\x09")
    flv += tag(9, 0, bytes.fromhex("1700000000014242c01effe1000a6742c01ed900a047fec80100046 8ce3c80".replace(" ", "")))
    flv += tag(8, 0, bytes.fromhex("af001210"))
    flv += tag(9, 40, bytes.fromhex("1701000000") + bytes(range(64)))
    flv += tag(8, 23, bytes.fromhex("af01") + bytes(range(32)))
    write("flv", "small.flv", flv)
    # flv_stream: the first byte is where the stream is cut.
    for cut in (1, 7, 13, 255):
        write("flv_stream", f"small-cut{cut}.bin", bytes([cut]) + flv)

    # rendezvous: op len body ... (see fuzz/fuzz_targets/rendezvous.rs).
    def op(code, body):
        assert len(body) < 256
        return bytes([code, len(body)]) + body
    null = b"\x05"
    create = s0("createStream") + n0(2) + null
    publish = s0("publish") + n0(0) + null + s0("cam")
    play = s0("play") + n0(0) + null + s0("cam")
    register = s0("registerName") + n0(3) + null + s0("alice")
    lookup = s0("lookupName") + n0(4) + null + s0("alice")
    write("rendezvous", "peer-info-and-names",
          op(2, set_peer_info_lr) + op(2, register) + op(2, lookup) + op(3, b"\x05"))
    write("rendezvous", "publish-and-play",
          op(2, create) + op(0, b"TC\x04\x01") + op(2, publish)
          + op(1, b"\x08\x00\x00\x00\x00\xaf\x01hello")
          + op(0, b"TC\x04\x02") + op(2, play) + op(3, b"\x0a"))
    # Flow Synchronization (RFC 7425 §5.2): barrier 8 on two flows with a
    # command held behind it, then barrier 9 that never completes.
    def sync(sync_id, count):
        return b"\x04\x00\x00\x00\x00\x00\x22" + sync_id.to_bytes(4, "big") + count.to_bytes(4, "big")
    check = s0("checkInfo") + n0(5) + null
    write("rendezvous", "flow-sync",
          op(1, sync(8, 2)) + op(2, check) + op(0, b"TC\x04\x00") + op(1, sync(8, 2))
          + op(1, sync(9, 3)) + op(2, check) + op(3, b"\xff"))


if __name__ == "__main__":
    main()
