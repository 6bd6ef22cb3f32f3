"""Type stubs for the compiled extension module rtmfp._rtmfp.

Import from ``rtmfp``, not from here: ``rtmfp.Endpoint`` adds the asyncio
methods to the ``Endpoint`` below.
"""

import builtins
import datetime
import os
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Final,
    Generic,
    Mapping,
    Iterator,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    final,
)

from typing_extensions import Buffer

# The event unions are the package's (rtmfp.Event, ...): written once, there.
from . import Event as _Event, NetEvent as _NetEvent, ServerEvent as _ServerEvent

__version__: str
"""The version of the rtmfp native library (the Cargo package version)."""

_Address = Union[str, Tuple[str, int]]
_Addresses = Union[_Address, Sequence[_Address]]
# Any bytes-like object: bytes, bytearray, memoryview, array.array, mmap...
_BytesLike = Buffer
# What crosses as an AMF value (data messages, call arguments and results).
# Numbers come back as float (AMF0 has only doubles), dates in UTC.
_Amf = Union[
    None, bool, int, float, str, bytes, bytearray, datetime.datetime,
    Sequence[Any], Mapping[str, Any],
]
# on_peer_connect / Server hook answers: True keeps, False/None refuses,
# a str refuses with that reason.
_Verdict = Union[bool, str, None]

# ------------------------------------------------------------------ errors --

# <generated from bindings/python/src/errors.rs by scripts/event_stubs.py: do not edit>

class Error(Exception):
    """Base class of every error raised by rtmfp."""

class ClosedError(Error):
    """The endpoint is closed (or its I/O thread stopped)."""

class TimeoutError(Error, builtins.TimeoutError):
    """A blocking wait (connect, wait_open) ran out of time. Also a
    built-in TimeoutError."""

class InvalidArgument(Error, ValueError):
    """A bad argument: URI, address, peer ID, duration, priority. Also a
    ValueError."""

class SessionError(Error):
    """No such session, the session is not open, or it failed to open."""

class FlowError(Error):
    """A flow operation failed: no such flow, or the flow is closed."""

class WouldBlock(FlowError, BlockingIOError):
    """The flow's send buffer is full: wait for a FlowWritable event (or
    Flow.writable) and send again. Also a BlockingIOError."""

class NetError(Error):
    """A NetConnection or NetStream call does not fit the state: not
    connected (yet), already connected, the stream is not publishing, no
    such stream or subscriber."""

class ConnectError(NetError):
    """NetConnection.connect failed: the server rejected the connect
    (NetConnection.Connect.Rejected, e.g. a bad developer key) or it
    failed (NetConnection.Connect.Failed). Attributes: code, level,
    description (the status info)."""
    code: str
    level: str
    description: str

class CallError(NetError):
    """The server answered a call (register_name, lookup_name, call)
    with _error. Attributes: code, level, description (the status info)."""
    code: str
    level: str
    description: str

class CallbackError(Error):
    """A Python callback (on_peer_connect, a Server hook) raised. The
    original exception is __cause__; it was also logged (logger "rtmfp")
    when it happened."""

# </generated>

# ------------------------------------------------------- sessions, flows --

# <generated from bindings/python/src/session.rs by scripts/event_stubs.py: do not edit>

@final
class Session:
    """A session with one far end: opening, open or closed."""
    @property
    def id(self) -> int:
        """The session's number, unique for the life of its endpoint."""
    @property
    def is_open(self) -> bool:
        """Whether the session is open (not opening, closing or closed)."""
    @property
    def far_address(self) -> Optional[str]:
        """The far end's address ``"ip:port"`` (None unless open or closing)."""
    @property
    def far_peer_id(self) -> Optional[str]:
        """The far end's peer ID as 64 hex digits (None unless open)."""
    @property
    def role(self) -> Optional[Literal["initiator", "responder"]]:
        """``"initiator"`` or ``"responder"`` (None unless open or closing)."""
    def stats(self) -> Optional[Dict[str, Any]]:
        """Counters and RTT estimates (seconds), or None if the session is not
        open or closing."""
    def open_flow(
        self,
        metadata: Optional[_BytesLike] = None,
        priority: int = 3,
        association: Optional[RecvFlow] = None,
    ) -> Flow:
        """Opens a sending flow.  ``metadata`` (at most 512 bytes) tells the
        far end what the flow is; ``priority`` is 0..7 (``rtmfp.Priority``);
        ``association`` makes it the return flow of a receiving flow."""
    def close(self, abrupt: bool = False) -> None:
        """Closes the session: in order (the far end acknowledges) or, with
        ``abrupt``, at once.  An opening session is abandoned.  A
        ``SessionClosed`` (or ``SessionOpenFailed``) event follows."""
    def wait_open(self, timeout: float = 10.0) -> Session:
        """Waits (GIL released, Ctrl-C interrupts) until the session is open
        and returns it, or the session the endpoint uses instead when the far
        end's own session to us won.  Raises ``TimeoutError`` (and abandons the
        opening) after ``timeout`` seconds, ``SessionError`` if it failed.
        Events read meanwhile stay in the event stream."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Flow:
    """A sending flow."""
    @property
    def id(self) -> int:
        """The flow's number within its session (sending direction)."""
    @property
    def session(self) -> Session:
        """The session the flow belongs to."""
    def send(
        self,
        data: _BytesLike,
        *,
        deadline: Optional[float] = None,
        start_deadline: Optional[float] = None,
        retransmit: bool = True,
        parent: Optional[int] = None,
    ) -> int:
        """Queues one message and returns its id (for the receipts)."""
    @property
    def writable(self) -> bool:
        """Whether ``send`` would take a message now."""
    def abandon(self, message: int) -> None:
        """Abandons a queued message (and the messages chained to it)."""
    def close(self) -> None:
        """Closes the flow after what is queued; ``FlowComplete`` follows once
        the far end has acknowledged everything."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RecvFlow:
    """A receiving flow the far end opened (see ``FlowOpened``)."""
    @property
    def id(self) -> int:
        """The flow's number within its session (receiving direction)."""
    @property
    def session(self) -> Session:
        """The session the flow belongs to."""
    def accept(self, order: Literal["sequence", "network"] = "sequence") -> None:
        """Accepts the flow: its messages arrive as ``Message`` events, in the
        sender's order (``"sequence"``) or as soon as complete (``"network"``)."""
    def reject(self, code: int = 0) -> None:
        """Rejects the flow; the sender sees ``FlowRejected`` with ``code``."""
    def suspend(self) -> None:
        """Holds back ``Message`` events until ``resume()``: messages wait in
        the receive buffer, and once it is full flow control stops the sender."""
    def resume(self) -> None:
        """Delivers messages again after ``suspend()``."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

# </generated>

# ------------------------------------------------------------------ events --

# <generated from bindings/python/src/events.rs by scripts/event_stubs.py: do not edit>

@final
class SessionOpened:
    """A session opened, as initiator (``connect``) or responder."""
    kind: Final[Literal["session_opened"]]
    session: Final[Session]
    role: Final[Literal["initiator", "responder"]]
    far_address: Final[str]
    far_peer_id: Final[Optional[str]]
    near_nonce: Final[bytes]
    far_nonce: Final[bytes]

@final
class SessionOpenFailed:
    """A session failed to open."""
    kind: Final[Literal["session_open_failed"]]
    session: Final[Session]
    reason: Final[Literal["timeout", "duplicate", "keying_failed", "cancelled", "unreachable"]]
    duplicate_of: Final[Optional[Session]]
    address: Final[Optional[str]]

@final
class SessionClosed:
    """An open session closed."""
    kind: Final[Literal["session_closed"]]
    session: Final[Session]
    reason: Final[Literal["local", "local_abrupt", "remote", "idle_timeout", "overridden"]]

@final
class FlowOpened:
    """The far end opened a flow to us: ``flow.accept()`` or
    ``flow.reject(code)`` it."""
    kind: Final[Literal["flow_opened"]]
    session: Final[Session]
    flow: Final[RecvFlow]
    metadata: Final[bytes]
    association: Final[Optional[Flow]]

@final
class Message:
    """A complete message on an accepted receiving flow."""
    kind: Final[Literal["message"]]
    session: Final[Session]
    flow: Final[RecvFlow]
    data: Final[bytes]
    gap_before: Final[bool]

@final
class FlowFinished:
    """A receiving flow ended: every message was delivered."""
    kind: Final[Literal["flow_finished"]]
    session: Final[Session]
    flow: Final[RecvFlow]

@final
class MessageDelivered:
    """Write receipt: the far end has every fragment of a message."""
    kind: Final[Literal["message_delivered"]]
    session: Final[Session]
    flow: Final[Flow]
    message: Final[int]

@final
class MessageAbandoned:
    """Write receipt: a message was abandoned (deadline, no
    retransmission, parent abandoned, flow rejected or closed)."""
    kind: Final[Literal["message_abandoned"]]
    session: Final[Session]
    flow: Final[Flow]
    message: Final[int]

@final
class FlowWritable:
    """A sending flow that raised ``WouldBlock`` takes messages again."""
    kind: Final[Literal["flow_writable"]]
    session: Final[Session]
    flow: Final[Flow]

@final
class FlowRejected:
    """The far end rejected a sending flow."""
    kind: Final[Literal["flow_rejected"]]
    session: Final[Session]
    flow: Final[Flow]
    code: Final[int]

@final
class FlowComplete:
    """A closed sending flow: everything was acknowledged."""
    kind: Final[Literal["flow_complete"]]
    session: Final[Session]
    flow: Final[Flow]

@final
class UnmatchedIHello:
    """An IHello for an identity that is not this endpoint (what a
    rendezvous server answers)."""
    kind: Final[Literal["unmatched_ihello"]]
    epd: Final[bytes]
    tag: Final[bytes]
    address: Final[str]

@final
class FarAddressChanged:
    """A session's far end moved to a new address."""
    kind: Final[Literal["far_address_changed"]]
    session: Final[Session]
    old_address: Final[str]
    new_address: Final[str]

# </generated>

# ---------------------------------------------------------------- endpoint --

@final
class EventIterator(Iterator[_Event]):
    """Blocking iterator over events; ends when the endpoint closes."""

    def __iter__(self) -> EventIterator: ...
    def __next__(self) -> _Event: ...

_Ev = TypeVar("_Ev")
_It = TypeVar("_It")

# Stubs only: at run time each of Endpoint, NetConnection and Server has
# these methods itself (from Rust); they are typed once here.
class _EventStream(Generic[_Ev, _It]):
    @property
    def closed(self) -> bool: ...
    def next_event(self, timeout: Optional[float] = None) -> Optional[_Ev]:
        """The next event, or None after ``timeout`` seconds.  Once closed:
        the events left, then ``ClosedError``."""
    def events(self) -> _It:
        """A blocking iterator over events; ends once closed and drained."""
    def drain_events(self) -> List[_Ev]:
        """Every event waiting now, without blocking (once closed: the
        events left, then none)."""
    def _events_ended(self) -> bool: ...
    def fileno(self) -> int:
        """Readable while events wait (and for good once closed)."""
    def close(self, timeout: float = 1.0) -> bool:
        """Closes in order, stops the I/O thread; idempotent; whether it
        closed cleanly in time."""

# Stubs only: a NetConnection's or Server's events, with the exceptions
# of Python callbacks in their place (for the asyncio dispatcher).
class _LayerStream(_EventStream[_Ev, _It]):
    def _drain(self) -> List[Union[_Ev, BaseException]]: ...

# <generated from bindings/python/src/endpoint.rs by scripts/event_stubs.py: do not edit>

class Endpoint(_EventStream[_Event, EventIterator]):
    """An RTMFP endpoint: an identity (Flash profile, RFC 7425), UDP
    sockets and an I/O thread."""
    def __init__(
        self,
        bind: Optional[_Addresses] = None,
        *,
        # <options of endpoint from core's table by scripts/option_stubs.py: do not edit>
        server: Optional[bool] = None,
        hostname: Optional[str] = None,
        dh_groups: Optional[Sequence[int]] = None,
        hmac_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
        sseq_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
        key_log: Union[None, str, "os.PathLike[str]"] = None,
        open_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        keepalive_interval: Optional[float] = None,
        max_datagram_size: Optional[int] = None,
        send_buffer: Optional[int] = None,
        receive_buffer: Optional[int] = None,
        max_flows_per_session: Optional[int] = None,
        event_queue_limit: Optional[int] = None,
        recv_coalesce: Optional[float] = None,
        turn: Optional[str] = None,
        turn_username: Optional[str] = None,
        turn_password: Optional[str] = None,
        # </options>
    ) -> None: ...
    @property
    def peer_id(self) -> str:
        """This endpoint's peer ID (its certificate fingerprint) as 64 hex
        digits: what other peers pass to ``connect_peer``."""
    @property
    def peer_id_bytes(self) -> bytes:
        """The peer ID as 32 bytes."""
    @property
    def address(self) -> str:
        """The first bound address, ``"ip:port"`` (the port the system picked
        for port 0)."""
    @property
    def addresses(self) -> List[str]:
        """Every bound address."""
    def connect(self, uri: str, *, timeout: float = 10.0) -> Session:
        """Connects to the server named by an ``rtmfp://host[:port]/app`` URI
        and waits until the session is open (GIL released; Ctrl-C interrupts).
        Raises ``InvalidArgument`` for a bad URI or unknown host,
        ``TimeoutError`` after ``timeout`` seconds, ``SessionError`` if
        refused."""
    def connect_peer(
        self,
        peer_id: Union[str, bytes],
        addresses: _Addresses,
        *,
        timeout: float = 10.0,
    ) -> Session:
        """Connects to the peer with ``peer_id`` (64 hex digits or 32 bytes) at
        ``addresses`` (``"ip:port"``, ``(host, port)`` or a list of them) and
        waits until the session is open, as ``connect`` does."""
    def start_connect(self, uri: str) -> Session:
        """Starts connecting to an ``rtmfp://`` URI and returns the opening
        session at once; ``SessionOpened`` or ``SessionOpenFailed`` follows (or
        call ``Session.wait_open``)."""
    def start_connect_peer(
        self,
        peer_id: Union[str, bytes],
        addresses: _Addresses,
    ) -> Session:
        """Starts connecting to a peer by ID and returns the opening session at
        once, as ``start_connect`` does."""
    def stats(self) -> Dict[str, Any]:
        """Counters: sessions, datagrams, bytes, drops by reason, and the I/O
        thread's own (``"io"``)."""

# </generated>

def _open_error(event: SessionOpenFailed, what: str) -> Error: ...
def _option_names(object: str) -> List[str]:
    """The host options (core's table) that "endpoint", "netconnection" or
    "server" takes."""
def _option_table() -> str:
    """Core's table of host options as JSON (one object per row)."""

# -------------------------------------------------------------- Flash layer --

DIRECT_CONNECTIONS: str
"""``NetStream(nc, DIRECT_CONNECTIONS)``: publish to peers that play directly."""
CONNECT_TO_FMS: str
"""``NetStream(nc, CONNECT_TO_FMS)``: a stream through the server (as None)."""

# <generated from bindings/python/src/flash_events.rs by scripts/event_stubs.py: do not edit>

@final
class NetStatus:
    """A status event (Flash's ``NetStatusEvent``): of the NetConnection
    when ``stream`` is None ("NetConnection.Connect.Success", ...), else
    of that NetStream ("NetStream.Play.Start", ...)."""
    kind: Final[Literal["status"]]
    stream: Final[Optional[NetStream]]
    code: Final[str]
    level: Final[Literal["status", "warning", "error"]]
    description: Final[str]
    info: Final[Dict[str, Any]]

@final
class StreamCreated:
    """The server gave a NetStream its stream ID (``createStream``)."""
    kind: Final[Literal["stream_created"]]
    stream: Final[Optional[NetStream]]
    stream_id: Final[int]

@final
class UserControl:
    """A user control event (StreamBegin, StreamEOF, ...)."""
    kind: Final[Literal["user_control"]]
    stream: Final[Optional[NetStream]]
    event: Final[str]

@final
class Media:
    """A message of a stream being played: audio (type 8), video (9),
    data (18: AMF0 values, see ``values()``) or another RTMP message
    type."""
    kind: Final[Literal["media"]]
    stream: Final[Optional[NetStream]]
    message_type: Final[int]
    timestamp: Final[int]
    payload: Final[bytes]
    def values(self) -> List[Any]:
        """A data message's values (``send_data(*values)``), as Python values."""

@final
class NetCommand:
    """A command from the far end that the client does not handle itself
    (a server-to-client call, or a peer's command)."""
    kind: Final[Literal["command"]]
    stream: Final[Optional[NetStream]]
    name: Final[str]
    command_object: Final[Any]
    args: Final[List[Any]]

@final
class CallResult:
    """The server's answer to ``NetConnection.call`` (and
    ``register_name``, ``lookup_name``)."""
    kind: Final[Literal["call_result"]]
    transaction_id: Final[int]
    ok: Final[bool]
    result: Final[Any]
    args: Final[List[Any]]
    code: Final[Optional[str]]
    description: Final[Optional[str]]

@final
class PeerConnect:
    """A subscriber asked to play one of our DIRECT_CONNECTIONS streams."""
    kind: Final[Literal["peer_connect"]]
    stream: Final[Optional[NetStream]]
    peer_id: Final[Optional[str]]
    name: Final[str]
    address: Final[str]
    accepted: Final[bool]
    reason: Final[Optional[str]]

@final
class PeerStreamOpened:
    """A subscriber was accepted and is being sent the stream."""
    kind: Final[Literal["peer_stream_opened"]]
    stream: Final[Optional[NetStream]]
    peer_id: Final[Optional[str]]
    name: Final[str]
    address: Final[str]

@final
class PeerStreamClosed:
    """A subscriber is gone: rejected, closed by it, or its session
    ended."""
    kind: Final[Literal["peer_stream_closed"]]
    stream: Final[Optional[NetStream]]
    peer_id: Final[Optional[str]]
    reason: Final[str]

@final
class KeepaliveTimers:
    """Keepalive periods applied after the server's Set Keepalive Timers
    (RFC 7425 §5.3.4), in seconds, after clamping."""
    kind: Final[Literal["keepalive_timers"]]
    server: Final[float]
    peer: Final[float]

@final
class ClientConnected:
    """A client connected."""
    kind: Final[Literal["connected"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    address: Final[str]
    app: Final[str]
    key: Final[Optional[str]]
    accepted: Final[bool]
    reason: Final[Optional[str]]

@final
class ClientRejected:
    """A connect was rejected (a bad developer key, or ``on_connect``)."""
    kind: Final[Literal["rejected"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    reason: Final[str]

@final
class ClientPeerInfo:
    """A client sent ``setPeerInfo`` (its candidate addresses)."""
    kind: Final[Literal["peer_info"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    addresses: Final[List[str]]

@final
class ClientDisconnected:
    """A connected client went away."""
    kind: Final[Literal["disconnected"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    address: Final[str]
    app: Final[str]
    names: Final[List[str]]

@final
class StreamPublished:
    """A stream was published to the server."""
    kind: Final[Literal["published"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    name: Final[str]
    accepted: Final[bool]
    reason: Final[Optional[str]]

@final
class StreamUnpublished:
    """A stream stopped being published."""
    kind: Final[Literal["unpublished"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    name: Final[str]

@final
class StreamPlaying:
    """A client started playing a stream through the server."""
    kind: Final[Literal["playing"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    name: Final[str]
    accepted: Final[bool]
    reason: Final[Optional[str]]

@final
class StreamRejected:
    """A publish or play was refused (by the server, or by
    ``on_publish`` / ``on_play``)."""
    kind: Final[Literal["stream_rejected"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    name: Final[str]
    reason: Final[str]

@final
class ServerAsk:
    """A hook decided on a request the server parked for it (core's ask
    mode): ``on_connect``, ``on_publish`` or ``on_play`` ran on the
    thread that read this event, and its verdict went to the client."""
    kind: Final[Literal["ask"]]
    id: Final[int]
    what: Final[Literal["connect", "publish", "play"]]
    session: Final[int]
    peer_id: Final[Optional[str]]
    address: Final[str]
    app: Final[str]
    key: Final[Optional[str]]
    name: Final[Optional[str]]
    accepted: Final[bool]
    pending: Final[bool]
    reason: Final[Optional[str]]

@final
class ServerAskEnded:
    """A request the server parked for a hook ended without the hook's
    verdict: "expired" (nobody read the events within ``hook_timeout``;
    the request was refused) or "gone" (the client went away)."""
    kind: Final[Literal["ask_ended"]]
    id: Final[int]
    end: Final[Literal["expired", "gone"]]

@final
class PeerIntroduced:
    """The server introduced an initiator to a connected peer (RFC 7016
    §3.5.1.6): a Redirect to the initiator, a Forwarded IHello to the
    peer."""
    kind: Final[Literal["introduced"]]
    initiator: Final[str]
    peer_id: Final[str]
    addresses: Final[List[str]]

@final
class NameRegistered:
    """A client registered a name (``NetConnection.register_name``)."""
    kind: Final[Literal["name_registered"]]
    peer_id: Final[str]
    name: Final[str]

@final
class ServerSession:
    """One client session, as ``Server.sessions()`` lists it."""
    session: Final[int]
    peer_id: Final[Optional[str]]
    address: Final[str]
    addresses: Final[List[str]]
    connected: Final[bool]
    behind_nat: Final[Optional[bool]]
    app: Final[str]
    key: Final[Optional[str]]
    names: Final[List[str]]
    publishing: Final[List[str]]
    playing: Final[List[str]]
    media_in: Final[int]

@final
class ServerStream:
    """One stream published to the server, as ``Server.streams()`` lists
    it."""
    name: Final[builtins.str]
    publisher: Final[builtins.int]
    publisher_id: Final[Optional[builtins.str]]
    players: Final[builtins.int]
    messages: Final[builtins.int]
    bytes: Final[builtins.int]
    relayed: Final[builtins.int]

# </generated>

@final
class NetEventIterator(Iterator[_NetEvent]):
    """Blocking iterator over a NetConnection's events; ends when closed."""

    def __iter__(self) -> NetEventIterator: ...
    def __next__(self) -> _NetEvent: ...

# <generated from bindings/python/src/netconnection.rs by scripts/event_stubs.py: do not edit>

class NetConnection(_LayerStream[_NetEvent, NetEventIterator]):
    """A connection to an RTMFP server with Flash's NetConnection
    semantics."""
    def __init__(
        self,
        uri: Optional[str] = None,
        *,
        bind: Optional[_Addresses] = None,
        args: Optional[Sequence[_Amf]] = None,
        # <options of netconnection from core's table by scripts/option_stubs.py: do not edit>
        hostname: Optional[str] = None,
        dh_groups: Optional[Sequence[int]] = None,
        hmac_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
        sseq_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
        key_log: Union[None, str, "os.PathLike[str]"] = None,
        open_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        keepalive_interval: Optional[float] = None,
        max_datagram_size: Optional[int] = None,
        send_buffer: Optional[int] = None,
        receive_buffer: Optional[int] = None,
        max_flows_per_session: Optional[int] = None,
        event_queue_limit: Optional[int] = None,
        turn: Optional[str] = None,
        turn_username: Optional[str] = None,
        turn_password: Optional[str] = None,
        max_peer_connections: Optional[int] = None,
        direct_timeout: Optional[float] = None,
        # </options>
    ) -> None: ...
    def start_connect(self, uri: str) -> None:
        """Starts connecting to ``uri`` (``rtmfp://host[:port]/app[/KEY]``) and
        returns at once: a fresh identity, sockets and an I/O thread, then the
        session to the server.  The outcome arrives as a ``NetStatus`` event
        ("NetConnection.Connect.Success", ".Failed", ".Rejected"). A
        NetConnection connects once.  Name resolution blocks (GIL released)."""
    def wait_connected(self, timeout: float = 10.0) -> None:
        """Waits (GIL released, Ctrl-C interrupts) for the outcome of the
        connect among the events not read yet (they stay in the event stream).
        Returns once connected; raises ``ConnectError`` (with ``code``
        "NetConnection.Connect.Rejected" or ".Failed") or ``TimeoutError``."""
    @property
    def uri(self) -> Optional[str]:
        """The ``rtmfp://`` URI given to connect, if any."""
    @property
    def connected(self) -> bool:
        """Whether the connection to the server is up."""
    @property
    def near_id(self) -> str:
        """Our peer ID (Flash's ``nearID``), 64 hex digits: what a subscriber
        passes to ``NetStream(nc, peer_id)``.  Known from ``connect`` on (each
        NetConnection has a fresh identity); ``NetError`` before."""
    @property
    def far_id(self) -> Optional[str]:
        """The server's peer ID (``farID``), 64 hex digits, once the session is
        open; None before."""
    @property
    def near_nonce(self) -> Optional[bytes]:
        """NEAR_NONCE of the server session (RFC 7425 §4.6.5), once open."""
    @property
    def far_nonce(self) -> Optional[bytes]:
        """FAR_NONCE of the server session, once open."""
    @property
    def relayed_address(self) -> Optional[str]:
        """The TURN relayed address, "ip:port", when the connection runs over a
        relay (``turn=``): the address peers and the server see.  None without
        one."""
    @property
    def address(self) -> Optional[str]:
        """The first bound local address, "ip:port" (None before connect)."""
    @property
    def max_peer_connections(self) -> int:
        """Most subscribers, pending or accepted, across all our
        DIRECT_CONNECTIONS streams (Flash's ``maxPeerConnections``; default 8).
        Lowering it keeps the subscribers already accepted."""
    @max_peer_connections.setter
    def max_peer_connections(self, max: int) -> None: ...
    def start_call(self, command: str, *args: _Amf) -> int:
        """Sends a server call ``(command, txn, null, *args)`` and returns its
        transaction ID at once; the answer arrives as a ``CallResult`` event."""
    def call(self, command: str, *args: _Amf, timeout: float = 10.0) -> Any:
        """Calls a server command and waits for the answer (GIL released,
        Ctrl-C interrupts): returns its first value; raises ``CallError`` if
        the server answered ``_error``, ``TimeoutError`` after ``timeout``."""
    def register_name(self, name: str, *, timeout: float = 10.0) -> None:
        """Registers ``name`` for this peer at the server (the server's
        ``registerName``), so that others find our peer ID with
        ``lookup_name``.  Raises ``CallError`` if the name is taken or invalid."""
    def lookup_name(self, name: str, *, timeout: float = 10.0) -> str:
        """The peer ID (64 hex digits) registered under ``name`` at the server
        (the server's ``lookupName``).  Raises ``CallError`` if no connected
        peer has that name."""

class NetStream:
    """A NetStream of a NetConnection."""
    def __init__(
        self,
        connection: NetConnection,
        peer_id: Optional[Union[str, bytes]] = None,
    ) -> None:
        """``NetStream(connection, peer_id=None)``: ``None`` (or
        ``CONNECT_TO_FMS``) for a stream through the server,
        ``rtmfp.DIRECT_CONNECTIONS`` to publish to peers that play it directly,
        or a peer ID (64 hex digits or 32 bytes) to play that peer's
        DIRECT_CONNECTIONS stream."""
    @property
    def id(self) -> int:
        """The stream's number within its connection."""
    @property
    def kind(self) -> Literal["server", "direct_connections", "peer"]:
        """``"server"``, ``"direct_connections"`` or ``"peer"``."""
    @property
    def peer_id(self) -> Optional[str]:
        """For a peer stream: the publisher's peer ID."""
    @property
    def connection(self) -> NetConnection:
        """The NetConnection."""
    def publish(self, name: str) -> None:
        """Publishes the stream as ``name``: to the server, or
        (DIRECT_CONNECTIONS) to the peers that play it.
        "NetStream.Publish.Start" follows."""
    def play(self, name: str) -> None:
        """Plays ``name``: through the server, or (a peer stream) from the
        publisher directly.  "NetStream.Play.Start" follows, or a rejection
        ("NetStream.Connect.Rejected", ".Play.StreamNotFound")."""
    def send_audio(self, timestamp: int, data: _BytesLike) -> int:
        """Sends an audio message (type 8: an FLV audio tag body; bytes-like,
        copied once).  Returns how many destinations it was queued for
        (DIRECT_CONNECTIONS: the accepted subscribers)."""
    def send_video(self, timestamp: int, data: _BytesLike) -> int:
        """Sends a video message (type 9: an FLV video tag body)."""
    def send_data(self, *values: _Amf, timestamp: int = 0) -> int:
        """Sends a data message (type 18) of AMF0 values, e.g.
        ``send_data("onTextData", {"text": "hi"})``; players read it with
        ``Media.values()``."""
    def send(self, message_type: int, timestamp: int, data: _BytesLike) -> int:
        """Sends a message of an RTMP type a NetStream carries: audio (8),
        video (9) or data (15, 18); another type raises ``InvalidArgument``."""
    def send_to_peer(
        self,
        peer_id: Union[str, bytes],
        message_type: int,
        timestamp: int,
        data: _BytesLike,
    ) -> None:
        """Sends a message to one accepted subscriber (by peer ID) of this
        DIRECT_CONNECTIONS stream."""
    @property
    def peer_streams(self) -> List[str]:
        """The peer IDs of this DIRECT_CONNECTIONS stream's accepted
        subscribers (Flash's ``peerStreams``)."""
    @property
    def max_peer_connections(self) -> int:
        """Most subscribers (pending or accepted) of the connection's
        DIRECT_CONNECTIONS streams, together
        (``NetConnection.max_peer_connections``)."""
    @max_peer_connections.setter
    def max_peer_connections(self, max: int) -> None: ...
    @property
    def on_peer_connect(self) -> Optional[Callable[[str, str], _Verdict]]:
        """A DIRECT_CONNECTIONS publisher's ``onPeerConnect``:
        ``callback(subscriber_peer_id, stream_name)``; True accepts the
        subscriber, False or None rejects it, a ``str`` rejects it with that
        reason.  It runs on the thread that reads the connection's events
        (``events()``, ``next_event()``, or the asyncio reader), never on the
        I/O thread, so subscribers wait until events are read.  If it raises,
        the subscriber is rejected, the exception is logged (logger "rtmfp")
        and the next event read raises ``CallbackError`` from it.  None removes
        it (subscribers are accepted again)."""
    @on_peer_connect.setter
    def on_peer_connect(
        self,
        callback: Optional[Callable[[str, str], _Verdict]],
    ) -> None: ...
    def write_flv(self, data: _BytesLike, timeout: Optional[float] = None) -> int:
        """Publishes FLV bytes (bytes-like, an FLV byte stream split anywhere)
        on this publishing stream: each whole tag is sent as the message of its
        type.  Returns how many bytes it took, at least one unless ``data`` is
        empty: fewer than given while 64 tags wait for the flows (backpressure;
        call again with the rest).  Waits up to ``timeout`` seconds (``None``:
        no limit) for room, then raises ``rtmfp.TimeoutError``.  Bytes that are
        not FLV raise ``rtmfp.InvalidArgument`` (every tag before them is still
        sent; a call that took bytes before them returns their count and the
        next call raises).  Call ``flush_flv()`` before ``close()``."""
    def flush_flv(self, timeout: Optional[float] = None) -> None:
        """Waits up to ``timeout`` seconds (``None``: no limit) until every tag
        ``write_flv()`` queued was sent and acknowledged; raises
        ``rtmfp.TimeoutError`` if something still waits then."""
    def start_flv_read(self, window_ms: int = 100) -> None:
        """Reads this playing stream as FLV from now on (call it before
        ``play()``), with a reordering window of ``window_ms`` of stream time
        (0: tags as they arrive).  Its media then comes from ``read_flv()``, no
        longer as ``Media`` events."""
    def read_flv(self, size: int = 65536, timeout: Optional[float] = None) -> bytes:
        """Up to ``size`` bytes of FLV (the header first, then tags; a tag may
        span reads), waiting up to ``timeout`` seconds (``None``: no limit) for
        some; ``b""`` at the end of the stream (unpublished, closed). Raises
        ``rtmfp.TimeoutError`` if none came in time."""
    def flv_fileno(self) -> int:
        """A file descriptor readable while FLV bytes wait and at the end (for
        ``loop.add_reader``); with a window over 0, also read again after the
        window."""
    def close(self) -> None:
        """Closes the stream: a publisher unpublishes (subscribers are told), a
        player stops."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

# </generated>

def _call_outcome(event: CallResult, what: str) -> Any: ...
def _lookup_answer(value: Any, name: str) -> str: ...
def _connect_outcome(event: NetStatus, uri: str) -> None: ...
def _is_connect_outcome(code: str) -> bool: ...

# ------------------------------------------------------------------ server --

@final
class ServerEventIterator(Iterator[_ServerEvent]):
    """Blocking iterator over a server's events; ends when it closes."""

    def __iter__(self) -> ServerEventIterator: ...
    def __next__(self) -> _ServerEvent: ...

# A server hook may be ``async def`` (run as a task of the asyncio loop
# that reads the server's events).
_ConnectHook = Callable[[Optional[str], str, Optional[str]], Union[_Verdict, Awaitable[_Verdict]]]
_StreamHook = Callable[[Optional[str], str], Union[_Verdict, Awaitable[_Verdict]]]
_DisconnectHook = Callable[[Optional[str]], object]

# <generated from bindings/python/src/server.rs by scripts/event_stubs.py: do not edit>

class Server(_LayerStream[_ServerEvent, ServerEventIterator]):
    """An RTMFP rendezvous server."""
    def __init__(
        self,
        bind: Optional[_Addresses] = None,
        *,
        keys: Union[None, Sequence[str], str, "os.PathLike[str]"] = None,
        on_connect: Optional[_ConnectHook] = None,
        on_publish: Optional[_StreamHook] = None,
        on_play: Optional[_StreamHook] = None,
        on_disconnect: Optional[_DisconnectHook] = None,
        keepalive: Optional[Tuple[float, float]] = (15.0, 10.0),
        # <options of server from core's table by scripts/option_stubs.py: do not edit>
        hostname: Optional[str] = None,
        dh_groups: Optional[Sequence[int]] = None,
        hmac_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
        sseq_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
        key_log: Union[None, str, "os.PathLike[str]"] = None,
        open_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        keepalive_interval: Optional[float] = None,
        max_datagram_size: Optional[int] = None,
        send_buffer: Optional[int] = None,
        receive_buffer: Optional[int] = None,
        max_flows_per_session: Optional[int] = None,
        event_queue_limit: Optional[int] = None,
        recv_coalesce: Optional[float] = None,
        turn: Optional[str] = None,
        turn_username: Optional[str] = None,
        turn_password: Optional[str] = None,
        cluster: Optional[str] = None,
        max_streams_per_client: Optional[int] = None,
        max_names_per_client: Optional[int] = None,
        relay: Optional[bool] = None,
        hook_timeout: Optional[float] = None,
        # </options>
    ) -> None: ...
    @property
    def peer_id(self) -> str:
        """The server's peer ID (its certificate fingerprint), 64 hex digits."""
    @property
    def address(self) -> str:
        """The first bound address, "ip:port" (the port the system picked for
        port 0)."""
    @property
    def addresses(self) -> List[str]:
        """Every bound address."""
    @property
    def on_connect(self) -> Optional[_ConnectHook]:
        """``on_connect(peer_id, app, key)``: True accepts the client, False or
        None rejects it, a ``str`` rejects it with that reason (its
        "NetConnection.Connect.Rejected" description).  Runs when the ``ask``
        event is read, before the client is answered (see the class
        documentation)."""
    @on_connect.setter
    def on_connect(self, hook: Optional[_ConnectHook]) -> None: ...
    @property
    def on_publish(self) -> Optional[_StreamHook]:
        """``on_publish(peer_id, name)``, for streams published through the
        server, before the publisher is answered; refusing gives it
        "NetStream.Publish.BadName"."""
    @on_publish.setter
    def on_publish(self, hook: Optional[_StreamHook]) -> None: ...
    @property
    def on_play(self) -> Optional[_StreamHook]:
        """``on_play(peer_id, name)``, for streams played through the server,
        before the player is answered; refusing gives it
        "NetStream.Play.Failed"."""
    @on_play.setter
    def on_play(self, hook: Optional[_StreamHook]) -> None: ...
    @property
    def on_disconnect(self) -> Optional[_DisconnectHook]:
        """``on_disconnect(peer_id)``: a connected client went away."""
    @on_disconnect.setter
    def on_disconnect(self, hook: Optional[_DisconnectHook]) -> None: ...
    def sessions(self) -> List[ServerSession]:
        """The client sessions, connected or not."""
    def streams(self) -> List[ServerStream]:
        """The streams published through the server (DIRECT_CONNECTIONS streams
        never reach it)."""
    def stats(self) -> Dict[str, int]:
        """Counters: connects, rejects, introductions, unknown_peers, media_in,
        relayed, relay_dropped."""
    def lookup_name(self, name: str) -> Optional[str]:
        """The peer ID registered under ``name``, or None."""
    def disconnect(self, client: Union[int, str, bytes]) -> bool:
        """Disconnects a client, given by session number or peer ID; its
        session closes in order.  Returns whether there was such a client."""

# </generated>

# <generated from bindings/python/src/check.rs by scripts/event_stubs.py: do not edit>

@final
class CheckReport:
    """What ``rtmfp.check`` found: whether UDP reaches the server, at
    what address it sees us, what the NAT does."""
    @property
    def reached(self) -> bool:
        """Whether the server answered (a session and connect success)."""
    @property
    def error(self) -> Optional[str]:
        """Why there is no session with the server (UDP blocked, nothing
        listening, a TURN proxy that does not work), else ``None``."""
    @property
    def server(self) -> Optional[str]:
        """The server's address, ``"ip:port"``."""
    @property
    def rtt(self) -> Optional[float]:
        """The session's round-trip time in seconds."""
    @property
    def public_address(self) -> Optional[str]:
        """The address the server sees us at (the relayed one through TURN)."""
    @property
    def mapping(self) -> Optional[str]:
        """The NAT's mapping: ``"endpoint-independent"``,
        ``"address-dependent"``, ``"address-and-port-dependent"``,
        ``"not-port-dependent"``, or ``None`` when not measured."""
    @property
    def filtering(self) -> Optional[str]:
        """The NAT's filtering, with the same names as ``mapping``."""
    @property
    def unsolicited_leaves_state(self) -> Optional[bool]:
        """Whether a datagram the NAT refused left state behind (the router
        that breaks hole punching between near peers; docs/nat.md)."""
    @property
    def verdict(self) -> str:
        """What the NAT's behaviour means for direct peer-to-peer streams."""
    @property
    def lines(self) -> List[Tuple[str, str]]:
        """The findings as ``(key, text)`` pairs: ``server``, ``udp`` (or
        ``turn``), ``public``, ``check``, ``mapping``, ``filtering``,
        ``unsolicited``, ``verdict``."""

# </generated>

def check(
    uri: str,
    *,
    timeout: float = 5.0,
    bind: Optional[_Addresses] = None,
    stun: Optional[str] = None,
    # <options of netconnection from core's table by scripts/option_stubs.py: do not edit>
    hostname: Optional[str] = None,
    dh_groups: Optional[Sequence[int]] = None,
    hmac_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
    sseq_policy: Optional[Literal["off", "opportunistic", "required"]] = None,
    key_log: Union[None, str, "os.PathLike[str]"] = None,
    open_timeout: Optional[float] = None,
    idle_timeout: Optional[float] = None,
    keepalive_interval: Optional[float] = None,
    max_datagram_size: Optional[int] = None,
    send_buffer: Optional[int] = None,
    receive_buffer: Optional[int] = None,
    max_flows_per_session: Optional[int] = None,
    event_queue_limit: Optional[int] = None,
    turn: Optional[str] = None,
    turn_username: Optional[str] = None,
    turn_password: Optional[str] = None,
    max_peer_connections: Optional[int] = None,
    direct_timeout: Optional[float] = None,
    # </options>
) -> CheckReport: ...
