"""asyncio support: one reader on the endpoint's event fd per event loop.

The runtime's event fd is readable while events wait, so the loop wakes
only when there is work: no polling and no helper thread.  Each wake-up
drains every waiting event and routes it: connect waiters look at session
outcomes, and every event goes to the queue `events_async()` reads.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Deque, Dict, List, Optional

from . import _rtmfp

if TYPE_CHECKING:
    from . import Event
    from ._rtmfp import Endpoint as _Endpoint, Session

# How many session outcomes (opened / failed) to remember for connect
# waiters that register after the event was read.
_OUTCOMES_KEPT = 256


class Dispatcher:
    """Routes one endpoint's events inside one running event loop."""

    def __init__(self, endpoint: _Endpoint, loop: asyncio.AbstractEventLoop) -> None:
        self.endpoint = endpoint
        self.loop = loop
        self.queue: Deque[Event] = collections.deque()
        self.getters: Deque[asyncio.Future[None]] = collections.deque()
        self.open_waiters: Dict[int, List[asyncio.Future[Event]]] = {}
        self.outcomes: "collections.OrderedDict[int, Event]" = collections.OrderedDict()
        self.fd = endpoint.fileno()
        self.active = True
        loop.add_reader(self.fd, self.on_readable)
        # Events set aside by blocking calls do not make the fd readable.
        loop.call_soon(self.on_readable)

    def on_readable(self) -> None:
        if not self.active:
            return
        for event in self.endpoint.drain_events():
            self.route(event)
        if self.endpoint.closed:
            self.stop()

    def route(self, event: Event) -> None:
        if event.kind == "session_opened" or event.kind == "session_open_failed":
            sid = event.session.id
            self.outcomes[sid] = event
            while len(self.outcomes) > _OUTCOMES_KEPT:
                self.outcomes.popitem(last=False)
            for fut in self.open_waiters.pop(sid, []):
                if not fut.done():
                    fut.set_result(event)
        self.queue.append(event)
        self.wake_one()

    def wake_one(self) -> None:
        while self.getters:
            fut = self.getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def stop(self) -> None:
        """The endpoint closed: detach from the loop, wake every waiter."""
        if not self.active:
            return
        self.active = False
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        for fut in self.getters:
            if not fut.done():
                fut.set_result(None)
        self.getters.clear()
        for waiters in self.open_waiters.values():
            for w in waiters:
                if not w.done():
                    w.set_exception(_rtmfp.ClosedError("the endpoint is closed"))
        self.open_waiters.clear()

    async def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event; None on timeout or once closed and drained."""
        deadline = None if timeout is None else self.loop.time() + timeout
        while True:
            if self.queue:
                return self.queue.popleft()
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

    async def wait_open(self, session: Session, timeout: float, what: str) -> Session:
        """Waits until `session` (or the session it duplicates) is open."""
        deadline = self.loop.time() + timeout
        target = session
        for _ in range(8):
            event = self.outcomes.get(target.id)
            if event is None and target.is_open:
                return target
            if event is None:
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


def dispatcher(endpoint: _Endpoint, current: Optional[Dispatcher]) -> Dispatcher:
    """The dispatcher for the running loop, replacing one of another loop."""
    loop = asyncio.get_running_loop()
    if current is not None and current.loop is loop and current.active:
        return current
    if current is not None and current.active:
        current.stop()
    if endpoint.closed:
        raise _rtmfp.ClosedError("the endpoint is closed")
    return Dispatcher(endpoint, loop)
