"""The one scheduler thread (actors/scheduler.py), with real threads and a real actor."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pykka

from actors.runtime import ThreadRuntime
from actors.scheduler import Scheduler


def test_timers_run_in_due_order_and_an_earlier_one_wakes_the_sleeping_thread() -> None:
    """Scheduled late-first, they run early-first; a timer due sooner than the one slept on is not held up."""
    scheduler = Scheduler("test-scheduler")
    ran: queue.Queue[tuple[str, float]] = queue.Queue()
    started = time.monotonic()

    scheduler.call_later(0.3, lambda: ran.put(("late", time.monotonic())))
    scheduler.call_later(0.05, lambda: ran.put(("early", time.monotonic())))
    first, second = ran.get(timeout=2), ran.get(timeout=2)

    assert ["early", "late"] == [first[0], second[0]]
    assert first[1] - started < 0.3


def broken() -> None:
    raise ZeroDivisionError("a bug in a scheduled action")


def test_a_cancelled_timer_never_runs_and_one_action_raising_stops_no_other() -> None:
    """cancel() before the due time: it does not run. An action that raises is logged; the next still runs."""
    scheduler = Scheduler("test-scheduler")
    ran: list[str] = []
    done = threading.Event()

    cancelled = scheduler.call_later(0.05, lambda: ran.append("cancelled"))
    scheduler.call_later(0.06, broken)
    scheduler.call_later(0.1, done.set)
    cancelled.cancel()

    assert done.wait(2)
    assert [] == ran


class Inbox(pykka.ThreadingActor):
    def __init__(self, seen: queue.Queue[Any]) -> None:
        super().__init__()
        self.seen = seen

    def on_receive(self, message: Any) -> None:
        self.seen.put(message)


def test_tell_later_tells_the_actor_and_tells_nothing_once_it_is_gone() -> None:
    """tell_later reaches a live actor; one stopped meanwhile is skipped without an error."""
    scheduler = ThreadRuntime(Scheduler("test-scheduler"))
    seen: queue.Queue[Any] = queue.Queue()
    live, gone = Inbox.start(seen), Inbox.start(seen)
    gone.stop()
    try:
        scheduler.tell_later(0.02, gone, "to the gone")
        scheduler.tell_later(0.05, live, "hello")

        assert "hello" == seen.get(timeout=2)
        assert seen.empty()
    finally:
        live.stop()
