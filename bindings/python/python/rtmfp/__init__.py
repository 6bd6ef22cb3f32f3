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
    check,
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

    ``Endpoint(bind="0.0.0.0:0", *, server=False, hostname=None,
    open_timeout=None, idle_timeout=None, keepalive_interval=None,
    key_log=None, turn=None, turn_username=None, turn_password=None,
    recv_coalesce=None, dh_groups=None, hmac_policy=None, sseq_policy=None,
    max_datagram_size=None, send_buffer=None, receive_buffer=None,
    max_flows_per_session=None, event_queue_limit=None)``

    - ``bind``: address(es) to bind, ``"ip:port"`` or ``(host, port)``;
      port 0 picks a free port (see ``address``).
    - ``server``: a server identity that ``rtmfp://`` URIs reach
      (ephemeral Diffie-Hellman, accepts ancillary data); otherwise a
      peer identity reached by its ``peer_id``.
    - ``hostname``: the certificate's hostname option.
    - ``open_timeout`` / ``idle_timeout`` / ``keepalive_interval``:
      seconds; the defaults are RFC 7016's (95 s / 60 s / 10 s).
    - ``key_log``: a file to append each session's packet keys to, so
      that a capture can be decrypted (``rtmfp decrypt --key-log FILE
      CAPTURE.pcap``); by default the file named by ``RTMFP_KEYLOGFILE``.
    - ``turn``: ``"turn://USER:PASS@HOST[:PORT]"``: every datagram goes
      through this TURN relay (RFC 8656), as Flash Player's
      RTMFPTURNProxy did; peers see the relayed address.  A relay that
      refuses the credentials or does not answer raises ``OSError``.
    - ``recv_coalesce``: seconds; while datagrams arrive densely, the I/O
      thread naps this long and reads them in one batch instead of
      waking for each (sparse datagrams never wait).  0 is off, at most
      0.01 (longer is 0.01); default 0, or ``RTMFP_RECV_COALESCE_US``
      microseconds if set.  Negative raises ``rtmfp.InvalidArgument``.
    - ``dh_groups``: Diffie-Hellman groups in preference order, of 2, 5,
      14, 16 (RFC 7425 §4.3.3); default a peer's 2 (static keys, as Flash Player), a server's 2, 5, 14, 16.
    - ``hmac_policy`` / ``sseq_policy``: ``"off"``, ``"opportunistic"``
      (the default) or ``"required"``: packet HMACs and session sequence
      numbers (RFC 7425 §4.6.4, §4.6.6).
    - ``max_datagram_size``: the largest UDP datagram sent, 576 to 65507
      bytes (default 1200).
    - ``send_buffer``: bytes a sending flow holds unacknowledged before it
      refuses messages (default 4 MiB); ``receive_buffer``: the window a
      receiving flow advertises (1 MiB); each 1024 to 2**30.
    - ``max_flows_per_session``: receiving flows one session keeps
      (default 512, 1 to 65535); a further flow's data is dropped.
    - ``event_queue_limit``: events waiting unread (default 65536, 16 to
      2**24); then datagrams wait until events are read.
    - ``turn_username`` / ``turn_password``: the TURN relay's credentials,
      over the URI's.

    A value out of range or an unknown word raises ``rtmfp.InvalidArgument``
    naming the keyword.

    A context manager (``with`` and ``async with``) that closes itself.
    Binding failures raise ``OSError``; everything else raises
    ``rtmfp.Error`` subclasses.
    """

    _what = "the endpoint"

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

    ``NetConnection(uri=None, *, bind="0.0.0.0:0", args=(),
    max_peer_connections=8, hostname=None, open_timeout=None,
    idle_timeout=None, keepalive_interval=None, key_log=None, turn=None,
    turn_username=None, turn_password=None, direct_timeout=5.0,
    dh_groups=None, hmac_policy=None, sseq_policy=None,
    max_datagram_size=None, send_buffer=None, receive_buffer=None,
    max_flows_per_session=None, event_queue_limit=None)``

    - ``uri``: ``rtmfp://host[:port]/app[/DEVELOPER-KEY]``; given here, the
      connect starts at once (its outcome arrives as a ``NetStatus``
      event); otherwise call ``connect(uri)``.
    - ``bind``: local address(es); their family must match the server's.
    - ``args``: extra ``connect`` arguments (AMF values).
    - ``max_peer_connections``: subscribers allowed across our
      DIRECT_CONNECTIONS streams (Flash's ``maxPeerConnections``).
    - ``direct_timeout``: seconds a peer play waits for a direct session
      to its publisher before it plays through the server relay
      (``NetStream.Play.Relayed``; docs/relay-fallback.md); 0 waits for
      the session's own timeout with no fallback, as Flash Player did.
    - ``key_log``: a file to append each session's packet keys to, so
      that a capture can be decrypted (``rtmfp decrypt --key-log FILE
      CAPTURE.pcap``); by default the file named by ``RTMFP_KEYLOGFILE``.
    - ``turn``: ``"turn://USER:PASS@HOST[:PORT]"``: every datagram goes
      through this TURN relay (RFC 8656), as Flash Player's
      RTMFPTURNProxy did; peers see the relayed address.  A relay that
      refuses the credentials or does not answer raises ``OSError``.
    - ``hostname``: the certificate's hostname option.
    - ``open_timeout`` / ``idle_timeout`` / ``keepalive_interval``:
      seconds; the defaults are RFC 7016's (95 s / 60 s / 10 s).
    - ``dh_groups``: Diffie-Hellman groups in preference order, of 2, 5,
      14, 16 (RFC 7425 §4.3.3); default 2 (static keys, as Flash Player).
    - ``hmac_policy`` / ``sseq_policy``: ``"off"``, ``"opportunistic"``
      (the default) or ``"required"``: packet HMACs and session sequence
      numbers (RFC 7425 §4.6.4, §4.6.6).
    - ``max_datagram_size``: the largest UDP datagram sent, 576 to 65507
      bytes (default 1200).
    - ``send_buffer``: bytes a sending flow holds unacknowledged before it
      refuses messages (default 4 MiB); ``receive_buffer``: the window a
      receiving flow advertises (1 MiB); each 1024 to 2**30.
    - ``max_flows_per_session``: receiving flows one session keeps
      (default 512, 1 to 65535); a further flow's data is dropped.
    - ``event_queue_limit``: events waiting unread (default 65536, 16 to
      2**24); then datagrams wait until events are read.
    - ``turn_username`` / ``turn_password``: the TURN relay's credentials,
      over the URI's.

    A value out of range or an unknown word raises ``rtmfp.InvalidArgument``
    naming the keyword.

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

    ``Server(bind="0.0.0.0:1935", *, keys=None, on_connect=None,
    on_publish=None, on_play=None, on_disconnect=None,
    keepalive=(15.0, 10.0), relay=True, key_log=None, turn=None,
    turn_username=None, turn_password=None, cluster=None,
    max_streams_per_client=None, max_names_per_client=None,
    max_flows_per_session=None, hook_timeout=10.0, recv_coalesce=None,
    hostname=None, open_timeout=None, idle_timeout=None,
    keepalive_interval=None, dh_groups=None, hmac_policy=None,
    sseq_policy=None, max_datagram_size=None, send_buffer=None,
    receive_buffer=None, event_queue_limit=None)``

    - ``keys``: the developer keys accepted (the last segment of the
      URI's path, ``rtmfp://host/app/KEY``): None accepts any key, a list
      of keys, or the path of a key file (one per line, ``#`` comments).
      A wrong key gets "NetConnection.Connect.Rejected".  Keys are checked
      in Rust before the connect is answered.
    - ``keepalive``: (server, peer) keepalive periods advised to clients
      (seconds), or None.
    - ``relay``: relay streams published through the server.
    - ``key_log``: a file to append each session's packet keys to, so
      that a capture can be decrypted (``rtmfp decrypt --key-log FILE
      CAPTURE.pcap``); by default the file named by ``RTMFP_KEYLOGFILE``.
    - ``turn``: ``"turn://USER:PASS@HOST[:PORT]"``: every datagram goes
      through this TURN relay (RFC 8656), as Flash Player's
      RTMFPTURNProxy did; peers see the relayed address.  A relay that
      refuses the credentials or does not answer raises ``OSError``.
    - ``max_streams_per_client`` (default 64), ``max_names_per_client``
      (16), ``max_flows_per_session`` (512): limits a hostile client
      cannot pass.  A further ``createStream`` or ``registerName`` gets
      ``_error`` ("NetConnection.Call.Failed"); a further flow's data is
      dropped.  Each 1 to 65535, else ``rtmfp.InvalidArgument``.
    - ``recv_coalesce``: seconds; while datagrams arrive densely (a crowd
      of clients' keepalives), the I/O thread naps this long and reads
      them in one batch instead of waking for each; sparse datagrams
      never wait.  Default 0.001 (``RTMFP_RECV_COALESCE_US`` microseconds
      if set); 0 wakes once per datagram; at most 0.01.
    - ``cluster``: ``"redis://HOST:PORT[/DB]"`` makes the server a node of
      a rendezvous cluster sharing peers, names and streams through Redis
      (see docs/cluster.md); OSError "Redis is unreachable" if it does
      not answer.
    - ``hostname``: the certificate's hostname option.
    - ``open_timeout`` / ``idle_timeout`` / ``keepalive_interval``:
      seconds, for the server's own sessions; the defaults are RFC 7016's
      (95 s / 60 s / 10 s).  (``keepalive`` is what clients are advised.)
    - ``dh_groups``: Diffie-Hellman groups in preference order, of 2, 5,
      14, 16 (RFC 7425 §4.3.3); default 2, 5, 14, 16.
    - ``hmac_policy`` / ``sseq_policy``: ``"off"``, ``"opportunistic"``
      (the default) or ``"required"``: packet HMACs and session sequence
      numbers (RFC 7425 §4.6.4, §4.6.6).
    - ``max_datagram_size``: the largest UDP datagram sent, 576 to 65507
      bytes (default 1200).
    - ``send_buffer``: bytes a sending flow holds unacknowledged before it
      refuses messages (default 4 MiB); ``receive_buffer``: the window a
      receiving flow advertises (1 MiB); each 1024 to 2**30.
    - ``event_queue_limit``: events waiting unread (default 65536, 16 to
      2**24); then datagrams wait until events are read.
    - ``turn_username`` / ``turn_password``: the TURN relay's credentials,
      over the URI's.

    A value out of range or an unknown word raises ``rtmfp.InvalidArgument``
    naming the keyword.

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
