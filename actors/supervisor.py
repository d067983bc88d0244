"""Supervisor: starts its children, hears of a death at once, restarts by strategy with backoff and intensity."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pykka

from actors.base import ServiceActor, linked, tell
from actors.logger import Log
from messages.lifecycle import ActorRestarted, ChildExited, RestartChild, SupervisionGaveUp
from neon_cm.backoff import Backoff, RestartIntensity

#: SIGTERM to exit must stay under the 5 s Docker gives before SIGKILL.
STOP_TIMEOUT_SECONDS = 3.0


class Strategy(enum.Enum):
    """Which children a crash restarts (Erlang/OTP's names)."""

    ONE_FOR_ONE = "one-for-one"
    """Only the child that died."""
    ONE_FOR_ALL = "one-for-all"
    """Every child."""
    REST_FOR_ONE = "rest-for-one"
    """The child that died and those started after it."""


@attrs.frozen
class ChildSpec:
    """How to start one child; `start` is called with the supervisor as the child's parent."""

    name: str
    start: Callable[[], pykka.ActorRef[Any]] = attrs.field(repr=False)


def stop_actors(actors: list[pykka.ActorRef[Any]], log: Log, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop the actors one by one in reverse start order, within `timeout` overall; one still busy is left
    behind (its thread is a daemon) with a WARN, so a peer that never answers cannot hold up an exit."""
    deadline = time.monotonic() + timeout
    for actor in reversed(actors):
        try:
            actor.stop(block=True, timeout=max(0.05, deadline - time.monotonic()))
        except pykka.Timeout:
            log.warn(f"{actor.actor_class.__name__} did not stop within {timeout:g} s (busy with a peer); leaving it")


class Supervisor(ServiceActor):
    """Runs its children; when one dies, restarts by `strategy` after a backoff (1 s doubling to 60 s).

    More than `intensity` = (restarts, seconds) restarts within that many seconds (counted per child
    for one-for-one, per group otherwise) and it gives up: a supervisor with a parent stops its children
    and dies, so its parent decides; the top supervisor (no parent) leaves that child stopped and
    tells SupervisionGaveUp, which makes the service unhealthy. A crash is logged once with its
    exception; the same crash again is logged without it.
    """

    component = "supervisor"

    def __init__(
        self,
        name: str,
        strategy: Strategy,
        specs: list[ChildSpec],
        log: Log,
        intensity: tuple[int, float] = (5, 60.0),
        backoff: tuple[float, float] = (1.0, 60.0),
    ) -> None:
        super().__init__(log)
        self.supervisor_name = name
        self.log = log.child(f"supervisor:{name}")
        self.strategy = strategy
        self.specs = list(specs)
        self.intensity = intensity
        self.backoff = backoff
        self.running: dict[str, pykka.ActorRef[Any]] = {}
        self.limits: dict[str, RestartIntensity] = {}
        self.backoffs: dict[str, Backoff] = {}
        self.generation = 0
        self.last_crash: dict[str, str] = {}
        self.timers: list[threading.Timer] = []

    @property
    def name(self) -> str:
        return self.supervisor_name

    def setup(self) -> None:
        for spec in self.specs:
            self.start_child(spec)

    def cleanup(self) -> None:
        for timer in self.timers:
            timer.cancel()
        children = [self.running.pop(spec.name) for spec in self.specs if spec.name in self.running]
        stop_actors(children, self.log)

    def receive(self, message: Any) -> Any:
        if isinstance(message, ChildExited):
            self.child_exited(message)
            return None
        if isinstance(message, RestartChild):
            if message.generation == self.generation:
                for spec in self.specs:
                    if spec.name in message.names and spec.name not in self.running:
                        self.start_child(spec)
            return None
        return super().receive(message)

    def handle(self, message: Any) -> Any:
        """A plain supervisor has nothing else to do; subclasses add their own work."""
        return None

    # ------------------------------------------------------------------ children

    def start_child(self, spec: ChildSpec) -> None:
        """Start one child (adding its spec if new); a failure to start counts as its crash."""
        if spec not in self.specs:
            self.specs.append(spec)
        try:
            with linked(self.actor_ref, self.directory):
                ref = spec.start()
        except Exception as error:  # noqa: BLE001 -- a constructor that raised is a crash like one in setup
            self.tell_self(ChildExited(None, spec.name, error))
            return
        self.running[spec.name] = ref
        self.directory.register(spec.name, ref)

    def stop_child(self, name: str) -> None:
        """Stop a child and forget its spec (it is not restarted)."""
        self.specs = [spec for spec in self.specs if spec.name != name]
        ref = self.running.pop(name, None)
        if ref is not None:
            self.directory.unregister(name, ref)
            stop_actors([ref], self.log)

    # ------------------------------------------------------------------ failures

    def child_exited(self, exited: ChildExited) -> None:
        if exited.child is not None and self.running.get(exited.name) is not exited.child:
            return  # one we stopped ourselves, or an older instance
        self.running.pop(exited.name, None)
        if exited.child is not None:
            self.directory.unregister(exited.name, exited.child)
        names = [spec.name for spec in self.specs]
        if exited.name not in names:
            return
        affected = self.affected(exited.name, names)
        others = {name: self.running.pop(name) for name in affected if name in self.running}
        for name, ref in others.items():
            self.directory.unregister(name, ref)
        stop_actors(list(others.values()), self.log)
        key = exited.name if self.strategy is Strategy.ONE_FOR_ONE else "*"
        limit = self.limits.setdefault(key, RestartIntensity(*self.intensity))
        what = self.describe_exit(exited)
        if not limit.allow(time.monotonic()):
            self.give_up(exited.name, affected, what)
            return
        delay = self.backoffs.setdefault(key, Backoff(*self.backoff)).failed(time.monotonic())
        whom = "it" if affected == [exited.name] else ", ".join(affected)
        if self.last_crash.get(exited.name) != what:
            self.log.error(f"{exited.name} {what}; restarting {whom} in {delay:g} s", exited.error)
        else:
            self.log.error(f"{exited.name} {what} again; restarting {whom} in {delay:g} s")
        self.last_crash[exited.name] = what
        self.publish(ActorRestarted(self.name, exited.name))
        self.generation += 1
        timer = threading.Timer(delay, self.tell_self, args=(RestartChild(tuple(affected), self.generation),))
        timer.daemon = True
        self.timers = [t for t in self.timers if t.is_alive()] + [timer]
        timer.start()

    def affected(self, name: str, names: list[str]) -> list[str]:
        if self.strategy is Strategy.ONE_FOR_ALL:
            return names
        if self.strategy is Strategy.REST_FOR_ONE:
            return names[names.index(name) :]
        return [name]

    @staticmethod
    def describe_exit(exited: ChildExited) -> str:
        if exited.error is None:
            return "stopped unexpectedly"
        return f"crashed ({type(exited.error).__name__}: {exited.error})"

    def give_up(self, name: str, affected: list[str], what: str) -> None:
        restarts, seconds = self.intensity
        reason = f"{name} {what}, more than {restarts} restarts in {seconds:g} s"
        if self.parent is not None:
            self.log.error(f"giving up: {reason}; stopping {self.name} so its supervisor decides")
            raise SupervisionFailed(reason)
        self.log.error(f"giving up: {reason}; leaving {', '.join(affected)} stopped (the service is unhealthy)")
        for affected_name in affected:
            self.publish(SupervisionGaveUp(affected_name, reason))

    def tell_self(self, message: Any) -> None:
        tell(self.actor_ref, message)


class SupervisionFailed(Exception):
    """A child crashed past the restart intensity: this supervisor dies so that its parent decides."""
