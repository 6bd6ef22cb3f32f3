"""rtmfp: RTMFP (RFC 7016) with the Flash profile (RFC 7425).

Python bindings over the Rust implementation: every protocol decision is
made in Rust, on the endpoint's own I/O thread; this package translates.

Blocking style::

    with rtmfp.Endpoint("127.0.0.1:0") as ep:
        session = ep.connect_peer(peer_id, "127.0.0.1:1935", timeout=5)
        flow = session.open_flow(b"chat")
        flow.send(b"hello")
        for event in ep.events():
            if event.kind == "message_delivered":
                break

asyncio style::

    async with rtmfp.Endpoint("127.0.0.1:0") as ep:
        session = await ep.connect_peer_async(peer_id, address)
        async for event in ep.events_async():
            ...

Blocking calls release the GIL and Ctrl-C interrupts them; the asyncio
methods wait on the endpoint's event fd with ``loop.add_reader`` (no
polling, no thread per endpoint).  Use one style per endpoint: events read
by one are not seen by the other.

The Flash layer (RFC 7425 §5) and a rendezvous server::

    with rtmfp.Server("127.0.0.1:1935") as server:          # any key
        nc = rtmfp.NetConnection.connect("rtmfp://127.0.0.1:1935/app")
        cam = rtmfp.NetStream(nc, rtmfp.DIRECT_CONNECTIONS)
        cam.publish("cam")                                   # peers play it by nc.near_id
        cam.send_video(0, flv_video_tag_body)

``NetConnection``, ``NetStream`` and ``Server`` have the same blocking and
asyncio styles.  Python callbacks (``NetStream.on_peer_connect``, the
server's hooks) run on the thread that reads their events, never on the
I/O thread.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import inspect
import json
import textwrap
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Awaitable,
    Generic,
    Literal,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    cast,
    overload,
)

from . import _aio, _rtmfp
from ._rtmfp import (
    CONNECT_TO_FMS,
    CheckReport,
    DIRECT_CONNECTIONS,
    CallError,
    CallResult,
    CallbackError,
    ClientConnected,
    ClientDisconnected,
    ClientPeerInfo,
    ClientRejected,
    ClosedError,
    ConnectError,
    Error,
    EventIterator,
    FarAddressChanged,
    KeepaliveTimers,
    Media,
    NameRegistered,
    NetCommand,
    NetError,
    NetEventIterator,
    NetStatus,
    NetStream,
    PeerConnect,
    PeerIntroduced,
    PeerStreamClosed,
    PeerStreamOpened,
    ServerAsk,
    ServerAskEnded,
    ServerEventIterator,
    ServerSession,
    ServerStream,
    StreamCreated,
    StreamPlaying,
    StreamPublished,
    StreamRejected,
    StreamUnpublished,
    UserControl,
    Flow,
    FlowComplete,
    FlowError,
    FlowFinished,
    FlowOpened,
    FlowRejected,
    FlowWritable,
    InvalidArgument,
    Message,
    MessageAbandoned,
    MessageDelivered,
    RecvFlow,
    Session,
    SessionClosed,
    SessionError,
    SessionOpened,
    SessionOpenFailed,
    TimeoutError,
    UnmatchedIHello,
    WouldBlock,
    __version__,
)

if TYPE_CHECKING:
    from types import TracebackType

#: Any endpoint event; dispatch on ``event.kind`` or ``isinstance``.
Event = Union[
    SessionOpened,
    SessionOpenFailed,
    SessionClosed,
    FlowOpened,
    Message,
    FlowFinished,
    MessageDelivered,
    MessageAbandoned,
    FlowWritable,
    FlowRejected,
    FlowComplete,
    UnmatchedIHello,
    FarAddressChanged,
]

#: Any NetConnection event; dispatch on ``event.kind`` or ``isinstance``.
NetEvent = Union[
    NetStatus,
    StreamCreated,
    UserControl,
    Media,
    NetCommand,
    CallResult,
    PeerConnect,
    PeerStreamOpened,
    PeerStreamClosed,
    KeepaliveTimers,
]

#: Any Server event.
ServerEvent = Union[
    ClientConnected,
    ClientRejected,
    ClientPeerInfo,
    ClientDisconnected,
    StreamPublished,
    StreamUnpublished,
    StreamPlaying,
    StreamRejected,
    PeerIntroduced,
    NameRegistered,
    ServerAsk,
    ServerAskEnded,
]

#: One address: ``"host:port"`` / ``"[v6]:port"`` or ``(host, port)``.
Address = Union[str, Tuple[str, int]]
#: One address or several.
Addresses = Union[Address, Sequence[Address]]


# ---------------------------------------------------------------- options --
# The keywords that are core's options (rtmfp_core::host::options) are
# documented from core's table when the package is imported: each row's
# doc, its kind in Python's words and its default, written once, in Rust.

#: A kind of option in Python's words, where core's (``expects``) are not.
_KIND_WORDS = {
    "duration": "seconds",
    "flag": "True or False",
    "addresses": '``"host:port"``, ``(host, port)`` or a list of them (names are resolved)',
    "turn_uri": '``"turn:HOST[:PORT]"`` or ``"turn://USER:PASS@HOST[:PORT]"``',
    "keys": "a list of str, or the path of a file of keys (one a line, ``#`` comments)",
    "keepalive": "``(seconds, seconds)``, or None: none sent",
}


def _kind_words(row: Any) -> str:
    if row["kind"] == "word":
        return "one of " + ", ".join(f'``"{w}"``' for w in row["words"])
    return str(_KIND_WORDS.get(row["kind"], row["expects"]))


def _options_doc(native: Any, obj: str) -> str:
    """One item per keyword of ``native`` that is a row of core's table
    that ``obj`` ("endpoint", "netconnection", "server") takes."""
    keywords = inspect.signature(native).parameters
    items = []
    for row in json.loads(_rtmfp._option_table()):
        if obj in row["objects"] and row["name"] in keywords:
            words = _kind_words(row)
            text = (
                f"- ``{row['name']}``: {row['doc']}.  {words[:1].upper()}{words[1:]}; "
                f"default {row['default']}."
            )
            items.append(textwrap.fill(text, 72, subsequent_indent="  "))
    intro = (
        "The options of core's table (checked there: a value out of range or an "
        "unknown word raises ``rtmfp.InvalidArgument`` naming the keyword):"
    )
    return textwrap.fill(intro, 72) + "\n\n" + "\n".join(items)


def _documented(doc: Optional[str], name: str, native: Any, obj: str) -> str:
    """``doc`` with the signature of ``native`` after its first paragraph
    and the options it takes at the end."""
    head, _, rest = inspect.cleandoc(doc or "").partition("\n\n")
    # A default the compiled signature cannot spell shows as "...".
    text = str(inspect.signature(native)).replace("=Ellipsis", "=...")
    signature = textwrap.fill(
        f"``{name}{text}``", 72, subsequent_indent="    ", break_on_hyphens=False
    )
    parts = [head, signature, rest, _options_doc(native, obj)]
    return "\n\n".join(p for p in parts if p)


if TYPE_CHECKING:
    from ._rtmfp import check
else:

    @functools.wraps(_rtmfp.check)
    def check(uri, **options):
        return _rtmfp.check(uri, **options)

    check.__doc__ = _documented(_rtmfp.check.__doc__, "check", _rtmfp.check, "netconnection")


class Priority(enum.IntEnum):
    """Flow priority (RFC 7016 §2.2.4); above ROUTINE is time critical."""

    BACKGROUND = 0
    BULK = 1
    DATA = 2
    ROUTINE = 3
    PRIORITY = 4
    IMMEDIATE = 5
    FLASH = 6
    FLASH_OVERRIDE = 7


class MessageType(enum.IntEnum):
    """RTMP message types of ``Media`` events and ``NetStream.send``."""

    AUDIO = 8
    VIDEO = 9
    DATA_AMF3 = 15
    DATA = 18


_E = TypeVar("_E")
_Self = TypeVar("_Self", bound="_EventSource[Any]")


class _Closable(Protocol):
    def close(self, timeout: float = ...) -> bool: ...


class _EventSource(Generic[_E]):
    """What an Endpoint, NetConnection and Server, whose events are
    ``_E``, have the same: the asyncio event methods, and ``with`` /
    ``async with`` (which close it): written once, here.
    A class names itself in ``_what`` ("the endpoint") and may override
    ``_router`` (the dispatcher of a loop; a layer's by default)."""

    _what = "it"
    _dispatcher: Optional[_aio.Router[_E]] = None

    def _router(self, loop: asyncio.AbstractEventLoop) -> _aio.Router[_E]:
        return _aio.LayerDispatcher(cast("_aio.LayerSource[_E]", self), loop)

    def _aio(self) -> _aio.Router[_E]:
        self._dispatcher = _aio.for_loop(self._dispatcher, self._router)
        return self._dispatcher

    async def next_event_async(self, timeout: Optional[float] = None) -> Optional[_E]:
        """The next event; None on timeout.  Raises ``ClosedError`` once
        closed and every event was read, ``CallbackError`` when a Python
        callback (a NetConnection's ``on_peer_connect``, a Server's hook)
        raised (the event follows)."""
        d = self._aio()
        event = await d.get(timeout)
        if event is None and not d.active:
            raise ClosedError(f"{self._what} is closed")
        return event

    async def events_async(self) -> AsyncIterator[_E]:
        """``async for event in obj.events_async()``; ends when it is
        closed and its last events were read."""
        d = self._aio()
        while True:
            event = await d.get()
            if event is None:
                return
            yield event

    async def close_async(self, timeout: float = 1.0) -> bool:
        """``close`` without blocking the event loop."""
        loop = asyncio.get_running_loop()
        close = cast(_Closable, self).close
        clean: bool = await loop.run_in_executor(None, close, timeout)
        if self._dispatcher is not None:
            # Routes the last events, then stops (the stream has ended).
            self._dispatcher.on_readable()
        return clean

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *args: object) -> Literal[False]:
        cast(_Closable, self).close()
        return False

    async def __aenter__(self: _Self) -> _Self:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close_async()


class Endpoint(_rtmfp.Endpoint, _EventSource[Event]):
    """An RTMFP endpoint: an identity, UDP sockets and an I/O thread.

    A TURN relay (``turn``) that refuses the credentials or does not
    answer raises ``OSError``; a key log is what ``rtmfp decrypt
    --key-log FILE CAPTURE.pcap`` reads.

    A context manager (``with`` and ``async with``) that closes itself.
    Binding failures raise ``OSError``; everything else raises
    ``rtmfp.Error`` subclasses.
    """

    _what = "the endpoint"
    __doc__ = _documented(__doc__, "Endpoint", _rtmfp.Endpoint, "endpoint")

    def _router(self, loop: asyncio.AbstractEventLoop) -> _aio.Dispatcher:
        return _aio.Dispatcher(self, loop)

    def _aio(self) -> _aio.Dispatcher:
        return cast(_aio.Dispatcher, super()._aio())

    async def connect_async(self, uri: str, *, timeout: float = 10.0) -> Session:
        """``connect`` for asyncio: awaits the open session."""
        d = self._aio()
        # Name resolution blocks: run it in the loop's default executor.
        session = await d.loop.run_in_executor(None, self.start_connect, uri)
        return await d.wait_open(session, timeout, uri)

    async def connect_peer_async(
        self,
        peer_id: Union[str, bytes],
        addresses: Addresses,
        *,
        timeout: float = 10.0,
    ) -> Session:
        """``connect_peer`` for asyncio: awaits the open session."""
        d = self._aio()
        session = await d.loop.run_in_executor(
            None, self.start_connect_peer, peer_id, addresses
        )
        what = f"peer {peer_id[:16]!s}" if isinstance(peer_id, str) else "peer"
        return await d.wait_open(session, timeout, what)

    async def wait_open_async(self, session: Session, *, timeout: float = 10.0) -> Session:
        """``Session.wait_open`` for asyncio."""
        return await self._aio().wait_open(session, timeout, f"session {session.id}")

# ------------------------------------------------------------ Flash layer --

_NC = TypeVar("_NC", bound="NetConnection")
_NC_co = TypeVar("_NC_co", bound="NetConnection", covariant=True)


class _ConnectNew(Protocol[_NC_co]):
    def __call__(self, uri: str, *, timeout: float = 10.0, **options: Any) -> _NC_co: ...


class _ConnectBound(Protocol[_NC_co]):
    def __call__(self, uri: str, *, timeout: float = 10.0) -> _NC_co: ...


class _ConnectNewAsync(Protocol[_NC_co]):
    def __call__(
        self, uri: str, *, timeout: float = 10.0, **options: Any
    ) -> Awaitable[_NC_co]: ...


class _ConnectBoundAsync(Protocol[_NC_co]):
    def __call__(self, uri: str, *, timeout: float = 10.0) -> Awaitable[_NC_co]: ...


class _Connect:
    """``NetConnection.connect(uri, timeout=10.0, **options)`` makes a
    NetConnection and connects it; ``nc.connect(uri, timeout=10.0)``
    connects ``nc`` (made with ``NetConnection(**options)``).  Both block
    until "NetConnection.Connect.Success" and return the connection; on
    failure it is closed and ``ConnectError`` / ``TimeoutError`` raised."""

    @overload
    def __get__(self, obj: None, owner: Type[_NC]) -> _ConnectNew[_NC]: ...
    @overload
    def __get__(self, obj: _NC, owner: Type[_NC]) -> _ConnectBound[_NC]: ...
    def __get__(
        self, obj: Optional[_NC], owner: Type[_NC]
    ) -> Union[_ConnectNew[_NC], _ConnectBound[_NC]]:
        if obj is None:

            def connect_new(uri: str, *, timeout: float = 10.0, **options: Any) -> _NC:
                """Makes a NetConnection with ``options`` (the constructor's
                keyword arguments), connects it to ``uri``
                (``rtmfp://host[:port]/app[/DEVELOPER-KEY]``) and returns it
                once connected.  Raises ``ConnectError`` (rejected or
                failed, with the status ``code``), ``TimeoutError`` after
                ``timeout`` seconds, ``OSError`` if the sockets cannot be
                bound; the connection is closed on any failure."""
                nc = owner(**options)
                return nc.connect(uri, timeout=timeout)

            connect_new.__name__ = "connect"
            connect_new.__qualname__ = f"{owner.__name__}.connect"
            return connect_new
        nc = obj

        def connect(uri: str, *, timeout: float = 10.0) -> _NC:
            """Connects this NetConnection to ``uri`` and returns it once
            connected (``ConnectError``, ``TimeoutError``; closed on any
            failure)."""
            try:
                nc.start_connect(uri)
                nc.wait_connected(timeout)
            except BaseException:
                nc.close()
                raise
            return nc

        return connect


class _ConnectAsync:
    """``connect`` for asyncio: ``await NetConnection.connect_async(uri)``
    or ``await nc.connect_async(uri)``."""

    @overload
    def __get__(self, obj: None, owner: Type[_NC]) -> _ConnectNewAsync[_NC]: ...
    @overload
    def __get__(self, obj: _NC, owner: Type[_NC]) -> _ConnectBoundAsync[_NC]: ...
    def __get__(
        self, obj: Optional[_NC], owner: Type[_NC]
    ) -> Union[_ConnectNewAsync[_NC], _ConnectBoundAsync[_NC]]:
        if obj is None:

            async def connect_async(uri: str, *, timeout: float = 10.0, **options: Any) -> _NC:
                """Coroutine: makes a NetConnection with ``options`` (the
                constructor's keyword arguments), connects it to ``uri``
                and returns it once connected (``ConnectError``,
                ``TimeoutError``; closed on any failure)."""
                nc = owner(**options)
                return await nc.connect_async(uri, timeout=timeout)

            connect_async.__qualname__ = f"{owner.__name__}.connect_async"
            return connect_async
        nc = obj

        async def connect(uri: str, *, timeout: float = 10.0) -> _NC:
            """Coroutine: connects this NetConnection to ``uri`` and returns
            it once connected (``ConnectError``, ``TimeoutError``; closed on
            any failure)."""
            try:
                # Name resolution and the identity block: use the executor.
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, nc.start_connect, uri)
                await nc.wait_connected_async(timeout)
            except BaseException:
                await nc.close_async()
                raise
            return nc

        return connect


class NetConnection(_rtmfp.NetConnection, _EventSource[NetEvent]):
    """A connection to an RTMFP server with Flash's NetConnection semantics.

    - ``uri``: ``rtmfp://host[:port]/app[/DEVELOPER-KEY]``; given here, the
      connect starts at once (its outcome arrives as a ``NetStatus``
      event); otherwise call ``connect(uri)``.
    - ``args``: extra ``connect`` arguments (AMF values).

    The local addresses (``bind``) must be of the server's family.  With
    ``direct_timeout``, a peer play that falls back plays through the
    server relay (``NetStream.Play.Relayed``).  A TURN relay (``turn``)
    that refuses the credentials or does not answer raises ``OSError``.

    Each connection has a fresh identity: ``near_id`` (our peer ID, 64 hex
    digits) is what subscribers pass to ``NetStream(nc, peer_id)``.
    ``NetConnection.connect(uri, timeout=10.0, **options)`` makes one and
    waits until it is connected; ``nc.connect(uri)`` does that for ``nc``.
    Status codes are Flash's: "NetConnection.Connect.Success", ".Failed",
    ".Rejected", ".Closed".  A context manager (``with`` / ``async with``).
    """

    connect = _Connect()
    connect_async = _ConnectAsync()
    _what = "the NetConnection"
    __doc__ = _documented(__doc__, "NetConnection", _rtmfp.NetConnection, "netconnection")

    async def wait_connected_async(self, timeout: float = 10.0) -> None:
        """``wait_connected`` for asyncio."""
        d = self._aio()
        if self.connected:
            return

        def outcome(e: NetEvent) -> bool:
            return e.kind == "status" and e.stream is None and _rtmfp._is_connect_outcome(e.code)

        event = await d.wait_for(outcome, timeout, f"no answer from {self.uri}")
        assert isinstance(event, NetStatus)
        _rtmfp._connect_outcome(event, self.uri or "")

    async def call_async(self, command: str, *args: Any, timeout: float = 10.0) -> Any:
        """``call`` for asyncio."""
        return await self._call_async(command, args, timeout, f"call({command!r})")

    async def _call_async(
        self, command: str, args: Sequence[Any], timeout: float, what: str
    ) -> Any:
        d = self._aio()
        txn = self.start_call(command, *args)

        def answer(e: NetEvent) -> bool:
            return e.kind == "call_result" and e.transaction_id == txn

        event = await d.wait_for(answer, timeout, f"{what}: no answer from the server")
        assert isinstance(event, CallResult)
        return _rtmfp._call_outcome(event, what)

    async def register_name_async(self, name: str, *, timeout: float = 10.0) -> None:
        """``register_name`` for asyncio."""
        await self._call_async("registerName", [name], timeout, f"register_name({name!r})")

    async def lookup_name_async(self, name: str, *, timeout: float = 10.0) -> str:
        """``lookup_name`` for asyncio."""
        value = await self._call_async("lookupName", [name], timeout, f"lookup_name({name!r})")
        return _rtmfp._lookup_answer(value, name)

class Server(_rtmfp.Server, _EventSource[ServerEvent]):
    """An RTMFP rendezvous server (Stratus/Cirrus-like): it introduces
    peers to each other by peer ID (DIRECT_CONNECTIONS), registers and
    looks up names, and relays streams published through it.

    Developer keys (``keys``) are checked in Rust before the connect is
    answered: a wrong key gets "NetConnection.Connect.Rejected".  The
    limits per client (``max_streams_per_client``,
    ``max_names_per_client``, ``max_flows_per_session``) are what a
    hostile client cannot pass: a further ``createStream`` or
    ``registerName`` gets ``_error`` ("NetConnection.Call.Failed").
    ``keepalive`` is what clients are advised; ``open_timeout``,
    ``idle_timeout`` and ``keepalive_interval`` are the server's own
    sessions'.  A TURN relay (``turn``) that does not answer, or Redis
    (``cluster``) unreachable, raises ``OSError``.

    Hooks are Python callables, run on the thread that reads the server's
    events (``events()``, ``serve_forever()``, or the asyncio reader):
    ``on_connect(peer_id, app, key)``, ``on_publish(peer_id, name)``,
    ``on_play(peer_id, name)`` answer True (accept), False/None or a
    reason ``str`` (refuse); ``on_disconnect(peer_id)`` is told.  They
    decide before the client is answered: while a veto hook is set, the
    server parks each request of its kind and emits a ``ServerAsk`` event;
    reading it runs the hook and sends the verdict, so a refused client
    sees "NetConnection.Connect.Rejected" (or "NetStream.Publish.BadName",
    "NetStream.Play.Failed") with the reason as description, and the
    outcome event follows (``ClientRejected``, ``StreamRejected``, ...).
    A hook may be ``async def`` when the events are read with the asyncio
    API: it runs as a task of that loop (``ServerAsk.pending``) and its
    result is the verdict.  A hook that raises refuses; its exception is
    logged (logger "rtmfp") and raised as ``CallbackError`` by the next
    event read (an async hook's is only logged).  Hooks only
    run while events are read: a request not decided within
    ``hook_timeout`` seconds is refused ("no answer from the server
    application", a ``ServerAskEnded`` event with ``end == "expired"``),
    and one whose client leaves meanwhile ends with ``end == "gone"``.
    """

    _what = "the server"
    __doc__ = _documented(__doc__, "Server", _rtmfp.Server, "server")

    def serve_forever(self) -> None:
        """Reads events (running the hooks) until the server closes."""
        for _ in self.events():
            pass

# ---------------------------------------------------------------- FLV I/O --
# FLV byte streams on a NetStream (issue 16): the logic is in Rust
# (NetStream.write_flv / read_flv); these are the asyncio forms.

# How long an asyncio FLV wait lasts before it tries again: a window's
# flush and the end of the stream are driven by reads.
_FLV_SLICE = 0.05


async def read_flv_async(stream: NetStream, size: int = 65536) -> bytes:
    """``await``-able ``stream.read_flv(size)``: waits on the stream's FLV
    fd in the running loop (no thread); ``b""`` at the end of the stream."""
    loop = asyncio.get_running_loop()
    fd = stream.flv_fileno()
    while True:
        try:
            return stream.read_flv(size, timeout=0)
        except TimeoutError:
            pass
        ready: "asyncio.Future[None]" = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await asyncio.wait_for(ready, _FLV_SLICE)
        except asyncio.TimeoutError:
            pass
        finally:
            loop.remove_reader(fd)


async def write_flv_async(stream: NetStream, data: bytes) -> None:
    """``await``-able: publishes all of ``data`` with ``stream.write_flv``,
    yielding to the loop while the flows are full (backpressure)."""
    view = memoryview(data)
    while view:
        try:
            n = stream.write_flv(view, timeout=0)
        except TimeoutError:
            await asyncio.sleep(0.005)
            continue
        view = view[n:]


__all__ = [
    "read_flv_async",
    "write_flv_async",
    "check",
    "Address",
    "Addresses",
    "CONNECT_TO_FMS",
    "CallError",
    "CallResult",
    "CallbackError",
    "CheckReport",
    "ClientConnected",
    "ClientDisconnected",
    "ClientPeerInfo",
    "ClientRejected",
    "ClosedError",
    "ConnectError",
    "DIRECT_CONNECTIONS",
    "Endpoint",
    "Error",
    "Event",
    "EventIterator",
    "FarAddressChanged",
    "Flow",
    "FlowComplete",
    "FlowError",
    "FlowFinished",
    "FlowOpened",
    "FlowRejected",
    "FlowWritable",
    "InvalidArgument",
    "KeepaliveTimers",
    "Media",
    "Message",
    "MessageAbandoned",
    "MessageDelivered",
    "MessageType",
    "NameRegistered",
    "NetCommand",
    "NetConnection",
    "NetError",
    "NetEvent",
    "NetEventIterator",
    "NetStatus",
    "NetStream",
    "PeerConnect",
    "PeerIntroduced",
    "PeerStreamClosed",
    "PeerStreamOpened",
    "Priority",
    "RecvFlow",
    "Server",
    "ServerEvent",
    "ServerAsk",
    "ServerAskEnded",
    "ServerEventIterator",
    "ServerSession",
    "ServerStream",
    "Session",
    "SessionClosed",
    "SessionError",
    "SessionOpenFailed",
    "SessionOpened",
    "StreamCreated",
    "StreamPlaying",
    "StreamPublished",
    "StreamRejected",
    "StreamUnpublished",
    "TimeoutError",
    "UnmatchedIHello",
    "UserControl",
    "WouldBlock",
    "__version__",
]
