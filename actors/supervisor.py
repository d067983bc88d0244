"""Supervisor: runs the service's actors while this instance leads, restarts them with backoff when one dies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from actors.base import ServiceActor, take_crash
from actors.logger import Log, LogSink
from actors.ticker import Ticker
from messages.leadership import BecameLeader, LostLeadership
from messages.timing import Tick
from neon_cm.backoff import Backoff

#: How often the Supervisor looks for dead actors (pykka tells nobody when one dies).
CHECK_SECONDS = 1.0
#: SIGTERM to exit must stay under the 5 s Docker gives before SIGKILL.
STOP_TIMEOUT_SECONDS = 3.5


def stop_actors(actors: list[pykka.ActorRef[Any]], log: Log, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop the actors in reverse start order, within `timeout` overall."""
    deadline = time.monotonic() + timeout
    for actor in reversed(actors):
        try:
            actor.stop(block=True, timeout=max(0.1, deadline - time.monotonic()))
        except pykka.Timeout:
            log.error(f"{actor} did not stop in time")


class Supervisor(ServiceActor):
    """One-for-all supervision, small and explicit.

    The group is started by `start_group` (in dependency order) when this instance becomes
    leader, and stopped when it stops leading. When any actor of the group dies, the whole
    group is stopped and started again after a backoff (1 s, doubling to 60 s; back to 1 s
    after 5 quiet minutes), so every actor's timers and wiring are fresh. The crash is logged
    once with its exception; a repeat of the same crash is logged without it. The Logger is
    watched too: restarted at once, entries go to stderr meanwhile.
    """

    component = "supervisor"

    def __init__(self, start_group: Callable[[], list[pykka.ActorRef[Any]]], sink: LogSink, log: Log) -> None:
        super().__init__(log)
        self.start_group = start_group
        self.sink = sink
        self.group: list[pykka.ActorRef[Any]] = []
        self.leading = False
        self.backoff = Backoff()
        self.last_crash: str | None = None
        self.restart_timer: threading.Timer | None = None
        self.ticker: pykka.ActorRef[Any] | None = None

    def on_start(self) -> None:
        self.ticker = Ticker.start("supervise", self.actor_ref, CHECK_SECONDS)

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        if self.restart_timer is not None:
            self.restart_timer.cancel()
        stop_actors(self.group, self.log)
        self.group = []

    def handle(self, message: Any) -> None:
        if isinstance(message, BecameLeader):
            self.log.info(f"this instance ({message.instance}) is active")
            self.leading = True
            self.start_work()
        elif isinstance(message, LostLeadership):
            self.log.warn(f"this instance is no longer active: {message.reason}; stopping work")
            self.leading = False
            stop_actors(self.group, self.log)
            self.group = []
        elif isinstance(message, Tick) and message.timer == "restart":
            self.restart_timer = None
            if self.leading and not self.group:
                self.start_work()
        elif isinstance(message, Tick):
            self.check()

    def start_work(self) -> None:
        if not self.group:
            self.group = self.start_group()

    def check(self) -> None:
        if not self.sink.alive:
            self.sink.start()
            self.log.error("the Logger had stopped; restarted it (entries meanwhile went to stderr)")
        dead = [ref for ref in self.group if not ref.is_alive()]
        if not dead:
            return
        name = dead[0].actor_class.__name__
        error = take_crash(getattr(dead[0].actor_class, "component", name))
        what = f"{name} died" + (f" ({type(error).__name__}: {error})" if error else "")
        delay = self.backoff.failed(time.monotonic())
        if what != self.last_crash:
            self.log.error(f"{name} died; restarting the service's actors in {delay:g} s", error)
        else:
            self.log.error(f"{name} died again, the same way; restarting the service's actors in {delay:g} s")
        self.last_crash = what
        stop_actors(self.group, self.log)
        self.group = []
        self.restart_timer = threading.Timer(delay, self.tell_restart)
        self.restart_timer.daemon = True
        self.restart_timer.start()

    def tell_restart(self) -> None:
        try:
            self.actor_ref.tell(Tick("restart"))
        except pykka.ActorDeadError:
            pass  # stopped meanwhile
