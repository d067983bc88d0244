"""The Ticker timer actor, with real pykka actors and threads."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pykka
import pytest

from actors.ticker import Ticker
from messages.timing import SetInterval, Tick
from tests.waiting import wait_until


class Recorder(pykka.ThreadingActor):
    """Puts what it is told, with the time, on a queue."""

    def __init__(self, seen: queue.Queue[tuple[float, Any]]) -> None:
        super().__init__()
        self.seen = seen

    def on_receive(self, message: Any) -> None:
        self.seen.put((time.monotonic(), message))
        if isinstance(message, Tick) and message.handled is not None:
            message.handled.set()


@pytest.fixture
def recorder() -> Iterator[tuple[pykka.ActorRef[Any], queue.Queue[tuple[float, Any]]]]:
    seen: queue.Queue[tuple[float, Any]] = queue.Queue()
    ref = Recorder.start(seen)
    yield ref, seen
    pykka.ActorRegistry.stop_all()


def test_ticks_at_start_and_then_periodically(recorder: Any) -> None:
    """A Ticker tells its named Tick at once and then again every interval."""
    target, seen = recorder
    Ticker.start("poll", target, 0.05)

    ticks = [seen.get(timeout=2)[1] for _ in range(3)]

    assert [Tick("poll")] * 3 == ticks


def test_interval_change_takes_effect_while_running(recorder: Any) -> None:
    """SetInterval shortens a long wait without restarting the Ticker."""
    target, seen = recorder
    ticker = Ticker.start("poll", target, 3600, tick_at_start=False)
    ticker.tell(SetInterval(0.05))

    assert Tick("poll") == seen.get(timeout=2)[1]


def test_stops_cleanly_and_stops_with_its_target(recorder: Any) -> None:
    """Stopping a Ticker ends its thread; a Ticker whose target died stops itself."""
    target, _ = recorder
    ticker = Ticker.start("poll", target, 0.01)
    ticker.stop()
    orphan = Ticker.start("orphan", target, 0.01)
    target.stop()
    wait_until(lambda: not orphan.is_alive(), 2, "the orphan ticker to stop", interval=0.01)

    assert (False, False) == (ticker.is_alive(), orphan.is_alive())


class Stuck(pykka.ThreadingActor):
    """Takes its time over every tick."""

    def __init__(self, seen: queue.Queue[tuple[float, Any]], release: threading.Event) -> None:
        super().__init__()
        self.seen = seen
        self.release = release

    def on_receive(self, message: Any) -> None:
        self.seen.put((time.monotonic(), message))
        self.release.wait(5)
        if isinstance(message, Tick) and message.handled is not None:
            message.handled.set()


def test_no_backlog_while_the_target_is_busy() -> None:
    """A target stuck on one tick gets no queue of ticks behind it, and ticks again once it is free."""
    seen: queue.Queue[tuple[float, Any]] = queue.Queue()
    release = threading.Event()
    target = Stuck.start(seen, release)
    try:
        Ticker.start("poll", target, 0.01)
        seen.get(timeout=2)
        time.sleep(0.3)  # about 30 intervals while the first tick is being handled
        queued_while_busy = target.actor_inbox.qsize()  # type: ignore[attr-defined]  # a queue.Queue here
        release.set()

        assert 0 == queued_while_busy
        assert Tick("poll") == seen.get(timeout=2)[1]
    finally:
        pykka.ActorRegistry.stop_all()
