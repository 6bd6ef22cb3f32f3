#!/usr/bin/env python3
"""Two (or more) peers exchanging lines of text over RTMFP.

Start one peer; it prints how others can join::

    $ python chat.py --name alice --listen 127.0.0.1:5000
    alice: peer ID 3f9c...e1 at 127.0.0.1:5000
    others join with: python chat.py --connect 3f9c...e1@127.0.0.1:5000

Join from another terminal (or machine)::

    $ python chat.py --name bob --connect 3f9c...e1@127.0.0.1:5000

Type lines; they appear on the other side as ``alice> hello``.  Ctrl-C or
end of input (Ctrl-D) leaves.

Peers are found by peer ID and address for now.  Finding a friend by name
("find a friend by name and talk") comes with the rendezvous server
(``rtmfp.Server`` and ``NetConnection`` with ``DIRECT_CONNECTIONS``), which
introduces peers by peer ID without knowing their address.

Each peer opens one flow, with metadata ``chat:<name>``, on every session
(the one it starts and the ones that reach it), and accepts the chat flows
that others open.  Everything else is the library's: sessions, crypto,
retransmission and ordering.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from typing import Dict, Optional, Set, Tuple

import rtmfp

PREFIX = b"chat:"


def read_stdin(lines: "queue.Queue[Optional[str]]") -> None:
    """Thread: forwards stdin lines; None at end of input."""
    for line in sys.stdin:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="anonymous", help="shown to the others")
    parser.add_argument("--listen", default="0.0.0.0:0", help="address to bind (ip:port)")
    parser.add_argument(
        "--connect", metavar="PEER_ID@ADDRESS", help="join the peer with this ID at this address"
    )
    args = parser.parse_args()

    with rtmfp.Endpoint(args.listen) as ep:
        print(f"{args.name}: peer ID {ep.peer_id} at {ep.address}", flush=True)
        print(f"others join with: python chat.py --connect {ep.peer_id}@{ep.address}", flush=True)
        metadata = PREFIX + args.name.encode()
        out: Dict[rtmfp.Session, rtmfp.Flow] = {}  # our flow on each session
        names: Dict[rtmfp.RecvFlow, str] = {}  # who talks on each incoming flow
        unacked: Set[Tuple[rtmfp.Flow, int]] = set()  # (flow, message id)

        if args.connect:
            peer_id, _, address = args.connect.partition("@")
            try:
                session = ep.connect_peer(peer_id, address, timeout=10)
            except rtmfp.Error as e:
                print(f"cannot join: {e}", file=sys.stderr)
                return 1
            out[session] = session.open_flow(metadata)
            print(f"* joined {peer_id[:16]}...", flush=True)

        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=read_stdin, args=(lines,), daemon=True).start()
        leaving_at: Optional[float] = None
        try:
            while leaving_at is None or (unacked and time.monotonic() < leaving_at):
                # Events first (short waits keep typing responsive).
                event = ep.next_event(timeout=0.05)
                while event is not None:
                    if isinstance(event, rtmfp.SessionOpened) and event.role == "responder":
                        out[event.session] = event.session.open_flow(metadata)
                        print(f"* {event.far_peer_id and event.far_peer_id[:16]}... joined", flush=True)
                    elif isinstance(event, rtmfp.FlowOpened):
                        if event.metadata.startswith(PREFIX):
                            names[event.flow] = event.metadata[len(PREFIX) :].decode(errors="replace")
                            event.flow.accept()
                        else:
                            event.flow.reject(1)
                    elif isinstance(event, rtmfp.Message):
                        who = names.get(event.flow, "?")
                        print(f"{who}> {event.data.decode(errors='replace')}", flush=True)
                    elif isinstance(event, (rtmfp.MessageDelivered, rtmfp.MessageAbandoned)):
                        unacked.discard((event.flow, event.message))
                    elif isinstance(event, rtmfp.SessionClosed):
                        out.pop(event.session, None)
                        print("* a peer left", flush=True)
                    event = ep.next_event(timeout=0)
                # Then what was typed.
                while leaving_at is None:
                    try:
                        line = lines.get_nowait()
                    except queue.Empty:
                        break
                    if line is None:
                        leaving_at = time.monotonic() + 5  # flush, then leave
                        break
                    for flow in out.values():
                        unacked.add((flow, flow.send(line.encode())))
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
