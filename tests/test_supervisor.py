"""The supervision tree with real pykka actors and threads: strategies, intensity, escalation, links."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pykka
import pytest

from actors.base import Directory, ServiceActor, linked, tell
from actors.logger import Log, LogSink
from actors.metrics import Metrics
from actors.supervisor import ChildSpec, Restart, Strategy, Supervisor
from actors.ticker import Ticker
from messages.lifecycle import ActorRestarted, StopChild, SuperviseChild, SupervisionGaveUp
from messages.log import Level
from messages.timing import SetInterval, Tick
from tests.recorder import Recorder
from tests.waiting import wait_until

QUICK = {"backoff": (0.02, 0.1)}


class Boom(Exception):
    """A bug, as far as the supervisor knows."""


class Fragile(ServiceActor):
    """Ticks on its own linked timer (to show timers are re-armed); dies when told 'crash'."""

    component = "fragile"
    ticks: ClassVar[list[tuple[str, float]]] = []

    def __init__(self, log: Log, name: str = "fragile", crash_in_setup: bool = False) -> None:
        super().__init__(log)
        self.child_name = name
        self.crash_in_setup = crash_in_setup

    @property
    def name(self) -> str:
        return self.child_name

    def setup(self) -> None:
        if self.crash_in_setup:
            raise Boom("cannot start")
        self.ticker = self.spawn(Ticker, self.child_name, self.actor_ref, 0.05)

    def handle(self, message: Any) -> Any:
        if message == "ticker":
            return self.ticker  # asked, so answered after setup has run (a proxy reads attributes at once)
        if message == "crash":
            raise Boom("it broke")
        if message == "crash in a thread":
            self.start_thread("worker", self.fail)
        if isinstance(message, Tick):
            Fragile.ticks.append((self.child_name, time.monotonic()))
        return None

    def fail(self) -> None:
        raise Boom("the thread broke")


@pytest.fixture
def tree() -> Iterator[tuple[Log, io.StringIO, Directory, pykka.ActorRef[Any]]]:
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, stream=stream)
    sink.start()
    directory = Directory({"supervisor": ("recorder",)})
    recorder = Recorder.start()
    directory.register("recorder", recorder)
    yield Log("test", sink), stream, directory, recorder
    pykka.ActorRegistry.stop_all()


def fragile(log: Log, name: str, **kwargs: Any) -> ChildSpec:
    return ChildSpec(name, lambda: Fragile.start(log, name, **kwargs))


def start(directory: Directory, *args: Any, **kwargs: Any) -> pykka.ActorRef[Any]:
    with linked(None, directory):
        return Supervisor.start(*args, **kwargs)


def refs(directory: Directory, *names: str) -> list[pykka.ActorRef[Any] | None]:
    return [directory.lookup(name) for name in names]


def restarted(directory: Directory, name: str, old: pykka.ActorRef[Any] | None) -> bool:
    ref = directory.lookup(name)
    return ref is not None and ref is not old and ref.is_alive()


def test_one_for_one_restarts_only_the_dead_child_and_logs_the_crash_once(tree: Any) -> None:
    """A crash restarts that child alone, at once (death watch, not polling), with its timer ticking again;
    the sibling is the same actor; the exception is logged once; each restart is told to subscribers."""
    log, stream, directory, recorder = tree
    start(directory, "top", Strategy.ONE_FOR_ONE, [fragile(log, "a"), fragile(log, "b")], log, **QUICK)
    wait_until(lambda: None not in refs(directory, "a", "b"))
    a, b = refs(directory, "a", "b")

    tell(a, "crash")
    wait_until(lambda: restarted(directory, "a", a))
    ticks = len(Fragile.ticks)
    wait_until(lambda: len(Fragile.ticks) > ticks + 2)
    a2 = directory.lookup("a")
    tell(a2, "crash")
    wait_until(lambda: restarted(directory, "a", a2))
    wait_until(lambda: "restarting it in 0.04 s" in stream.getvalue())  # the Logger writes in its own thread
    text = stream.getvalue()

    assert b is directory.lookup("b") and b is not None and b.is_alive()
    assert 1 == text.count("[Boom]: it broke")
    assert "a crashed (Boom: it broke); restarting it in 0.02 s" in text
    assert "a crashed (Boom: it broke) again; restarting it in 0.04 s" in text
    assert [ActorRestarted("top", "a")] * 2 == recorder.ask("heard")


def test_one_for_all_restarts_every_child(tree: Any) -> None:
    """One-for-all: a crash of one child restarts both."""
    log, _, directory, _ = tree
    start(directory, "top", Strategy.ONE_FOR_ALL, [fragile(log, "a"), fragile(log, "b")], log, **QUICK)
    wait_until(lambda: None not in refs(directory, "a", "b"))
    a, b = refs(directory, "a", "b")

    tell(b, "crash")

    wait_until(lambda: restarted(directory, "a", a) and restarted(directory, "b", b))


def test_rest_for_one_restarts_the_child_and_those_started_after_it(tree: Any) -> None:
    """Rest-for-one: the middle child's crash restarts it and the last, not the first."""
    log, _, directory, _ = tree
    specs = [fragile(log, "a"), fragile(log, "b"), fragile(log, "c")]
    start(directory, "top", Strategy.REST_FOR_ONE, specs, log, **QUICK)
    wait_until(lambda: None not in refs(directory, "a", "b", "c"))
    a, b, c = refs(directory, "a", "b", "c")

    tell(b, "crash")
    wait_until(lambda: restarted(directory, "b", b) and restarted(directory, "c", c))

    assert a is directory.lookup("a")


def test_intensity_exceeded_escalates_to_the_parent_which_restarts_only_that_subtree(tree: Any) -> None:
    """A child crashing past its supervisor's intensity takes that supervisor down; the parent restarts
    that subtree alone, and the sibling subtree keeps the same actors throughout."""
    log, stream, directory, _ = tree
    left = ChildSpec(
        "left",
        lambda: Supervisor.start("left", Strategy.ONE_FOR_ONE, [fragile(log, "a")], log, intensity=(2, 60), **QUICK),
    )
    right = ChildSpec("right", lambda: Supervisor.start("right", Strategy.ONE_FOR_ONE, [fragile(log, "b")], log))
    start(directory, "top", Strategy.ONE_FOR_ONE, [left, right], log, **QUICK)
    wait_until(lambda: None not in refs(directory, "a", "b", "left"))
    b, left_ref = refs(directory, "b", "left")

    for _ in range(3):
        a = directory.lookup("a")
        tell(a, "crash")
        wait_until(lambda a=a: restarted(directory, "a", a))  # type: ignore[misc]

    wait_until(lambda: restarted(directory, "left", left_ref))
    wait_until(
        lambda: (
            "giving up: a crashed (Boom: it broke), more than 2 restarts in 60 s; stopping left" in stream.getvalue()
        )
    )
    assert b is directory.lookup("b") and b is not None and b.is_alive()


def test_the_top_supervisor_gives_up_on_one_child_and_keeps_the_others(tree: Any) -> None:
    """Past its intensity the top supervisor leaves that child stopped and tells SupervisionGaveUp
    (health turns unhealthy); its other children run on."""
    log, _, directory, recorder = tree
    start(
        directory, "top", Strategy.ONE_FOR_ONE, [fragile(log, "a"), fragile(log, "b")], log, intensity=(1, 60), **QUICK
    )
    wait_until(lambda: None not in refs(directory, "a", "b"))
    b = directory.lookup("b")

    a = directory.lookup("a")
    tell(a, "crash")
    wait_until(lambda: restarted(directory, "a", a))
    tell(directory.lookup("a"), "crash")
    wait_until(lambda: any(isinstance(message, SupervisionGaveUp) for message in recorder.ask("heard")))
    time.sleep(0.3)

    assert directory.lookup("a") is None
    assert b is directory.lookup("b") and b is not None and b.is_alive()
    assert "a" == next(m for m in recorder.ask("heard") if isinstance(m, SupervisionGaveUp)).actor


def test_crashes_in_setup_and_in_an_actors_thread_are_crashes_too(tree: Any) -> None:
    """pykka runs no on_failure for a failed on_start, and a thread's exception kills nobody: both reach
    the supervisor here, logged with the exception."""
    log, stream, directory, _ = tree
    start(
        directory,
        "top",
        Strategy.ONE_FOR_ONE,
        [fragile(log, "broken", crash_in_setup=True), fragile(log, "worker")],
        log,
        **QUICK,
    )
    wait_until(lambda: "broken crashed (Boom: cannot start)" in stream.getvalue())
    wait_until(lambda: directory.lookup("worker") is not None)
    worker = directory.lookup("worker")

    tell(worker, "crash in a thread")

    wait_until(lambda: restarted(directory, "worker", worker))
    wait_until(lambda: "worker crashed (Boom: the thread broke)" in stream.getvalue())


def test_a_linked_helper_that_dies_takes_its_owner_down_and_both_restart(tree: Any) -> None:
    """An actor's Ticker is linked to it: the Ticker's crash kills the owner, whose supervisor restarts it
    with a fresh Ticker."""
    log, stream, directory, _ = tree
    start(directory, "top", Strategy.ONE_FOR_ONE, [fragile(log, "a")], log, **QUICK)
    wait_until(lambda: directory.lookup("a") is not None)
    a = directory.lookup("a")
    assert a is not None
    ticker = a.ask("ticker")

    tell(ticker, SetInterval(0))  # a Ticker refuses a zero interval by raising: it dies

    wait_until(lambda: restarted(directory, "a", a))
    wait_until(
        lambda: "a crashed (LinkedDied: ticker:a died: ValueError: interval must be above 0)" in stream.getvalue()
    )
    assert not ticker.is_alive()


def test_telling_a_dead_actor_never_kills_the_teller(tree: Any) -> None:
    """`tell` to a stopped actor answers False; nothing is raised."""
    recorder = tree[3]
    recorder.stop()

    assert tell(recorder, "anything") is False
    assert tell(None, "anything") is False


def test_dead_logger_is_restarted_and_nothing_is_lost(capsys: pytest.CaptureFixture[str]) -> None:
    """The entry told to a dead Logger goes to stderr, and a new Logger is started at once."""
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, stream=stream)
    sink.start()
    assert sink.ref is not None
    sink.ref.stop()

    Log("test", sink).error("while the Logger is down")
    wait_until(lambda: sink.alive)
    wait_until(lambda: "the Logger had died; restarted it" in stream.getvalue())
    sink.stop()

    assert "[ERROR] [module:test] while the Logger is down" in capsys.readouterr().err


def test_two_children_crashing_together_both_come_back(tree: Any) -> None:
    """Issue 17 defect 2: under one-for-one, child b crashing during a's backoff must not cancel a's restart:
    both come back."""
    log, _, directory, _ = tree
    start(directory, "top", Strategy.ONE_FOR_ONE, [fragile(log, "a"), fragile(log, "b")], log, backoff=(0.2, 1.0))
    wait_until(lambda: None not in refs(directory, "a", "b"))
    a, b = refs(directory, "a", "b")

    tell(a, "crash")
    tell(b, "crash")

    wait_until(lambda: restarted(directory, "a", a) and restarted(directory, "b", b), timeout=5)


class Source(ServiceActor):
    """Has no view to give yet, but something new happens the moment a subscriber asks: it publishes it."""

    component = "source"

    def handle(self, message: Any) -> None:
        return None

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        self.publish("news")


class Listener(ServiceActor):
    """Keeps what it hears; answers 'heard' with it."""

    component = "listener"

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.heard: list[Any] = []

    def handle(self, message: Any) -> Any:
        if message == "heard":
            return list(self.heard)
        self.heard.append(message)
        return None


def test_defect_12_a_started_child_is_registered_before_it_asks_its_sources(tree: Any) -> None:
    """Issue 17 defect 12: a publication made while a (re)started child asks its sources reaches it, however
    late its supervisor gets round to its own books (here: 0.3 s after the start returns)."""
    log, _, directory, _ = tree
    directory.wiring["source"] = ("listener",)
    with linked(None, directory, register_as="source"):
        Source.start(log)

    def slow_start() -> pykka.ActorRef[Any]:
        ref = Listener.start(log)
        time.sleep(0.3)
        return ref

    start(directory, "top", Strategy.ONE_FOR_ONE, [ChildSpec("listener", slow_start)], log)
    wait_until(lambda: directory.lookup("listener") is not None)
    listener = directory.lookup("listener")
    assert listener is not None

    wait_until(lambda: "news" in listener.ask("heard"), timeout=3)


def test_defect_8_a_restarted_observer_learns_what_the_top_supervisor_left_stopped(tree: Any, tmp_path: Any) -> None:
    """Issue 17 defect 8: the top supervisor gives up on a; a Metrics started after that (as a restarted one is)
    asks its sources for their view, the supervisor among them, and its health names a as not running."""
    log, _, directory, recorder = tree
    directory.wiring["supervisor"] = ("recorder", "metrics")
    start(directory, "top", Strategy.ONE_FOR_ONE, [fragile(log, "a")], log, intensity=(0, 60), **QUICK)
    wait_until(lambda: directory.lookup("a") is not None)
    tell(directory.lookup("a"), "crash")
    wait_until(lambda: any(isinstance(message, SupervisionGaveUp) for message in recorder.ask("heard")))
    health_file = tmp_path / "health"

    with linked(None, directory, register_as="metrics"):
        Metrics.start(log, None, str(health_file))

    wait_until(lambda: health_file.exists() and "actor a is not running" in health_file.read_text(), timeout=3)


def test_defect_6_a_second_child_under_a_running_key_is_refused_and_nothing_leaks(tree: Any) -> None:
    """Issue 17 defect 6: SuperviseChild under a key already supervised starts no second actor (which would run on
    unsupervised); the refusal is an ERROR naming it. A child under a new key is started and supervised."""
    log, stream, directory, _ = tree
    top = start(directory, "top", Strategy.ONE_FOR_ONE, [fragile(log, "a")], log, **QUICK)
    wait_until(lambda: directory.lookup("a") is not None)
    a = directory.lookup("a")

    tell(top, SuperviseChild(fragile(log, "a")))
    tell(top, SuperviseChild(fragile(log, "b")))
    wait_until(lambda: directory.lookup("b") is not None)
    wait_until(lambda: "not starting a second a: a child keyed a is already supervised (a bug)" in stream.getvalue())

    assert a is directory.lookup("a")
    assert ["a", "b"] == sorted(ref.proxy().child_name.get() for ref in pykka.ActorRegistry.get_by_class(Fragile))


def test_a_transient_child_that_stops_cleanly_stays_stopped_and_a_removed_child_is_not_restarted(tree: Any) -> None:
    """OTP restart types: a transient child's clean stop is its work done; StopChild stops a child for good."""
    log, stream, directory, recorder = tree
    transient = ChildSpec("t", lambda: Fragile.start(log, "t"), restart=Restart.TRANSIENT)
    top = start(directory, "top", Strategy.ONE_FOR_ONE, [transient, fragile(log, "p")], log, **QUICK)
    wait_until(lambda: None not in refs(directory, "t", "p"))
    t, p = refs(directory, "t", "p")
    assert t is not None and p is not None

    t.stop()
    top.ask(StopChild("p"))
    wait_until(lambda: "t stopped; not restarting it (transient)" in stream.getvalue())

    assert (None, None) == (directory.lookup("t"), directory.lookup("p"))
    assert not p.is_alive()
    assert [] == recorder.ask("heard")


def test_two_children_with_one_name_under_two_keys_are_both_supervised_and_the_name_stays_with_the_live_one(
    tree: Any,
) -> None:
    """Two managers with one hostname: two monitors under two keys, one name. Stopping the one the directory
    names leaves the name with the other, which runs on supervised."""
    log, _, directory, _ = tree
    top = start(directory, "top", Strategy.ONE_FOR_ONE, [], log, **QUICK)
    first = ChildSpec("monitor:manager-1", lambda: Fragile.start(log, "first"), key="node-1")
    second = ChildSpec("monitor:manager-1", lambda: Fragile.start(log, "second"), key="node-9")
    tell(top, SuperviseChild(first))
    wait_until(lambda: directory.lookup("monitor:manager-1") is not None)
    kept = directory.lookup("monitor:manager-1")
    tell(top, SuperviseChild(second))
    wait_until(lambda: directory.lookup("monitor:manager-1") is not kept)

    top.ask(StopChild("node-9"))

    assert kept is directory.lookup("monitor:manager-1")
    assert ["first"] == [ref.proxy().child_name.get() for ref in pykka.ActorRegistry.get_by_class(Fragile)]


class Farewell(ServiceActor):
    """Publishes 'goodbye' as it stops (as Leadership tells LostLeadership on its stop)."""

    component = "farewell"

    def handle(self, message: Any) -> None:
        return None

    def cleanup(self) -> None:
        self.publish("goodbye")


class Keeper(ServiceActor):
    """Keeps what it hears in a list that outlives it."""

    component = "keeper"

    def __init__(self, log: Log, heard: list[Any]) -> None:
        super().__init__(log)
        self.heard = heard

    def handle(self, message: Any) -> None:
        self.heard.append(message)


def test_a_stopping_supervisors_children_hear_each_other_until_their_own_stop(tree: Any) -> None:
    """Children stop last first, and each leaves the directory only as its own stop begins: an observer started
    first (Metrics) still hears what a later sibling says as it stops (Leadership's LostLeadership). Before, the
    supervisor took every child out of the directory before stopping the first, so in a SIGTERM's stop Metrics
    heard nothing more: its neon_cm_active said 1 for the whole stop, past the lease and beside the standby that
    took the lock (the simulator's seeds 1147 and 1960 of the long run)."""
    log, _, directory, _ = tree
    directory.wiring["farewell"] = ("keeper",)
    heard: list[Any] = []
    specs = [
        ChildSpec("keeper", lambda: Keeper.start(log, heard)),
        ChildSpec("farewell", lambda: Farewell.start(log)),
        fragile(log, "last"),
    ]
    top = start(directory, "top", Strategy.ONE_FOR_ONE, specs, log)
    wait_until(lambda: None not in refs(directory, "keeper", "farewell", "last"))

    top.stop()

    assert ["goodbye"] == heard
    assert [None, None, None] == refs(directory, "keeper", "farewell", "last")
