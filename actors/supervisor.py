"""Supervisor: the shell over neon_cm/supervision.py; starts and stops the children, hears of a death at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pykka

from actors.base import DecidingActor, linked, tell
from actors.logger import Log
from actors.runtime import runtime
from messages.lifecycle import (
    ChildExited,
    ServiceStopping,
    StopChild,
    SuperviseChild,
    SupervisionGaveUp,
    TellChildren,
)
from messages.routes import supervisor_name
from neon_cm.supervision import (
    SHUTDOWN_SECONDS,
    AddChild,
    Begin,
    Child,
    ChildDied,
    Escalate,
    LogCrash,
    RemoveChild,
    Restart,
    StartChild,
    StopChildren,
    Strategy,
    Supervision,
)

#: SIGTERM to exit must stay under the 5 s Docker gives before SIGKILL: a supervisor stops all its children
#: within this, whatever their own budgets.
STOP_TIMEOUT_SECONDS = 3.0


@attrs.frozen
class ChildSpec:
    """How to start one child (`start` is called with the supervisor as the child's parent) and OTP's rest of
    a child spec: its restart type and shutdown budget; `key` when its name (log, directory) is not unique."""

    name: str
    start: Callable[[], pykka.ActorRef[Any]] = attrs.field(repr=False)
    restart: Restart = Restart.PERMANENT
    shutdown: float = SHUTDOWN_SECONDS
    key: str | None = None

    @property
    def child(self) -> Child:
        """The spec as the decider sees it."""
        if self.key is None:
            return Child(self.name, self.restart, self.shutdown)
        return Child(self.key, self.restart, self.shutdown, self.name)


def stop_actors(actors: list[pykka.ActorRef[Any]], log: Log, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop the actors one by one in reverse start order, within `timeout` overall; one still busy is left
    behind (its thread is a daemon) with a WARN, so a peer that never answers cannot hold up an exit."""
    stop_within([(actor, timeout) for actor in reversed(actors)], log, timeout)


def stop_within(actors: list[tuple[pykka.ActorRef[Any], float]], log: Log, timeout: float) -> None:
    """Stop the actors in this order, each within its own budget and all within `timeout`; one still busy is
    left behind (its thread is a daemon) with a WARN."""
    deadline = runtime().now() + timeout
    for actor, budget in actors:
        allowed = max(0.05, min(budget, deadline - runtime().now()))
        try:
            actor.stop(block=True, timeout=allowed)
        except pykka.Timeout:
            log.warn(f"{actor.actor_class.__name__} did not stop within {allowed:g} s (busy with a peer); leaving it")


class Supervisor(DecidingActor):
    """Runs its children; when one exits, restarts by `strategy` after a backoff (1 s doubling to 60 s).

    The decisions (who restarts when, intensity, give-up) are neon_cm/supervision.py's; this shell starts
    the actors, maps a dead actor's reference to its child, stops children within their budgets, and logs a
    crash with its exception. Told SuperviseChild, StopChild and TellChildren it manages dynamic children.
    Registered in the directory as `supervisor:<name>`, it answers a (re)started observer's SendCurrentView
    with the children it gave up on, so health never forgets one.
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
        self.log = log.child(supervisor_name(name))
        self.specs: dict[str, ChildSpec] = {spec.child.key: spec for spec in specs}
        self.refs: dict[str, pykka.ActorRef[Any]] = {}
        """The running children by key."""
        self.errors: dict[str, BaseException] = {}
        """What last killed each child, for the log."""
        self.state = Supervision(
            name,
            strategy,
            self.parent is not None,
            tuple(spec.child for spec in specs),
            intensity,
            backoff,
        )

    @property
    def name(self) -> str:
        return self.supervisor_name

    def setup(self) -> None:
        self.directory.register(supervisor_name(self.name), self.actor_ref)
        self.feed(Begin())

    def cleanup(self) -> None:
        super().cleanup()
        self.directory.unregister(supervisor_name(self.name), self.actor_ref)
        if self.parent is None:  # the top one: the service stops (Metrics, stopped last, judges it no more)
            self.publish(ServiceStopping())
        self.stop_children([(child.key, child.shutdown) for child in reversed(self.state.children)])

    def handle(self, message: Any) -> Any:
        if isinstance(message, StopChild):
            self.feed(RemoveChild(message.key))
            self.specs.pop(message.key, None)
            return None
        if isinstance(message, TellChildren):
            for ref in list(self.refs.values()):
                tell(ref, message.message)
            return None
        return super().handle(message)

    def event_of(self, message: Any) -> Any:
        if isinstance(message, ChildExited):
            key = next((key for key, ref in self.refs.items() if ref is message.child), None)
            if key is None:
                return None  # one it stopped itself, or an older instance
            self.take([(key, 0.0)])
            if message.error is not None:
                self.errors[key] = message.error
            return ChildDied(key, describe(message.error))
        if isinstance(message, SuperviseChild):
            spec: ChildSpec = message.spec
            self.specs.setdefault(spec.child.key, spec)  # a second one under a supervised key is refused
            return AddChild(spec.child)
        return None

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, StartChild):
            return self.start_child(self.specs[effect.key])
        if isinstance(effect, StopChildren):
            self.stop_children(list(effect.children))
            return None
        if isinstance(effect, LogCrash):
            self.log.error(effect.text, self.errors.get(effect.key))
            return None
        if isinstance(effect, Escalate):
            raise SupervisionFailed(effect.reason)
        return super().perform(effect)

    def start_child(self, spec: ChildSpec) -> ChildDied | None:
        """Start one child, registered under its name before it runs; a failure to start is its crash."""
        key = spec.child.key
        try:
            with linked(self.actor_ref, self.directory, register_as=spec.name):
                ref = spec.start()
        except Exception as error:  # noqa: BLE001 -- a constructor that raised is a crash like one in setup
            self.errors[key] = error
            return ChildDied(key, describe(error))
        self.refs[key] = ref
        self.directory.register(spec.name, ref)
        return None

    def stop_children(self, children: list[tuple[str, float]]) -> None:
        """Stop these running children (key, budget) in this order, all within STOP_TIMEOUT_SECONDS. Each leaves
        the books and the directory only as its own stop begins: the siblings still running hear one another until
        then (on a SIGTERM, Metrics, stopped last, hears Leadership's LostLeadership, told at its deadline or as it
        stops; taken out all at once first, Metrics heard nothing more and said active for the whole stop)."""
        deadline = runtime().now() + STOP_TIMEOUT_SECONDS
        for key, budget in children:
            stop_within(self.take([(key, budget)]), self.log, max(0.0, deadline - runtime().now()))

    def take(self, children: list[tuple[str, float]]) -> list[tuple[pykka.ActorRef[Any], float]]:
        """Take these running children (key, budget) out of the supervisor's and the directory's books, to stop
        them: their references with their budgets (a child not running is skipped)."""
        taken = []
        for key, budget in children:
            ref = self.refs.pop(key, None)
            if ref is not None:
                name = self.specs[key].name
                self.directory.unregister(name, ref)
                # Two children may share a name (managers with one hostname): the name stays with the one running.
                namesake = next((r for k, r in self.refs.items() if self.specs[k].name == name), None)
                if namesake is not None and self.directory.lookup(name) is None:
                    self.directory.register(name, namesake)
                taken.append((ref, budget))
        return taken

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        for name, reason in self.state.given_up():
            tell(to, SupervisionGaveUp(name, reason))


def describe(error: BaseException | None) -> str | None:
    """`Type: text` of what killed a child; None for a clean stop."""
    return None if error is None else f"{type(error).__name__}: {error}"


class SupervisionFailed(Exception):
    """A child crashed past the restart intensity: this supervisor dies so that its parent decides."""
