"""Supervision with real pykka actors and threads: restarts with backoff, logged once; the Logger restarted."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pykka
import pytest

import actors.supervisor
from actors.base import ServiceActor
from actors.logger import Log, LogSink
from actors.supervisor import Supervisor
from actors.ticker import Ticker
from messages.leadership import BecameLeader, LostLeadership
from messages.log import Level
from messages.timing import Tick


class Boom(Exception):
    """A bug, as far as the supervisor knows."""


class Fragile(ServiceActor):
    """Ticks on its own timer (to show timers are re-armed) and dies when told 'crash'."""

    component = "fragile"
    ticks: ClassVar[list[float]] = []

    def on_start(self) -> None:
        Ticker.start("fragile", self.actor_ref, 0.05)

    def handle(self, message: Any) -> None:
        if message == "crash":
            raise Boom("it broke")
        if isinstance(message, Tick):
            Fragile.ticks.append(time.monotonic())


@pytest.fixture
def supervised(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[pykka.ActorRef[Any], list[Any], io.StringIO]]:
    monkeypatch.setattr(actors.supervisor, "CHECK_SECONDS", 0.05)
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, stream=stream)
    sink.start()
    log = Log("test", sink)
    groups: list[Any] = []

    def start_group() -> list[pykka.ActorRef[Any]]:
        group = [Fragile.start(log)]
        groups.append(group)
        return group

    supervisor = Supervisor.start(start_group, sink, log)
    yield supervisor, groups, stream
    pykka.ActorRegistry.stop_all()


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_crashed_actor_is_restarted_with_backoff_and_logged_once(supervised: Any) -> None:
    """A crash restarts the group (timers ticking again); a repeat is logged without the exception."""
    supervisor, groups, stream = supervised
    supervisor.tell(BecameLeader("test:1"))
    wait_until(lambda: len(groups) == 1)

    groups[0][0].tell("crash")
    wait_until(lambda: len(groups) == 2)
    ticks_before = len(Fragile.ticks)
    wait_until(lambda: len(Fragile.ticks) > ticks_before)  # the new instance's timer ticks
    groups[1][0].tell("crash")
    wait_until(lambda: len(groups) == 3, timeout=15)
    log = stream.getvalue()

    assert 1 == log.count("[Boom]: it broke")
    assert "Fragile died; restarting the service's actors in 1 s" in log
    assert "Fragile died again, the same way; restarting the service's actors in 2 s" in log


def test_work_stops_when_leadership_is_lost(supervised: Any) -> None:
    """LostLeadership stops the group; BecameLeader starts a new one."""
    supervisor, groups, _ = supervised
    supervisor.tell(BecameLeader("test:1"))
    wait_until(lambda: len(groups) == 1)

    supervisor.tell(LostLeadership("test"))
    wait_until(lambda: not groups[0][0].is_alive())
    supervisor.tell(BecameLeader("test:1"))
    wait_until(lambda: len(groups) == 2)

    assert groups[1][0].is_alive()


def test_dead_logger_is_restarted_and_nothing_is_lost(supervised: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """While the Logger is down, entries go to stderr; the Supervisor starts it again."""
    supervisor, _, stream = supervised
    sink = supervisor.proxy().sink.get()
    sink.ref.stop()
    Log("test", sink).error("while the Logger is down")

    wait_until(lambda: sink.alive)
    wait_until(lambda: "the Logger had stopped" in stream.getvalue())

    assert "[ERROR] [module:test] while the Logger is down" in capsys.readouterr().err
