"""A supervisor's bookkeeping as a decider: which children run, which wait out a backoff, and when to give up.

Erlang/OTP's model, in the decider shape of neon_cm/decider.py. Each child has a child spec (`Child`): a
unique key, a restart type and a shutdown budget. When a child exits, the supervisor's strategy says which
children go with it, the restart intensity (at most N restarts in T seconds: per child under one-for-one, per
group otherwise) says whether to go on, and a backoff (1 s doubling to 60 s, from 1 s again after 5 quiet
minutes) says when. Every child waiting for its restart has its own pending timer, so one child's crash never
cancels another's restart. Past the intensity a supervisor with a parent dies (`Escalate`) so its parent
decides; the top one leaves the children stopped and publishes SupervisionGaveUp for each.

The shell (actors/supervisor.py) starts and stops the actors, maps a dead actor's reference to its key, and
feeds `ChildDied`; a child that failed to start is fed as `ChildDied` too.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from messages.lifecycle import ActorRestarted, SupervisionGaveUp
from messages.log import Level
from neon_cm.decider import CancelTimer, Decision, Publish, StartTimer, TimerFired, log

#: How long a child may take to stop before it is left behind (its thread is a daemon), unless its spec says.
SHUTDOWN_SECONDS = 3.0


class Strategy(enum.Enum):
    """Which children a crash restarts (Erlang/OTP's names)."""

    ONE_FOR_ONE = "one-for-one"
    """Only the child that died."""
    ONE_FOR_ALL = "one-for-all"
    """Every child."""
    REST_FOR_ONE = "rest-for-one"
    """The child that died and those started after it."""


class Restart(enum.Enum):
    """When a child that exited is started again (OTP's restart types)."""

    PERMANENT = "permanent"
    """Always: after a crash and after a clean stop (a service actor never stops on its own)."""
    TRANSIENT = "transient"
    """Only after a crash; a clean stop is its work done."""
    TEMPORARY = "temporary"
    """Never: its exit is logged and its spec forgotten."""


@attrs.frozen
class Child:
    """A child spec, without the start function (that is the shell's)."""

    key: str
    """Unique among the supervisor's children: a second child under a running key is refused."""
    restart: Restart = Restart.PERMANENT
    """When it is started again after it exits."""
    shutdown: float = SHUTDOWN_SECONDS
    """How long it may take to stop before it is left behind."""
    label: str | None = None
    """Its name in the log and the directory, when not its key (monitors: keyed by node ID, named by host)."""

    @property
    def name(self) -> str:
        return self.label or self.key


# ---------------------------------------------------------------------------------------------------- events


@attrs.frozen
class Begin:
    """Event: start every child, in order."""


@attrs.frozen
class AddChild:
    """Event: supervise one more child (a dynamic child, e.g. one Vault monitor) and start it."""

    child: Child


@attrs.frozen
class RemoveChild:
    """Event: stop a child and forget its spec (it is not restarted)."""

    key: str


@attrs.frozen
class ChildDied:
    """Event: the running child `key` exited (or failed to start)."""

    key: str
    crash: str | None = None
    """`Type: text` of the exception that killed it; None for a clean stop."""


# --------------------------------------------------------------------------------------------------- effects


@attrs.frozen
class StartChild:
    """Start the child `key` (the shell feeds `ChildDied` if it cannot)."""

    key: str


@attrs.frozen
class StopChildren:
    """Stop these children, in this order, each within its shutdown budget (seconds)."""

    children: tuple[tuple[str, float], ...]


@attrs.frozen
class LogCrash:
    """Log `text` at ERROR with the exception that killed `key` (its traceback at DEBUG): once per new crash."""

    key: str
    text: str


@attrs.frozen
class Escalate:
    """Die of SupervisionFailed(`reason`), so the parent decides; the shell stops the running children."""

    reason: str


# ----------------------------------------------------------------------------------------------------- state


def restart_timer(key: str) -> str:
    """The timer key of a restart caused by child `key`'s exit."""
    return f"restart:{key}"


@attrs.frozen
class Supervision:
    """One supervisor's bookkeeping. Mappings are never changed in place: each decision builds new ones."""

    name: str
    strategy: Strategy
    has_parent: bool
    children: tuple[Child, ...] = ()
    """Every supervised child, in start order."""
    intensity: tuple[int, float] = (5, 60.0)
    backoff: tuple[float, float] = (1.0, 60.0)
    stable_after: float = 300.0
    """Quiet seconds after which the backoff starts from its first delay again."""
    running: frozenset[str] = frozenset()
    """Children started and not known to have exited."""
    pending: Mapping[str, str] = attrs.field(factory=dict)
    """Children waiting for a restart, with the timer that restarts them."""
    restarts: Mapping[str, tuple[float, ...]] = attrs.field(factory=dict)
    """Restart times within the intensity window, per child (one-for-one) or for the group ("*")."""
    attempts: Mapping[str, tuple[int, float]] = attrs.field(factory=dict)
    """Backoff per child or group: failures in a row and when the last was."""
    last_crash: Mapping[str, str] = attrs.field(factory=dict)
    """How each child last exited, so the same crash again is logged without its exception."""
    gave_up: Mapping[str, str] = attrs.field(factory=dict)
    """Children the top supervisor left stopped, by key, and why."""
    failed: bool = False
    """Gave up with a parent: it dies; nothing more is decided."""

    def child(self, key: str) -> Child | None:
        return next((child for child in self.children if child.key == key), None)

    def given_up(self) -> list[tuple[str, str]]:
        """(name, reason) of every child left stopped, for a (re)started observer."""
        return [(child.name, self.gave_up[child.key]) for child in self.children if child.key in self.gave_up]

    def decide(self, event: Any, now: float) -> Decision[Supervision]:
        if self.failed:
            return self, ()
        if isinstance(event, Begin):
            keys = [child.key for child in self.children if child.key not in self.running]
            return attrs.evolve(self, running=self.running | set(keys)), tuple(StartChild(key) for key in keys)
        if isinstance(event, AddChild):
            return self.add(event.child)
        if isinstance(event, RemoveChild):
            return self.remove(event.key)
        if isinstance(event, ChildDied):
            return self.died(event.key, event.crash, now)
        if isinstance(event, TimerFired):
            return self.restart(event.key)
        raise TypeError(f"supervision decides on no {type(event).__name__}")

    def add(self, child: Child) -> Decision[Supervision]:
        if self.child(child.key) is not None:
            text = f"not starting a second {child.name}: a child keyed {child.key} is already supervised (a bug)"
            return self, (log(Level.ERROR, text),)
        state = attrs.evolve(self, children=(*self.children, child), running=self.running | {child.key})
        return state, (StartChild(child.key),)

    def remove(self, key: str) -> Decision[Supervision]:
        child = self.child(key)
        if child is None:
            return self, ()
        timer = self.pending.get(key)
        state = attrs.evolve(
            self,
            children=tuple(c for c in self.children if c.key != key),
            running=self.running - {key},
            pending=_without(self.pending, key),
            gave_up=_without(self.gave_up, key),
            last_crash=_without(self.last_crash, key),
        )
        effects: list[Any] = []
        if key in self.running:
            effects.append(StopChildren(((key, child.shutdown),)))
        if timer is not None and timer not in state.pending.values():
            effects.append(CancelTimer(timer))
        return state, tuple(effects)

    def died(self, key: str, crash: str | None, now: float) -> Decision[Supervision]:
        child = self.child(key)
        if child is None or key not in self.running:
            return self, ()  # one it stopped itself, or removed
        state = attrs.evolve(self, running=self.running - {key})
        what = "stopped unexpectedly" if crash is None else f"crashed ({crash})"
        if child.restart is Restart.TEMPORARY:
            state = attrs.evolve(state, children=tuple(c for c in self.children if c.key != key))
            text = f"{child.name} {what}; not restarting it (temporary)"
            return state, (LogCrash(key, text) if crash else log(Level.INFO, text),)
        if child.restart is Restart.TRANSIENT and crash is None:
            return state, (log(Level.INFO, f"{child.name} stopped; not restarting it (transient)"),)
        affected = self.affected(key)
        others = [c for c in affected if c.key != key and c.key in state.running]
        stop = StopChildren(tuple((c.key, c.shutdown) for c in reversed(others)))
        # Temporary siblings stopped with the group are not started again: their specs are forgotten.
        dropped = {c.key for c in others if c.restart is Restart.TEMPORARY}
        # A sibling the top supervisor gave up on stays stopped: health already says so.
        restarted = [c for c in affected if c.key not in dropped and (c.key == key or c.key not in self.gave_up)]
        state = attrs.evolve(
            state,
            running=state.running - {c.key for c in others},
            children=tuple(c for c in state.children if c.key not in dropped),
        )
        effects: list[Any] = [stop] if others else []
        group = key if self.strategy is Strategy.ONE_FOR_ONE else "*"
        window = self.intensity[1]
        history = tuple(at for at in self.restarts.get(group, ()) if now - at < window)
        if len(history) >= self.intensity[0]:
            return state.give_up(child, what, restarted, effects)
        attempt, last = self.attempts.get(group, (0, now))
        if now - last > self.stable_after:
            attempt = 0
        delay = min(self.backoff[0] * 2**attempt, self.backoff[1])
        whom = "it" if [c.key for c in restarted] == [key] else ", ".join(c.name for c in restarted)
        if self.last_crash.get(key) != what:
            effects.append(LogCrash(key, f"{child.name} {what}; restarting {whom} in {delay:g} s"))
        else:
            effects.append(log(Level.ERROR, f"{child.name} {what} again; restarting {whom} in {delay:g} s"))
        timer = restart_timer(key)
        pending = {k: t for k, t in state.pending.items() if k not in {c.key for c in restarted}}
        pending.update({c.key: timer for c in restarted})
        # A group restart waiting on a timer of its own now waits on this one: that timer has nothing left to do.
        orphaned = set(state.pending.values()) - set(pending.values()) - {timer}
        effects.extend(CancelTimer(t) for t in sorted(orphaned))
        effects.append(Publish(ActorRestarted(self.name, child.name)))
        effects.append(StartTimer(timer, delay))
        state = attrs.evolve(
            state,
            pending=pending,
            restarts={**self.restarts, group: (*history, now)},
            attempts={**self.attempts, group: (attempt + 1, now)},
            last_crash={**self.last_crash, key: what},
        )
        return state, tuple(effects)

    def affected(self, key: str) -> list[Child]:
        """The children a crash of `key` takes down (and restarts), by strategy, in start order."""
        if self.strategy is Strategy.ONE_FOR_ALL:
            return list(self.children)
        if self.strategy is Strategy.REST_FOR_ONE:
            index = [c.key for c in self.children].index(key)
            return list(self.children[index:])
        return [c for c in self.children if c.key == key]

    def give_up(self, child: Child, what: str, affected: list[Child], effects: list[Any]) -> Decision[Supervision]:
        restarts, seconds = self.intensity
        reason = f"{child.name} {what}, more than {restarts} restarts in {seconds:g} s"
        keys = {c.key for c in affected}
        if self.has_parent:
            effects.append(log(Level.ERROR, f"giving up: {reason}; stopping {self.name} so its supervisor decides"))
            effects.append(Escalate(reason))
            return attrs.evolve(self, failed=True, pending={}), tuple(effects)
        names = ", ".join(c.name for c in affected)
        effects.append(log(Level.ERROR, f"giving up: {reason}; leaving {names} stopped (the service is unhealthy)"))
        pending = {k: t for k, t in self.pending.items() if k not in keys}
        effects.extend(CancelTimer(t) for t in sorted(set(self.pending.values()) - set(pending.values())))
        effects.extend(Publish(SupervisionGaveUp(c.name, reason)) for c in affected)
        state = attrs.evolve(self, pending=pending, gave_up={**self.gave_up, **{k: reason for k in keys}})
        return state, tuple(effects)

    def restart(self, timer: str) -> Decision[Supervision]:
        keys = [c.key for c in self.children if self.pending.get(c.key) == timer]
        state = attrs.evolve(self, pending=_without(self.pending, *keys), running=self.running | set(keys))
        return state, tuple(StartChild(key) for key in keys)


def _without(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}
