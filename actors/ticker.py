"""Ticker: tells a Tick to its target every N seconds, on the runtime's one scheduler (no thread of its own)."""

from __future__ import annotations

import uuid
from typing import Any

import pykka

from actors.base import current_parent, tell
from actors.runtime import Event, RuntimeActor, Timer, runtime
from messages.lifecycle import ChildExited
from messages.timing import SetInterval, Tick


class Ticker(RuntimeActor):
    """Tells `Tick(name)` to `target` at start and then every `interval` seconds, skipping a tick while
    the target has not handled the last one (so a slow or hung target never builds a backlog).

    Started like an actor (`Ticker.start(...)`, or `self.spawn(Ticker, ...)` to link it to its owner) and
    told SetInterval like one, but it is no thread: `start` returns a `TickerRef` whose ticks are timers on
    the scheduler (the class is never instantiated: it is an actor class only so that owners spawn and type it
    like any other helper). An interval change counts from the last tick. The ticker stops itself when its target is
    gone; told an interval of 0 or less it dies (a bug), and its parent hears of it as of any linked helper.
    """

    @classmethod
    def start(  # takes its own arguments and starts no thread (see the class)
        cls, name: str, target: pykka.ActorRef[Any], interval: float, tick_at_start: bool = True
    ) -> TickerRef:
        if interval <= 0:
            raise ValueError("interval must be above 0")
        return TickerRef(name, target, interval, tick_at_start, current_parent())


class TickerRef(pykka.ActorRef[Ticker]):
    """A Ticker as its owner sees it: `tell(SetInterval)`, `stop`, `is_alive`, like any actor's reference."""

    def __init__(
        self,
        name: str,
        target: pykka.ActorRef[Any],
        interval: float,
        tick_at_start: bool,
        parent: pykka.ActorRef[Any] | None,
    ) -> None:
        # No super().__init__: there is no actor object behind this reference, only timers.
        self.actor_class = Ticker
        self.actor_urn = uuid.uuid4().urn
        self.runtime = runtime()
        """Its clock and scheduler: the runtime it was started in."""
        self.actor_stopped = self.runtime.event()  # type: ignore[assignment]  # only set and is_set, as pykka's
        self.timer = name
        self.target = target
        self.interval = interval
        self.parent = parent
        self._lock = self.runtime.lock()
        self._pending: Event | None = None
        self._last_tick = self.runtime.now() - (interval if tick_at_start else 0.0)
        self._next: Timer | None = None
        with self._lock:
            self._arm()

    def __str__(self) -> str:
        return f"ticker:{self.timer}"

    @property
    def name(self) -> str:
        """What the ticker is called in its owner's report."""
        return f"ticker:{self.timer}"

    def tell(self, message: Any) -> None:
        if not self.is_alive():
            raise pykka.ActorDeadError(f"{self} not found")
        if isinstance(message, SetInterval):
            if message.seconds <= 0:
                self._exit(ValueError("interval must be above 0"))
                return
            with self._lock:
                self.interval = message.seconds
                self._arm()

    def stop(  # type: ignore[override]  # no future to wait for: stopping a ticker is cancelling a timer
        self, *, block: bool = True, timeout: float | None = None
    ) -> bool:
        return self._exit(None)

    def _exit(self, error: BaseException | None) -> bool:
        with self._lock:
            if self.actor_stopped.is_set():
                return False
            self.actor_stopped.set()
            if self._next is not None:
                self._next.cancel()
        tell(self.parent, ChildExited(self, self.name, error))
        return True

    def _arm(self) -> None:
        """Schedule the next tick `interval` after the last one (with the lock held)."""
        if self._next is not None:
            self._next.cancel()
        self._next = self.runtime.call_later(self._last_tick + self.interval - self.runtime.now(), self._fire)

    def _fire(self) -> None:
        with self._lock:
            if self.actor_stopped.is_set():
                return
            self._last_tick = self.runtime.now()
            busy = self._pending is not None and not self._pending.is_set()
            if not busy:
                self._pending = self.runtime.event()
                tick = Tick(self.timer, self._pending)
            if busy and self.target.is_alive():
                self._arm()  # still busy with the last tick: a backlog would only repeat the work
                return
        if busy or not tell(self.target, tick):
            self._exit(None)  # the target died (holding the last tick, or before this one)
            return
        with self._lock:
            if not self.actor_stopped.is_set():
                self._arm()
