#!/usr/bin/env python3
"""Find a friend by name through a rendezvous server, then talk directly.

Start a rendezvous server (or use any RTMFP server with names)::

    $ python chat.py --serve 127.0.0.1:1935
    serving on rtmfp://127.0.0.1:1935/chat

Alice connects and registers her name::

    $ python chat.py --server rtmfp://127.0.0.1:1935/chat --name alice
    * registered as alice (peer ID 3f9c...)

Bob finds her by name and they talk; the server only introduces them::

    $ python chat.py --server rtmfp://127.0.0.1:1935/chat --name bob --find alice
    * found alice: 3f9c...
    * talking with alice

Type lines; they appear on the other side as ``bob> hello``.  Ctrl-C or
end of input (Ctrl-D) leaves.

How it works (Flash's own way, RFC 7425 §5.4): every peer publishes a
DIRECT_CONNECTIONS stream named "chat" and sends each line as a data
message on it.  Bob looks Alice's peer ID up by name and plays her stream
(``NetStream(nc, peer_id)``): the server introduces him to her, and the
session is direct.  Alice sees a new subscriber and plays his stream back.
The server carries no chat at all.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from typing import Dict, Optional, Set

import rtmfp

STREAM = "chat"


def read_stdin(lines: "queue.Queue[Optional[str]]") -> None:
    """Thread: forwards stdin lines; None at end of input."""
    for line in sys.stdin:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def serve(listen: str) -> int:
    """A rendezvous server in Python, printing what happens."""
    with rtmfp.Server(listen) as server:  # any developer key
        host, _, port = server.address.rpartition(":")
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        print(f"serving on rtmfp://{host}:{port}/{STREAM}", flush=True)
        try:
            for e in server.events():
                if isinstance(e, rtmfp.ClientConnected):
                    print(f"* {(e.peer_id or '?')[:16]}... connected from {e.address}", flush=True)
                elif isinstance(e, rtmfp.NameRegistered):
                    print(f"* {e.peer_id[:16]}... is {e.name}", flush=True)
                elif isinstance(e, rtmfp.PeerIntroduced):
                    print(f"* introduced {e.initiator} to {e.peer_id[:16]}...", flush=True)
                elif isinstance(e, rtmfp.ClientDisconnected):
                    print(f"* {(e.peer_id or '?')[:16]}... left", flush=True)
        except KeyboardInterrupt:
            pass
    return 0


def find(nc: rtmfp.NetConnection, name: str, patience: float) -> Optional[str]:
    """The peer ID registered as `name`, asking again until `patience` runs out."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return nc.lookup_name(name)
        except rtmfp.CallError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)


def chat(args: argparse.Namespace) -> int:
    try:
        nc = rtmfp.NetConnection.connect(args.server, bind=args.bind, timeout=10)
    except rtmfp.Error as e:
        print(f"cannot connect to {args.server}: {e}", file=sys.stderr)
        return 1
    with nc:
        try:
            nc.register_name(args.name)
        except rtmfp.CallError as e:
            print(f"cannot register {args.name!r}: {e}", file=sys.stderr)
            return 1
        print(f"* registered as {args.name} (peer ID {nc.near_id})", flush=True)
        mine = rtmfp.NetStream(nc, rtmfp.DIRECT_CONNECTIONS)
        mine.publish(STREAM)

        playing: Dict[str, rtmfp.NetStream] = {}  # peer ID -> their stream we play
        names: Dict[str, str] = {}  # peer ID -> name, once known
        gone: Set[str] = set()

        def label(peer: str) -> str:
            return names.get(peer, peer[:16] + "...")

        def listen_to(peer: str) -> None:
            if peer not in playing:
                theirs = rtmfp.NetStream(nc, peer)
                theirs.play(STREAM)
                playing[peer] = theirs

        if args.find:
            friend = find(nc, args.find, args.patience)
            if friend is None:
                print(f"nobody is registered as {args.find!r}", file=sys.stderr)
                return 1
            names[friend] = args.find
            print(f"* found {args.find}: {friend}", flush=True)
            listen_to(friend)

        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        threading.Thread(target=read_stdin, args=(lines,), daemon=True).start()
        try:
            while True:
                # Events first (short waits keep typing responsive).
                event = nc.next_event(timeout=0.05)
                while event is not None:
                    if isinstance(event, rtmfp.PeerStreamOpened) and event.peer_id:
                        # Someone plays our stream: play theirs back.
                        print(f"* {label(event.peer_id)} joined", flush=True)
                        gone.discard(event.peer_id)
                        listen_to(event.peer_id)
                    elif isinstance(event, rtmfp.NetStatus) and event.stream is not None:
                        peer = event.stream.peer_id  # None for our own stream
                        if peer and event.code == "NetStream.Play.Start":
                            print(f"* talking with {label(peer)}", flush=True)
                        elif peer and (
                            event.level == "error" or event.code == "NetStream.Connect.Closed"
                        ):
                            playing.pop(peer, None)
                            if peer not in gone:
                                gone.add(peer)
                                print(f"* {label(peer)} left", flush=True)
                    elif isinstance(event, rtmfp.Media) and event.message_type == rtmfp.MessageType.DATA:
                        values = event.values()
                        if len(values) == 3 and values[0] == "chat":
                            _, who, text = values
                            if event.stream is not None and event.stream.peer_id:
                                names[event.stream.peer_id] = str(who)
                            print(f"{who}> {text}", flush=True)
                    event = nc.next_event(timeout=0)
                # Then what was typed.
                try:
                    line = lines.get_nowait()
                except queue.Empty:
                    continue
                if line is None:
                    time.sleep(0.5)  # let the last lines arrive, then leave
                    break
                if mine.send_data("chat", args.name, line) == 0:
                    print("* nobody is listening yet", flush=True)
        except KeyboardInterrupt:
            pass
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", metavar="ADDRESS", help="run a rendezvous server here (ip:port)")
    parser.add_argument("--server", metavar="URI", help="the rendezvous server, rtmfp://host:port/app")
    parser.add_argument("--name", default="anonymous", help="the name others find you by")
    parser.add_argument("--find", metavar="NAME", help="talk to the peer registered as NAME")
    parser.add_argument("--bind", default="0.0.0.0:0", help="local address (ip:port)")
    parser.add_argument(
        "--patience", type=float, default=10.0, help="seconds to wait for NAME to appear"
    )
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    if not args.server:
        parser.error("give --serve ADDRESS or --server URI")
    return chat(args)


if __name__ == "__main__":
    sys.exit(main())
