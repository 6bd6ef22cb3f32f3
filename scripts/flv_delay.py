#!/usr/bin/env python3
"""The delay rtmfp adds to an FLV pipe (issue 16, item 4), and its CPU.

    scripts/flv_delay.py [--seconds N] [--window MS ...] [--rtmfp PATH]

For each path (through the server, and peer to peer) and each player
window, it runs

    ffmpeg -re ... -f flv - | [tap] | rtmfp publish URI - --speed 0
    rtmfp play URI --out - --window MS | [tap]

where the taps time each FLV tag as ffmpeg writes it and as the player
writes it, matched by type, timestamp and content.  It prints, per run, the
median, p99 and maximum of that delay, the tags matched, and the CPU time
of the publisher and the player.  Everything runs on loopback; ffmpeg comes
from the Debian package (scripts/test.sh installs it).  Standard library
only.
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys
import threading
import time

HEADER = 13  # FLV header (9) + PreviousTagSize0 (4)


class Tags:
    """Parses an FLV byte stream as it comes; records when each tag ended."""

    def __init__(self):
        self.buf = bytearray()
        self.header = False
        self.seen = {}

    def feed(self, data, now):
        self.buf += data
        if not self.header:
            if len(self.buf) < HEADER:
                return
            del self.buf[:HEADER]
            self.header = True
        while len(self.buf) >= 11:
            size = int.from_bytes(self.buf[1:4], "big")
            if len(self.buf) < 11 + size + 4:
                return
            kind = self.buf[0] & 0x1F
            ts = int.from_bytes(self.buf[4:7], "big") | self.buf[7] << 24
            digest = hashlib.blake2b(self.buf[11 : 11 + size], digest_size=8).digest()
            self.seen.setdefault((kind, digest), (ts, now))
            del self.buf[: 11 + size + 4]


def pump(src, dst, tags):
    """Copies src to dst (if any), timing tags; closes dst at the end."""
    while True:
        data = src.read1(65536) if hasattr(src, "read1") else src.read(65536)
        if not data:
            break
        tags.feed(data, time.monotonic())
        if dst is not None:
            try:
                dst.write(data)
                dst.flush()
            except BrokenPipeError:
                break
    if dst is not None:
        try:
            dst.close()
        except BrokenPipeError:
            pass


def wait_line(proc, pattern, timeout=30):
    """The first stdout line of proc matching pattern (a regex)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(pattern, line.decode(errors="replace"))
        if m:
            return m
    raise SystemExit(f"no line matching {pattern!r}")


def cpu_of(proc, timeout=30):
    """Waits (at most `timeout`, then stops it) for a child; its user +
    system seconds."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.terminate()
            deadline = float("inf")
        time.sleep(0.05)


def run(rtmfp, seconds, window, p2p):
    server = subprocess.Popen(
        [rtmfp, "server", "--listen", "127.0.0.1:0", "--any-key"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        addr = wait_line(server, r"^listening (\S+)").group(1)
        uri = f"rtmfp://{addr}/live/key#cam"
        publish_args = [rtmfp, "publish", uri, "-", "--speed", "0", "-q"]
        play_args = [rtmfp, "play", uri, "--out", "-", "--window", str(window), "-q"]
        if p2p:
            publish_args.append("--direct")
        ffmpeg = subprocess.Popen(
            ["ffmpeg", "-loglevel", "error", "-re",
             "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
             "-f", "lavfi", "-i", "sine", "-t", str(seconds),
             "-c:v", "libx264", "-g", "50", "-c:a", "aac", "-f", "flv", "-"],
            stdout=subprocess.PIPE,
        )
        # The first bytes (FLV header) let the publisher start.
        publisher = subprocess.Popen(
            publish_args, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if p2p else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        sent, received = Tags(), Tags()
        tap_in = threading.Thread(target=pump, args=(ffmpeg.stdout, publisher.stdin, sent))
        tap_in.start()
        if p2p:
            peer = wait_line(publisher, r"peer ID ([0-9a-f]{64})").group(1)
            play_args += ["--peer", peer]
            threading.Thread(target=lambda: publisher.stdout.read(), daemon=True).start()
        player = subprocess.Popen(play_args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        tap_out = threading.Thread(target=pump, args=(player.stdout, None, received))
        tap_out.start()
        tap_in.join(seconds + 60)
        ffmpeg.wait(timeout=30)
        publish_cpu = cpu_of(publisher)
        play_cpu = cpu_of(player)
        tap_out.join(10)
    finally:
        server.terminate()
        server.wait()
    # Steady state only: from 1 s after the player's first media tag (the
    # start-up, a late join, a P2P publisher waiting for its subscriber
    # are not the pipe's delay).
    arrivals = [t for k, (_, t) in received.seen.items() if k[0] in (8, 9)]
    steady = min(arrivals) + 1.0 if arrivals else float("inf")
    delays = sorted(
        (received.seen[k][1] - t) * 1e3
        for k, (_, t) in sent.seen.items()
        if k in received.seen and k[0] in (8, 9) and t >= steady
    )
    media = sum(1 for k in sent.seen if k[0] in (8, 9))
    return delays, media, publish_cpu, play_cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=12)
    ap.add_argument("--window", type=int, action="append")
    ap.add_argument("--rtmfp", default="target/release/rtmfp")
    args = ap.parse_args()
    windows = args.window or [0, 100]
    print(f"{args.seconds} s of 320x240 25 fps H.264 + AAC from ffmpeg -re, loopback")
    print("| path | player window | tags matched | delay median | p99 | max | publish CPU | play CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    failed = 0
    for p2p in (False, True):
        for window in windows:
            delays, media, pub, play = run(args.rtmfp, args.seconds, window, p2p)
            if not delays:
                failed += 1
                print(f"| {'P2P' if p2p else 'server'} | {window} ms | 0 of {media} | - | - | - | - | - |")
                continue
            pick = lambda q: delays[min(len(delays) - 1, int(q * (len(delays) - 1) + 0.5))]
            print(
                f"| {'P2P' if p2p else 'server'} | {window} ms | {len(delays)} of {media} | "
                f"{pick(0.5):.1f} ms | {pick(0.99):.1f} ms | {delays[-1]:.1f} ms | "
                f"{pub:.2f} s | {play:.2f} s |"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
