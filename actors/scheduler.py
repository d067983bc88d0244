"""Scheduler: the service's one timer thread; a heap of due times, each telling a message or running a small action.

It is the threads runtime's scheduler (actors/runtime.py: `runtime().call_later`, `tell_later`); the simulator's
runtime has its own, on virtual time.

Pykka has no timers. Before this module every Ticker was an actor with a thread of its own and a few actors
started `threading.Timer`s (a thread each): about thirty threads that mostly slept. Here one daemon thread
sleeps until the earliest due time; scheduling something earlier wakes it. An action runs in that thread, so it
must be short and never block: telling an actor a message is the usual one.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Timer:
    """One scheduled action; `cancel` makes sure it does not run (if it has not started yet)."""

    def __init__(self, due: float, action: Callable[[], None]) -> None:
        self.due = due
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """A heap of timers served by one daemon thread, started on first use."""

    def __init__(self, name: str = "scheduler") -> None:
        self.name = name
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, seconds: float, action: Callable[[], None]) -> Timer:
        """Run `action` in the scheduler's thread `seconds` from now (0 or less: as soon as it is free)."""
        timer = Timer(time.monotonic() + max(0.0, seconds), action)
        with self._wake:
            heapq.heappush(self._heap, (timer.due, next(self._order), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return timer

    def pending(self) -> int:
        """How many timers wait (cancelled ones included until their time comes)."""
        with self._wake:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        _, _, timer = heapq.heappop(self._heap)
                        break
                    self._wake.wait(None if not self._heap else self._heap[0][0] - now)
            if timer.cancelled:
                continue
            try:
                timer.action()
            except Exception:  # a bug in one action must not stop every other timer of the service
                logger.exception("a scheduled action raised")


SCHEDULER = Scheduler()
"""The process's scheduler: every timer of every actor (under the threads runtime)."""
