"""The supervisor's bookkeeping (neon_cm/supervision.py) as a pure decider: strategies, restart types, intensity,
backoff, give-up, and, under every order of crashes, stops and timers, nothing dead unseen."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from messages.lifecycle import ActorRestarted, SupervisionGaveUp
from messages.log import Level
from neon_cm.decider import CancelTimer, Log, Publish, StartTimer, TimerFired
from neon_cm.supervision import (
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


def supervisor(
    strategy: Strategy = Strategy.ONE_FOR_ONE, *keys: str, parent: bool = False, **kwargs: Any
) -> Supervision:
    """A supervisor of `keys` (permanent children) that has started them all."""
    state = Supervision("top", strategy, parent, tuple(Child(key) for key in keys or ("a", "b")), **kwargs)
    state, _ = state.decide(Begin(), 0.0)
    return state


def of(kind: type, effects: tuple[Any, ...]) -> list[Any]:
    return [effect for effect in effects if isinstance(effect, kind)]


def test_begin_starts_every_child_in_order() -> None:
    """Begin starts the children in spec order."""
    state = Supervision("top", Strategy.ONE_FOR_ONE, False, (Child("a"), Child("b"), Child("c")))

    state, effects = state.decide(Begin(), 0.0)

    assert (StartChild("a"), StartChild("b"), StartChild("c")) == effects
    assert frozenset({"a", "b", "c"}) == state.running


def test_a_crash_is_logged_with_its_exception_told_and_restarted_after_the_backoff() -> None:
    """One-for-one: the dead child alone waits 1 s on a timer of its own, then starts again."""
    state = supervisor()

    state, effects = state.decide(ChildDied("a", "Boom: it broke"), 10.0)
    fired, restart = state.decide(TimerFired("restart:a"), 11.0)

    assert (
        LogCrash("a", "a crashed (Boom: it broke); restarting it in 1 s"),
        Publish(ActorRestarted("top", "a")),
        StartTimer("restart:a", 1.0),
    ) == effects
    assert (StartChild("a"),) == restart
    assert frozenset({"a", "b"}) == fired.running


def test_defect_2_a_second_crash_during_the_first_backoff_loses_no_restart() -> None:
    """Issue 17 defect 2: a and b crash one after the other; each waits on its own timer and both restart."""
    state = supervisor()

    state, first = state.decide(ChildDied("a", "Boom: x"), 10.0)
    state, second = state.decide(ChildDied("b", "Boom: x"), 10.5)
    state, restart_a = state.decide(TimerFired("restart:a"), 11.0)
    state, restart_b = state.decide(TimerFired("restart:b"), 11.5)

    assert [StartTimer("restart:a", 1.0)] == of(StartTimer, first)
    assert [StartTimer("restart:b", 1.0)] == of(StartTimer, second)
    assert ((StartChild("a"),), (StartChild("b"),)) == (restart_a, restart_b)
    assert frozenset({"a", "b"}) == state.running


def test_the_same_crash_again_is_logged_without_the_exception_and_the_backoff_doubles_to_its_cap() -> None:
    """Backoff 1, 2, 4 ... 60 s; the exception is logged with the first crash only."""
    state = supervisor(intensity=(100, 60.0))
    delays: list[float] = []
    texts: list[str] = []
    for at in range(8):
        state, effects = state.decide(ChildDied("a", "Boom: x"), float(at))
        delays.extend(timer.seconds for timer in of(StartTimer, effects))
        texts.extend(type(effect).__name__ for effect in effects if isinstance(effect, (Log, LogCrash)))
        state, _ = state.decide(TimerFired("restart:a"), at + 0.5)

    assert [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0] == delays
    assert ["LogCrash"] + ["Log"] * 7 == texts


def test_the_backoff_starts_again_after_five_quiet_minutes() -> None:
    """A crash 301 s after the last one waits the first delay again."""
    state = supervisor()
    state, _ = state.decide(ChildDied("a", "Boom: x"), 0.0)
    state, _ = state.decide(TimerFired("restart:a"), 1.0)
    state, _ = state.decide(ChildDied("a", "Boom: x"), 2.0)
    state, _ = state.decide(TimerFired("restart:a"), 4.0)

    state, effects = state.decide(ChildDied("a", "Boom: x"), 303.0)

    assert [StartTimer("restart:a", 1.0)] == of(StartTimer, effects)


def crash_until_given_up(state: Supervision, key: str) -> tuple[Supervision, tuple[Any, ...]]:
    """Crash `key` (restarting it each time) until the supervisor gives up; the last decision."""
    at = 0.0
    while True:
        state, effects = state.decide(ChildDied(key, "Boom: x"), at)
        if not of(StartTimer, effects):
            return state, effects
        state, _ = state.decide(TimerFired(f"restart:{key}"), at + 0.1)
        at += 1.0


def test_the_top_supervisor_gives_up_on_one_child_past_its_intensity_and_tells_it() -> None:
    """The 6th crash within 60 s: a is left stopped, SupervisionGaveUp is told, b runs on; a restarted
    observer learns it from `given_up`."""
    state, effects = crash_until_given_up(supervisor(), "a")

    assert [Publish(SupervisionGaveUp("a", "a crashed (Boom: x), more than 5 restarts in 60 s"))] == of(
        Publish, effects
    )
    assert frozenset({"b"}) == state.running
    assert [("a", "a crashed (Boom: x), more than 5 restarts in 60 s")] == state.given_up()


def test_a_supervisor_with_a_parent_escalates_past_its_intensity_and_decides_nothing_more() -> None:
    """With a parent: Escalate (the shell dies of it, stopping its children); later events are ignored."""
    state, effects = crash_until_given_up(supervisor(parent=True), "a")
    after = state.decide(ChildDied("b", "Boom: x"), 100.0)

    assert [Escalate("a crashed (Boom: x), more than 5 restarts in 60 s")] == of(Escalate, effects)
    assert (state, ()) == after


def test_intensity_is_per_child_under_one_for_one_and_per_group_otherwise() -> None:
    """Five crashes of a and five of b: one-for-one restarts all ten; one-for-all gives up at the sixth."""
    for strategy, expected in ((Strategy.ONE_FOR_ONE, 10), (Strategy.ONE_FOR_ALL, 5)):
        state = supervisor(strategy)
        restarts = 0
        for at in range(10):
            key = "ab"[at % 2]
            state, effects = state.decide(ChildDied(key, "Boom: x"), float(at))
            restarts += len(of(StartTimer, effects))
            for timer in of(StartTimer, effects):
                state, _ = state.decide(TimerFired(timer.key), at + 0.5)

        assert expected == restarts, strategy


def test_rest_for_one_stops_the_later_children_in_reverse_order_within_their_budgets() -> None:
    """b crashes: c and d (started after it) are stopped, d first, each with its own budget; a stays;
    the timer starts b, c, d in order."""
    children = (Child("a"), Child("b"), Child("c", shutdown=1.0), Child("d", shutdown=5.0))
    state, _ = Supervision("top", Strategy.REST_FOR_ONE, False, children).decide(Begin(), 0.0)

    state, effects = state.decide(ChildDied("b", "Boom: x"), 1.0)
    state, restart = state.decide(TimerFired("restart:b"), 2.0)

    assert [StopChildren((("d", 5.0), ("c", 1.0)))] == of(StopChildren, effects)
    assert [LogCrash("b", "b crashed (Boom: x); restarting b, c, d in 1 s")] == of(LogCrash, effects)
    assert (StartChild("b"), StartChild("c"), StartChild("d")) == restart


def test_a_group_restart_that_grows_cancels_the_timer_it_replaces() -> None:
    """Rest-for-one: c crashes, then a (before c's restart): one timer restarts a, b, c; c's is cancelled."""
    state = supervisor(Strategy.REST_FOR_ONE, "a", "b", "c")
    state, _ = state.decide(ChildDied("c", "Boom: x"), 0.0)

    state, effects = state.decide(ChildDied("a", "Boom: x"), 0.5)
    state, stale = state.decide(TimerFired("restart:c"), 0.9)
    state, restart = state.decide(TimerFired("restart:a"), 2.0)

    assert [CancelTimer("restart:c")] == of(CancelTimer, effects)
    assert () == stale
    assert (StartChild("a"), StartChild("b"), StartChild("c")) == restart


def test_restart_types_transient_and_temporary() -> None:
    """Transient: restarted after a crash, not after a clean stop; temporary: never, and forgotten."""
    children = (Child("t", Restart.TRANSIENT), Child("tmp", Restart.TEMPORARY), Child("p"))
    state, _ = Supervision("top", Strategy.ONE_FOR_ONE, False, children).decide(Begin(), 0.0)

    state, crashed = state.decide(ChildDied("t", "Boom: x"), 1.0)
    state, _ = state.decide(TimerFired("restart:t"), 2.0)
    state, stopped = state.decide(ChildDied("t"), 3.0)
    state, temporary = state.decide(ChildDied("tmp", "Boom: x"), 3.0)
    state, permanent = state.decide(ChildDied("p"), 3.0)

    assert [StartTimer("restart:t", 1.0)] == of(StartTimer, crashed)
    assert (Log(Level.INFO, "t stopped; not restarting it (transient)"),) == stopped
    assert (LogCrash("tmp", "tmp crashed (Boom: x); not restarting it (temporary)"),) == temporary
    assert [LogCrash("p", "p stopped unexpectedly; restarting it in 1 s")] == of(LogCrash, permanent)
    assert ["t", "p"] == [child.key for child in state.children]
    assert frozenset() == state.running


def test_a_temporary_sibling_stopped_with_its_group_is_not_started_again() -> None:
    """One-for-all: a's crash stops the temporary b, which is forgotten; only a restarts."""
    children = (Child("a"), Child("b", Restart.TEMPORARY))
    state, _ = Supervision("top", Strategy.ONE_FOR_ALL, False, children).decide(Begin(), 0.0)

    state, effects = state.decide(ChildDied("a", "Boom: x"), 1.0)
    state, restart = state.decide(TimerFired("restart:a"), 2.0)

    assert [StopChildren((("b", 3.0),))] == of(StopChildren, effects)
    assert (StartChild("a"),) == restart
    assert ("a",) == tuple(child.key for child in state.children)


def test_defect_6_a_second_child_under_a_supervised_key_is_refused_and_said() -> None:
    """Issue 17 defect 6: AddChild under a key already supervised starts nothing and logs it as a bug."""
    state = supervisor()

    after, effects = state.decide(AddChild(Child("a", label="vault-monitor:manager-1")), 1.0)

    assert state == after
    assert [Level.ERROR] == [effect.level for effect in of(Log, effects)]
    assert [] == of(StartChild, effects)


def test_removing_a_child_stops_it_or_cancels_its_restart() -> None:
    """RemoveChild: a running child is stopped within its budget; one waiting for a restart loses its timer."""
    state = supervisor()
    state, _ = state.decide(ChildDied("a", "Boom: x"), 0.0)

    state, removed_pending = state.decide(RemoveChild("a"), 0.5)
    state, removed_running = state.decide(RemoveChild("b"), 0.5)

    assert (CancelTimer("restart:a"),) == removed_pending
    assert (StopChildren((("b", 3.0),)),) == removed_running
    assert () == state.children


def test_a_death_of_a_child_not_running_is_ignored() -> None:
    """An exit the shell could not map (already stopped, removed) decides nothing."""
    state = supervisor()

    assert (state, ()) == state.decide(ChildDied("zzz", "Boom: x"), 0.0)


# ------------------------------------------------------------------------------------------------ stateful

KEYS = ("a", "b", "c")


class SupervisionMachine(RuleBasedStateMachine):
    """Drives one supervisor through any order of crashes, clean stops, fired timers, added and removed
    children and passing time; the world (which actors run, which timers are pending) is kept beside it."""

    @initialize(
        strategy=st.sampled_from(Strategy),
        restarts=st.lists(st.sampled_from(Restart), min_size=3, max_size=3),
        parent=st.booleans(),
    )
    def begin(self, strategy: Strategy, restarts: list[Restart], parent: bool) -> None:
        children = tuple(Child(key, restart) for key, restart in zip(KEYS, restarts, strict=True))
        self.state = Supervision("top", strategy, parent, children, intensity=(3, 10.0), backoff=(1.0, 8.0))
        self.now = 0.0
        self.alive: set[str] = set()
        """Actors running in the world."""
        self.timers: dict[str, float] = {}
        """Pending timers: key -> due time."""
        self.seen: dict[str, str] = {}
        """How each child that died was dealt with: restarting, gave-up, escalated, done (transient/temporary)."""
        self.escalated = False
        self.apply(Begin())

    def apply(self, event: Any) -> None:
        self.state, effects = self.state.decide(event, self.now)
        for effect in effects:
            if isinstance(effect, StartChild):
                assert effect.key not in self.alive, f"{effect.key} started twice: the first would leak"
                self.alive.add(effect.key)
                self.seen.pop(effect.key, None)
            elif isinstance(effect, StopChildren):
                for key, _ in effect.children:
                    assert key in self.alive, f"stopping {key}, which does not run"
                    self.alive.discard(key)
            elif isinstance(effect, StartTimer):
                assert effect.seconds <= 8.0, "a restart later than the longest backoff"
                self.timers[effect.key] = self.now + effect.seconds
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.key, None)
            elif isinstance(effect, Escalate):
                self.escalated = True
                self.alive.clear()  # the shell dies, stopping its children
            elif isinstance(effect, Publish) and isinstance(effect.message, SupervisionGaveUp):
                key = next(c.key for c in self.state.children if c.name == effect.message.actor)
                self.seen[key] = "gave-up"
            elif isinstance(effect, (Log, LogCrash)) and "not restarting it" in effect.text:
                self.seen[effect.text.split()[0]] = "done"

    @rule(key=st.sampled_from((*KEYS, "d")), crash=st.booleans())
    def exit(self, key: str, crash: bool) -> None:
        if key not in self.alive or self.escalated:
            return
        self.alive.discard(key)
        self.seen[key] = "died"
        self.apply(ChildDied(key, "Boom: x" if crash else None))

    @rule(seconds=st.floats(0.0, 20.0))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @precondition(lambda self: bool(self.timers))
    @rule(data=st.data())
    def a_timer_fires(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.timers)))
        self.now = max(self.now, self.timers.pop(key))
        self.apply(TimerFired(key))

    @rule(key=st.sampled_from((*KEYS, "d")))
    def added(self, key: str) -> None:
        if not self.escalated:
            self.apply(AddChild(Child(key)))

    @rule(key=st.sampled_from((*KEYS, "d")))
    def removed(self, key: str) -> None:
        if not self.escalated:
            self.apply(RemoveChild(key))
            self.seen.pop(key, None)

    @invariant()
    def nothing_dead_unseen(self) -> None:
        """Every child is running, waits on a pending timer due within the longest backoff, was given up and
        told, was legitimately not restarted (transient clean stop, temporary), or the supervisor escalated."""
        if not hasattr(self, "state") or self.escalated:
            return
        for child in self.state.children:
            if child.key in self.alive:
                assert child.key in self.state.running
                continue
            timer = self.state.pending.get(child.key)
            if timer is not None:
                assert timer in self.timers, f"{child.key} waits on {timer}, which is not pending"
                assert self.timers[timer] - self.now <= 8.0 + 1e-9
                continue
            assert self.seen.get(child.key) in {"gave-up", "done"}, f"{child.key} dead unseen ({self.seen})"

    @invariant()
    def running_is_the_world(self) -> None:
        """The decider's running set is what runs."""
        if hasattr(self, "state") and not self.escalated:
            assert frozenset(self.alive) == self.state.running


TestSupervisionMachine = SupervisionMachine.TestCase
TestSupervisionMachine.settings = settings(max_examples=200, stateful_step_count=40)


def test_the_decider_state_is_immutable() -> None:
    """A decision builds a new state; the old one is unchanged (frozen attrs)."""
    before = supervisor()
    copy = attrs.evolve(before)

    before.decide(ChildDied("a", "Boom: x"), 0.0)

    assert copy == before
