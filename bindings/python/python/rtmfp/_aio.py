"""asyncio support: one reader on the event fd per object and event loop.

The runtime's event fd is readable while events wait, so the loop wakes
only when there is work: no polling and no helper thread.  Each wake-up
drains every waiting event and routes it: connect waiters look at session
outcomes, and every event goes to the queue `events_async()` reads.

After close the last events (an endpoint's `SessionClosed`, a
NetConnection's "NetConnection.Connect.Closed") are still routed: the
native stream drains (core's `AfterClose::Drain`), and a dispatcher stops
only once the stream has ended and everything in it was read.

`LayerDispatcher` does the same for a `NetConnection` or a `Server`, whose
layer has an event queue (and fd) of its own.  Their Python callbacks run
while it drains (on the loop's thread); an exception one raised comes out
of the queue as an item and is raised by the next read.
"""

from __future__ import annotations

import asyncio
import collections
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    Generic,
    List,
    Optional,
    Protocol,
    Tuple,
    TypeVar,
    Union,
)

from . import _rtmfp

if TYPE_CHECKING:
    from . import Event
    from ._rtmfp import Endpoint as _Endpoint, Session

# How many session outcomes (opened / failed) to remember for connect
# waiters that register after the event was read.
_OUTCOMES_KEPT = 256

_Ev = TypeVar("_Ev")


class Source(Protocol):
    """What every dispatcher reads: an Endpoint, NetConnection or Server."""

    def fileno(self) -> int: ...

    def _events_ended(self) -> bool: ...


class Router(Generic[_Ev]):
    """Routes one object's events inside one running event loop: the
    queue `get` reads, and the waiters of `wait_for`.  Subclasses say how
    events are taken (`take`)."""

    def __init__(self, source: Source, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: Deque[Union[_Ev, BaseException]] = collections.deque()
        self.getters: Deque[asyncio.Future[None]] = collections.deque()
        self.waiters: List[Tuple[Callable[[_Ev], bool], asyncio.Future[_Ev]]] = []
        self.ended = source._events_ended
        self.fd = source.fileno()
        self.active = True
        loop.add_reader(self.fd, self.on_readable)
        # Events set aside by blocking calls do not make the fd readable.
        loop.call_soon(self.on_readable)

    def take(self) -> List[Union[_Ev, BaseException]]:
        """Every event waiting now (exceptions stand for callbacks')."""
        raise NotImplementedError

    def on_readable(self) -> None:
        if not self.active:
            return
        # Asked first: once ended, this drain takes the last events.
        ended = self.ended()
        for item in self.take():
            self.route(item)
        if ended:
            self.stop()

    def route(self, item: Union[_Ev, BaseException]) -> None:
        if not isinstance(item, BaseException) and self.waiters:
            for match, fut in self.waiters:
                if not fut.done() and match(item):
                    fut.set_result(item)
            self.waiters = [(m, f) for m, f in self.waiters if not f.done()]
        self.queue.append(item)
        self.wake_one()

    def wake_one(self) -> None:
        while self.getters:
            fut = self.getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def stop(self) -> None:
        """Closed: detach from the loop, wake every waiter."""
        if not self.active:
            return
        self.active = False
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        for fut in self.getters:
            if not fut.done():
                fut.set_result(None)
        self.getters.clear()
        for _, w in self.waiters:
            if not w.done():
                w.set_exception(_rtmfp.ClosedError("closed while waiting"))
        self.waiters.clear()

    async def get(self, timeout: Optional[float] = None) -> Optional[_Ev]:
        """The next event; None on timeout or once closed and drained.
        Raises what a callback raised (a CallbackError)."""
        deadline = None if timeout is None else self.loop.time() + timeout
        while True:
            if self.queue:
                item = self.queue.popleft()
                if isinstance(item, BaseException):
                    raise item
                return item
            if not self.active:
                return None
            fut: asyncio.Future[None] = self.loop.create_future()
            self.getters.append(fut)
            try:
                if deadline is None:
                    await fut
                else:
                    remaining = deadline - self.loop.time()
                    if remaining <= 0:
                        return None
                    try:
                        await asyncio.wait_for(fut, remaining)
                    except asyncio.TimeoutError:
                        return None
            finally:
                if not fut.done():
                    fut.cancel()
                if self.queue:
                    # Were we woken and then cancelled, the wake-up must
                    # not be lost; a spare one costs a getter a re-check.
                    self.wake_one()

    async def wait_for(self, match: Callable[[_Ev], bool], timeout: float, what: str) -> _Ev:
        """The first event from now on that `match`es (it also stays in
        the queue).  Register before yielding to the loop."""
        fut: asyncio.Future[_Ev] = self.loop.create_future()
        if not self.active:
            raise _rtmfp.ClosedError("closed")
        self.waiters.append((match, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise _rtmfp.TimeoutError(f"{what} within {timeout:.3f} s") from None


_R = TypeVar("_R", bound="Router[Any]")


def for_loop(current: Optional[_R], make: Callable[[asyncio.AbstractEventLoop], _R]) -> _R:
    """The dispatcher for the running loop, replacing one of another loop.
    One of this loop that stopped (the stream ended) is kept: the events
    it routed are still read from it.  A closed source gets one too: it
    routes the events left, then stops."""
    loop = asyncio.get_running_loop()
    if current is not None and current.loop is loop:
        return current
    if current is not None:
        current.stop()
    return make(loop)


class Dispatcher(Router["Event"]):
    """Routes one endpoint's events; connect waiters look at the session
    outcomes."""

    def __init__(self, endpoint: _Endpoint, loop: asyncio.AbstractEventLoop) -> None:
        self.endpoint = endpoint
        self.open_waiters: Dict[int, List[asyncio.Future[Event]]] = {}
        self.outcomes: "collections.OrderedDict[int, Event]" = collections.OrderedDict()
        super().__init__(endpoint, loop)

    def take(self) -> List[Union[Event, BaseException]]:
        return list(self.endpoint.drain_events())

    def route(self, item: Union[Event, BaseException]) -> None:
        event = item
        if not isinstance(event, BaseException) and (
            event.kind == "session_opened" or event.kind == "session_open_failed"
        ):
            sid = event.session.id
            self.outcomes[sid] = event
            while len(self.outcomes) > _OUTCOMES_KEPT:
                self.outcomes.popitem(last=False)
            for fut in self.open_waiters.pop(sid, []):
                if not fut.done():
                    fut.set_result(event)
        super().route(item)

    def stop(self) -> None:
        """The endpoint closed: detach from the loop, wake every waiter."""
        if not self.active:
            return
        super().stop()
        for waiters in self.open_waiters.values():
            for w in waiters:
                if not w.done():
                    w.set_exception(_rtmfp.ClosedError("the endpoint is closed"))
        self.open_waiters.clear()

    async def wait_open(self, session: Session, timeout: float, what: str) -> Session:
        """Waits until `session` (or the session it duplicates) is open."""
        deadline = self.loop.time() + timeout
        target = session
        for _ in range(8):
            event = self.outcomes.get(target.id)
            if event is None and target.is_open:
                return target
            if event is None:
                if not self.active:
                    raise _rtmfp.ClosedError("the endpoint is closed")
                fut: asyncio.Future[Event] = self.loop.create_future()
                self.open_waiters.setdefault(target.id, []).append(fut)
                remaining = max(0.0, deadline - self.loop.time())
                try:
                    event = await asyncio.wait_for(fut, remaining)
                except asyncio.TimeoutError:
                    if target == session:
                        _cancel(session)
                    raise _rtmfp.TimeoutError(
                        f"no session with {what} within {timeout:.3f} s"
                    ) from None
                except BaseException:
                    if target == session:
                        _cancel(session)
                    raise
            if event.kind == "session_opened":
                return target
            if event.kind == "session_open_failed":
                if event.reason == "duplicate" and event.duplicate_of is not None:
                    target = event.duplicate_of
                    continue
                raise _rtmfp._open_error(event, what)
        raise _rtmfp.SessionError(f"no session with {what}: too many duplicates")


def _cancel(session: Session) -> None:
    try:
        session.close(abrupt=True)
    except _rtmfp.Error:
        pass


# ------------------------------------------------------------------ layers --


class LayerSource(Source, Protocol[_Ev]):
    """What LayerDispatcher needs: a NetConnection or a Server."""

    def _drain(self) -> List[Union[_Ev, BaseException]]: ...


class LayerDispatcher(Router[_Ev]):
    """Routes the events of a NetConnection or Server: their layer has an
    event queue (and fd) of its own, and their callbacks' exceptions come
    out of it as items."""

    def __init__(self, source: LayerSource[_Ev], loop: asyncio.AbstractEventLoop) -> None:
        self.source = source
        super().__init__(source, loop)

    def take(self) -> List[Union[_Ev, BaseException]]:
        try:
            return self.source._drain()
        except Exception as e:  # never lose it: the next read raises it
            return [e]
