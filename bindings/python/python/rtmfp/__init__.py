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
"""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, AsyncIterator, Optional, Sequence, Tuple, Union

from . import _aio, _rtmfp
from ._rtmfp import (
    ClosedError,
    Error,
    EventIterator,
    FarAddressChanged,
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


class Endpoint(_rtmfp.Endpoint):
    """An RTMFP endpoint: an identity, UDP sockets and an I/O thread.

    ``Endpoint(bind="0.0.0.0:0", *, server=False, hostname=None,
    open_timeout=None, idle_timeout=None, keepalive_interval=None)``

    - ``bind``: address(es) to bind, ``"ip:port"`` or ``(host, port)``;
      port 0 picks a free port (see ``address``).
    - ``server``: a server identity that ``rtmfp://`` URIs reach
      (ephemeral Diffie-Hellman, accepts ancillary data); otherwise a
      peer identity reached by its ``peer_id``.
    - ``hostname``: the certificate's hostname option.
    - ``open_timeout`` / ``idle_timeout`` / ``keepalive_interval``:
      seconds; the defaults are RFC 7016's (95 s / 60 s / 10 s).

    A context manager (``with`` and ``async with``) that closes itself.
    Binding failures raise ``OSError``; everything else raises
    ``rtmfp.Error`` subclasses.
    """

    _dispatcher: Optional[_aio.Dispatcher] = None

    def _aio(self) -> _aio.Dispatcher:
        self._dispatcher = _aio.dispatcher(self, self._dispatcher)
        return self._dispatcher

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

    async def next_event_async(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event; None on timeout.  Raises ``ClosedError`` once
        the endpoint is closed and every event was read."""
        d = self._aio()
        event = await d.get(timeout)
        if event is None and not d.active:
            raise ClosedError("the endpoint is closed")
        return event

    async def events_async(self) -> AsyncIterator[Event]:
        """``async for event in ep.events_async()``; ends when the
        endpoint closes."""
        d = self._aio()
        while True:
            event = await d.get()
            if event is None:
                return
            yield event

    async def close_async(self, timeout: float = 1.0) -> bool:
        """``close`` without blocking the event loop."""
        loop = asyncio.get_running_loop()
        clean: bool = await loop.run_in_executor(None, self.close, timeout)
        if self._dispatcher is not None:
            self._dispatcher.stop()
        return clean

    async def __aenter__(self) -> Endpoint:
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close_async()


__all__ = [
    "Address",
    "Addresses",
    "ClosedError",
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
    "Message",
    "MessageAbandoned",
    "MessageDelivered",
    "Priority",
    "RecvFlow",
    "Session",
    "SessionClosed",
    "SessionError",
    "SessionOpenFailed",
    "SessionOpened",
    "TimeoutError",
    "UnmatchedIHello",
    "WouldBlock",
    "__version__",
]
