"""Type stubs for the compiled extension module rtmfp._rtmfp.

Import from ``rtmfp``, not from here: ``rtmfp.Endpoint`` adds the asyncio
methods to the ``Endpoint`` below.
"""

import builtins
from typing import (
    Any,
    Dict,
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

__version__: str
"""The version of the rtmfp native library (the Cargo package version)."""

_Address = Union[str, Tuple[str, int]]
_Addresses = Union[_Address, Sequence[_Address]]
# Any bytes-like object: bytes, bytearray, memoryview, array.array, mmap...
_BytesLike = Buffer
_E = TypeVar("_E", bound="Endpoint")

# ------------------------------------------------------------------ errors --

class Error(Exception):
    """Base class of every error raised by rtmfp."""

class ClosedError(Error):
    """The endpoint is closed (or its I/O thread stopped)."""

class TimeoutError(Error, builtins.TimeoutError):
    """A blocking wait (connect, wait_open) ran out of time."""

class InvalidArgument(Error, ValueError):
    """A bad argument: URI, address, peer ID, duration, priority."""

class SessionError(Error):
    """No such session, the session is not open, or it failed to open."""

class FlowError(Error):
    """A flow operation failed: no such flow, or the flow is closed."""

class WouldBlock(FlowError, BlockingIOError):
    """The flow's send buffer is full: wait for FlowWritable."""

# ------------------------------------------------------- sessions, flows --

@final
class Session:
    """A session with one far end: opening, open or closed."""

    @property
    def id(self) -> int: ...
    @property
    def is_open(self) -> bool: ...
    @property
    def far_address(self) -> Optional[str]: ...
    @property
    def far_peer_id(self) -> Optional[str]: ...
    @property
    def role(self) -> Optional[Literal["initiator", "responder"]]: ...
    def stats(self) -> Optional[Dict[str, Any]]:
        """Counters and RTT estimates (seconds); None unless open."""
    def open_flow(
        self,
        metadata: Optional[_BytesLike] = None,
        priority: int = 3,
        association: Optional[RecvFlow] = None,
    ) -> Flow:
        """Opens a sending flow (metadata at most 512 bytes, priority 0..7)."""
    def close(self, abrupt: bool = False) -> None:
        """Closes the session (or abandons it while opening)."""
    def wait_open(self, timeout: float = 10.0) -> Session:
        """Waits until open; returns the session to use."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Flow:
    """A sending flow."""

    @property
    def id(self) -> int: ...
    @property
    def session(self) -> Session: ...
    @property
    def writable(self) -> bool:
        """Whether ``send`` would take a message now."""
    def send(
        self,
        data: _BytesLike,
        *,
        deadline: Optional[float] = None,
        start_deadline: Optional[float] = None,
        retransmit: bool = True,
        parent: Optional[int] = None,
    ) -> int:
        """Queues a message; returns its id.  Raises WouldBlock when full."""
    def abandon(self, message: int) -> None:
        """Abandons a queued message and those chained to it."""
    def close(self) -> None:
        """Closes the flow after what is queued (FlowComplete follows)."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RecvFlow:
    """A receiving flow the far end opened."""

    @property
    def id(self) -> int: ...
    @property
    def session(self) -> Session: ...
    def accept(self, order: Literal["sequence", "network"] = "sequence") -> None:
        """Accepts the flow: its messages arrive as Message events."""
    def reject(self, code: int = 0) -> None:
        """Rejects the flow; the sender sees FlowRejected with ``code``."""
    def suspend(self) -> None:
        """Holds back Message events until ``resume()``."""
    def resume(self) -> None:
        """Delivers messages again."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

# ------------------------------------------------------------------ events --

@final
class SessionOpened:
    kind: Literal["session_opened"]
    @property
    def session(self) -> Session: ...
    @property
    def role(self) -> Literal["initiator", "responder"]: ...
    @property
    def far_address(self) -> str: ...
    @property
    def far_peer_id(self) -> Optional[str]: ...
    @property
    def near_nonce(self) -> bytes: ...
    @property
    def far_nonce(self) -> bytes: ...

@final
class SessionOpenFailed:
    kind: Literal["session_open_failed"]
    @property
    def session(self) -> Session: ...
    @property
    def reason(self) -> Literal["timeout", "duplicate", "keying_failed", "cancelled"]: ...
    @property
    def duplicate_of(self) -> Optional[Session]: ...

@final
class SessionClosed:
    kind: Literal["session_closed"]
    @property
    def session(self) -> Session: ...
    @property
    def reason(
        self,
    ) -> Literal["local", "local_abrupt", "remote", "idle_timeout", "overridden"]: ...

@final
class FlowOpened:
    kind: Literal["flow_opened"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> RecvFlow: ...
    @property
    def metadata(self) -> bytes: ...
    @property
    def association(self) -> Optional[Flow]: ...

@final
class Message:
    kind: Literal["message"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> RecvFlow: ...
    @property
    def data(self) -> bytes: ...
    @property
    def gap_before(self) -> bool: ...

@final
class FlowFinished:
    kind: Literal["flow_finished"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> RecvFlow: ...

@final
class MessageDelivered:
    kind: Literal["message_delivered"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> Flow: ...
    @property
    def message(self) -> int: ...

@final
class MessageAbandoned:
    kind: Literal["message_abandoned"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> Flow: ...
    @property
    def message(self) -> int: ...

@final
class FlowWritable:
    kind: Literal["flow_writable"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> Flow: ...

@final
class FlowRejected:
    kind: Literal["flow_rejected"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> Flow: ...
    @property
    def code(self) -> int: ...

@final
class FlowComplete:
    kind: Literal["flow_complete"]
    @property
    def session(self) -> Session: ...
    @property
    def flow(self) -> Flow: ...

@final
class UnmatchedIHello:
    kind: Literal["unmatched_ihello"]
    @property
    def epd(self) -> bytes: ...
    @property
    def tag(self) -> bytes: ...
    @property
    def address(self) -> str: ...

@final
class FarAddressChanged:
    kind: Literal["far_address_changed"]
    @property
    def session(self) -> Session: ...
    @property
    def old_address(self) -> str: ...
    @property
    def new_address(self) -> str: ...

_Event = Union[
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

# ---------------------------------------------------------------- endpoint --

@final
class EventIterator(Iterator[_Event]):
    """Blocking iterator over events; ends when the endpoint closes."""

    def __iter__(self) -> EventIterator: ...
    def __next__(self) -> _Event: ...

class Endpoint:
    """An RTMFP endpoint (use ``rtmfp.Endpoint``, which adds asyncio)."""

    def __init__(
        self,
        bind: Optional[_Addresses] = None,
        *,
        server: bool = False,
        hostname: Optional[str] = None,
        open_timeout: Optional[float] = None,
        idle_timeout: Optional[float] = None,
        keepalive_interval: Optional[float] = None,
    ) -> None: ...
    @property
    def peer_id(self) -> str:
        """64 hex digits: what other peers pass to ``connect_peer``."""
    @property
    def peer_id_bytes(self) -> bytes: ...
    @property
    def address(self) -> str:
        """The first bound address, ``"ip:port"``."""
    @property
    def addresses(self) -> List[str]: ...
    @property
    def closed(self) -> bool: ...
    def fileno(self) -> int:
        """Readable while events wait (and for good once closed)."""
    def close(self, timeout: float = 1.0) -> bool:
        """Closes sessions in order, stops the I/O thread; idempotent."""
    def __enter__(self: _E) -> _E: ...
    def __exit__(self, *args: object) -> bool: ...
    def connect(self, uri: str, *, timeout: float = 10.0) -> Session:
        """Connects to an ``rtmfp://host[:port]/app`` URI; waits until open."""
    def connect_peer(
        self,
        peer_id: Union[str, bytes],
        addresses: _Addresses,
        *,
        timeout: float = 10.0,
    ) -> Session:
        """Connects to a peer by ID at ``addresses``; waits until open."""
    def start_connect(self, uri: str) -> Session:
        """Starts connecting; returns the opening session at once."""
    def start_connect_peer(
        self, peer_id: Union[str, bytes], addresses: _Addresses
    ) -> Session:
        """Starts connecting to a peer; returns the opening session at once."""
    def next_event(self, timeout: Optional[float] = None) -> Optional[_Event]:
        """The next event, or None after ``timeout`` seconds."""
    def events(self) -> EventIterator:
        """A blocking iterator over events."""
    def drain_events(self) -> List[_Event]:
        """Every event waiting now, without blocking."""
    def stats(self) -> Dict[str, Any]:
        """Counters: sessions, datagrams, bytes, drops, and ``"io"``."""

def _open_error(event: SessionOpenFailed, what: str) -> Error: ...
