#!/usr/bin/env python3
"""A delaying Ethernet cable between two interfaces, for tests/nat/run.sh.

Usage: wire.py IFACE1 IFACE2 DELAY_MS

Run inside a namespace that holds both interfaces (up, promiscuous, no
addresses): every frame received on one goes out of the other DELAY_MS
later, in order.  It stands in for `tc qdisc ... netem delay`, which kernels
without CONFIG_NET_SCH_NETEM lack.  Runs until killed.
"""

import heapq
import itertools
import select
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    names = sys.argv[1:3]
    delay = float(sys.argv[3]) / 1000.0
    socks = []
    for name in names:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setblocking(False)
        socks.append(s)
    other = {socks[0].fileno(): socks[1], socks[1].fileno(): socks[0]}
    queue: list = []  # (due, seq, out socket, frame)
    seq = itertools.count()
    print("wire up", flush=True)
    while True:
        timeout = None
        if queue:
            timeout = max(0.0, queue[0][0] - time.monotonic())
        readable, _, _ = select.select(socks, [], [], timeout)
        now = time.monotonic()
        for s in readable:
            while True:
                try:
                    frame, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmission, seen on the way out
                heapq.heappush(queue, (now + delay, next(seq), other[s.fileno()], frame))
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, frame = heapq.heappop(queue)
            try:
                out.send(frame)
            except OSError:
                pass  # a full queue or a vanished interface: a lost frame


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
