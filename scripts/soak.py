#!/usr/bin/env python3
"""Soak: an `rtmfp server` under a churn of clients for a while, watched.

Usage: scripts/soak.py [--minutes M] [--sample SECS] [--rtmfp BIN] [--clients N]

The server runs on a free loopback port.  Up to N rounds run at once, each
a few seconds of real traffic made with the `rtmfp` CLI:
  - a DIRECT_CONNECTIONS publisher with a registered name and a player that
    finds it by name and plays it peer to peer;
  - a publisher through the server and a player of it (the relay);
  - a player of a peer whose play falls back to the server relay (a 1 us
    direct timeout);
  - a client killed with SIGKILL mid-stream (its session must time out);
  - a burst of garbage datagrams (truncated, random, RTMFP-shaped) at the
    server.

Every SAMPLE seconds it prints one line: the server's RSS, open fds,
threads, connected clients (connects minus disconnects in its log) and the
rounds done.  At the end it prints, per kind of client, how many ran and
how many failed, with the last failure's exit status and stderr line.  It
compares the last third of the samples with the first third after warm-up
and fails (exit 1) if RSS, fds or threads grew beyond a bound (RSS: 20 % and 8 MB; fds and threads: 16) while the load was
the same, or if the server died.  CI runs a one-minute version; the issue's
soak is `scripts/soak.py --minutes 30`.
"""

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def proc_stats(pid):
    """RSS (KB), open fds, threads of a live process."""
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    rss = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


class Server:
    def __init__(self, rtmfp):
        self.proc = subprocess.Popen(
            [rtmfp, "server", "--listen", "127.0.0.1:0", "--any-key"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.connects = 0
        self.disconnects = 0
        self.port = None
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                if line.startswith("listening "):
                    self.port = int(line.rsplit(":", 1)[1])
                    ready.set()
                elif line.startswith("connect "):
                    self.connects += 1
                elif line.startswith("disconnect "):
                    self.disconnects += 1

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            sys.exit("soak: the server did not start")

    def uri(self, stream):
        return f"rtmfp://127.0.0.1:{self.port}/soak/key#{stream}"

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Client:
    """One `rtmfp` client process of a round, labelled with its kind."""

    def __init__(self, rtmfp, kind, args, timeout=30):
        self.kind = kind
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [rtmfp, *args], stdout=subprocess.DEVNULL, stderr=self.err
        )
        self.deadline = time.monotonic() + timeout

    def finish(self):
        """Waits (bounded), killing a late process.  Returns None on
        success, or why the process failed: its exit status and the last
        line it wrote to stderr."""
        try:
            code = self.proc.wait(max(0.1, self.deadline - time.monotonic()))
            why = None if code == 0 else f"exit {code}"
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            why = "killed after its deadline"
        if why is not None:
            self.err.seek(0)
            lines = self.err.read().decode(errors="replace").strip().splitlines()
            if lines:
                why += ": " + lines[-1][:160]
        self.err.close()
        return why


def finish(clients, tally):
    """Waits for every client of a round; counts runs and failures per kind
    in `tally` (kind -> [runs, failures, last reason])."""
    failures = 0
    for c in clients:
        why = c.finish()
        entry = tally.setdefault(c.kind, [0, 0, ""])
        entry[0] += 1
        if why is not None:
            failures += 1
            entry[1] += 1
            entry[2] = why
    return failures


def garbage(port, count=500):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rng = random.Random(port)
    for i in range(count):
        kind = i % 4
        if kind == 0:
            data = os.urandom(rng.randrange(0, 12))
        elif kind == 1:
            data = os.urandom(rng.randrange(12, 1500))
        elif kind == 2:  # session ID 0 with a startup-shaped body
            data = b"\x00\x00\x00\x00" + bytes([0x0B]) + os.urandom(rng.randrange(8, 200))
        else:  # an open session's ID, garbage after it
            data = os.urandom(4) + os.urandom(rng.randrange(1, 300))
        s.sendto(data, ("127.0.0.1", port))
    s.close()


def round_of_traffic(rtmfp, server, n, tally):
    """One round: every kind of client once, and a burst of garbage."""
    name = f"soak{n}"
    quiet = ["--bind", "127.0.0.1:0", "-q"]
    clients = [Client(rtmfp, "p2p publisher (by name)",
                      ["publish", server.uri(name), "--direct", "--name", name,
                       "--synthetic", "3", *quiet])]
    time.sleep(0.5)
    clients.append(Client(rtmfp, "p2p player (by name)",
                          ["play", server.uri(name), "--peer-name", name, *quiet]))
    relay = f"soakrelay{n}"
    clients.append(Client(rtmfp, "player via server",
                          ["play", server.uri(relay), "--count", "20", *quiet]))
    time.sleep(0.3)
    clients.append(Client(rtmfp, "publisher via server",
                          ["publish", server.uri(relay), "--synthetic", "2", *quiet]))
    fallback = f"soakfb{n}"
    clients.append(Client(rtmfp, "p2p publisher (fallback)",
                          ["publish", server.uri(fallback), "--direct", "--name", fallback,
                           "--synthetic", "2", *quiet]))
    time.sleep(0.5)
    clients.append(Client(rtmfp, "player falling back to relay",
                          ["play", server.uri(fallback), "--peer-name", fallback,
                           "--direct-timeout", "0.000001", *quiet]))
    # A client that dies without closing: its session must time out.
    victim = subprocess.Popen([rtmfp, "play", server.uri(f"nothing{n}"), *quiet],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    garbage(server.port)
    time.sleep(1.0)
    victim.kill()
    victim.wait()
    return finish(clients, tally)


def print_tally(tallies):
    """Runs and failures per kind of client, with the last failure's reason."""
    total = {}
    for tally in tallies:
        for kind, (runs, failed, why) in tally.items():
            entry = total.setdefault(kind, [0, 0, ""])
            entry[0] += runs
            entry[1] += failed
            entry[2] = why or entry[2]
    print(f"{'client kind':<30} {'runs':>6} {'failed':>6}  last failure")
    for kind, (runs, failed, why) in sorted(total.items()):
        print(f"{kind:<30} {runs:6d} {failed:6d}  {why}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--sample", type=float, default=60)
    ap.add_argument("--clients", type=int, default=3, help="rounds at once")
    ap.add_argument("--rtmfp", default=os.path.join(ROOT, "target", "release", "rtmfp"))
    a = ap.parse_args()
    server = Server(a.rtmfp)
    pid = server.proc.pid
    stop = time.monotonic() + a.minutes * 60
    done = [0, 0]  # rounds, failed processes
    tallies = [{} for _ in range(a.clients)]  # per worker: kind -> [runs, failed, why]
    lock = threading.Lock()

    def worker(k):
        n = k
        while time.monotonic() < stop and server.alive():
            failed = round_of_traffic(a.rtmfp, server, n, tallies[k])
            with lock:
                done[0] += 1
                done[1] += failed
            n += a.clients

    workers = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(a.clients)]
    for w in workers:
        w.start()
    samples = []
    start = time.monotonic()
    print(f"soak: rtmfp server pid {pid} on 127.0.0.1:{server.port}, {a.minutes} min, "
          f"{a.clients} rounds at once, a sample every {a.sample:.0f} s")
    print(f"{'t (s)':>6} {'RSS KB':>8} {'fds':>5} {'threads':>7} {'clients':>7} {'rounds':>6} {'failed':>6}")
    while time.monotonic() < stop and server.alive():
        time.sleep(min(a.sample, max(0.1, stop - time.monotonic())))
        if not server.alive():
            break
        rss, fds, threads = proc_stats(pid)
        clients = server.connects - server.disconnects
        samples.append((rss, fds, threads))
        print(f"{time.monotonic() - start:6.0f} {rss:8d} {fds:5d} {threads:7d} {clients:7d} "
              f"{done[0]:6d} {done[1]:6d}", flush=True)
    for w in workers:
        w.join(60)
    alive = server.alive()
    # The sessions of the killed clients time out (RFC 7016 idle limit):
    # give the last ones time before the final sample.
    server.stop()
    if not alive:
        print_tally(tallies)
        print("soak: FAIL: the server died")
        return 1
    if len(samples) < 3:
        print("soak: too short to compare; pass")
        return 0
    third = max(1, len(samples) // 3)
    early = samples[1:1 + third] or samples[:third]
    late = samples[-third:]
    grew = []
    e_rss, l_rss = max(s[0] for s in early), max(s[0] for s in late)
    if l_rss > e_rss * 1.2 and l_rss - e_rss > 8 * 1024:
        grew.append(f"RSS {e_rss} -> {l_rss} KB")
    for k, what in ((1, "fds"), (2, "threads")):
        e, l = max(s[k] for s in early), max(s[k] for s in late)
        if l - e > 16:
            grew.append(f"{what} {e} -> {l}")
    print(f"soak: {done[0]} rounds, {done[1]} client processes failed; "
          f"early max RSS {e_rss} KB, late max RSS {l_rss} KB")
    print_tally(tallies)
    if grew:
        print("soak: FAIL: grew while the load was the same: " + ", ".join(grew))
        return 1
    print("soak: pass (nothing grew)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
