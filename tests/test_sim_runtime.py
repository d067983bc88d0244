"""The simulator's runtime (sim/runtime.py) running the service's real actors: Tickers, supervisors, deciding shells
and watch threads, on virtual time in one thread, the same from the same seed."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import pykka
import pytest

from actors.base import DecidingActor, Directory, ServiceActor, linked, tell
from actors.logger import Log, LogSink
from actors.runtime import THREADS, RuntimeActor, runtime
from actors.supervisor import ChildSpec, Strategy, Supervisor
from actors.ticker import Ticker
from gateways.vault import VaultGateway
from messages.lifecycle import ActorRestarted
from messages.log import Level
from messages.swarm import SwarmNode
from messages.timing import Tick
from neon_cm.credentials import Secret
from neon_cm.decider import StartTimer, TimerFired
from neon_cm.environment import TlsSettings
from neon_cm.fleet import Fleet, wanted
from sim import judge
from sim.lives import Lives, vault_hosts
from sim.runtime import TIMED_OUT, Deadlock, Livelock, SimRuntime
from sim.service import SimService
from sim.transport import Clock, Latencies, Latency, Link, SimAdapter
from sim.vault import SimVault


@pytest.fixture
def sim() -> Iterator[SimRuntime]:
    with SimRuntime(seed=1) as simulated:
        yield simulated


def quiet_log() -> tuple[Log, io.StringIO]:
    """A Log whose Logger (an actor of the runtime's, like any other) writes into a string."""
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, stream=stream)
    sink.start()
    return Log("test", sink), stream


class Counter(ServiceActor):
    """Keeps the virtual time of every tick its own Ticker tells it."""

    component = "counter"

    def __init__(self, log: Log, interval: float) -> None:
        super().__init__(log)
        self.interval = interval
        self.ticks: list[float] = []

    def setup(self) -> None:
        self.spawn(Ticker, "count", self.actor_ref, self.interval)

    def handle(self, message: Any) -> Any:
        if isinstance(message, Tick):
            self.ticks.append(runtime().now())
        if message == "ticks":
            return list(self.ticks)
        if message == "crash":
            raise Boom("it broke")
        return None


class Boom(Exception):
    """A bug, as far as the supervisor knows."""


def start_counter(log: Log, interval: float = 1.0) -> pykka.ActorRef[Any]:
    with linked(None, Directory()):
        return Counter.start(log, interval)


def test_a_ticker_ticks_ten_thousand_virtual_seconds(sim: SimRuntime) -> None:
    """A real Ticker on the simulator's scheduler: a tick at start and one every virtual second after, at exactly
    those instants, however long the real run takes."""
    log, _ = quiet_log()
    counter = start_counter(log)

    started = time.monotonic()
    sim.run_until(10_000.0)
    elapsed = time.monotonic() - started
    ticks = counter.ask("ticks", timeout=1)

    assert [float(second) for second in range(10_001)] == ticks
    assert 10_000.0 == sim.now()
    print(f"10,000 virtual seconds of a 1 s Ticker: {elapsed:.3f} s of real time")


def test_a_supervisor_restarts_a_crashing_child_after_its_backoff(sim: SimRuntime) -> None:
    """The real Supervisor hears of its child's death at once (and tells its subscribers), and restarts it after
    the backoff (1 s, then 2 s) in virtual time, with its Ticker ticking again from its restart."""
    log, stream = quiet_log()
    directory = Directory({"supervisor": ("recorder",)})
    restarts: list[tuple[float, Any]] = []

    class Recorder(RuntimeActor):
        def on_receive(self, message: Any) -> None:
            restarts.append((runtime().now(), message))

    directory.register("recorder", Recorder.start())
    spec = ChildSpec("counter", lambda: Counter.start(log, 1.0))
    with linked(None, directory):
        Supervisor.start("top", Strategy.ONE_FOR_ONE, [spec], log)
    sim.run_until(0.5)
    first = directory.lookup("counter")

    tell(first, "crash")
    sim.run_until(1.75)
    second = directory.lookup("counter")
    tell(second, "crash")
    sim.run_until(4.75)
    third = directory.lookup("counter")

    assert first is not None and second is not None and third is not None
    assert not first.is_alive() and not second.is_alive() and third.is_alive()
    assert [(0.5, ActorRestarted("top", "counter")), (1.75, ActorRestarted("top", "counter"))] == restarts
    assert "counter crashed (Boom: it broke); restarting it in 1 s" in stream.getvalue()
    assert "counter crashed (Boom: it broke) again; restarting it in 2 s" in stream.getvalue()
    assert [3.75, 4.75] == third.ask("ticks", timeout=1)


class Injected(Exception):
    pass


def test_a_fault_raises_in_an_actors_next_handler_and_its_supervisor_restarts_it(sim: SimRuntime) -> None:
    """fail_next_message: the next message told to the actor raises in its handler (a bug); the real Supervisor hears
    of it and restarts it; `lives` is told each start and end at its virtual moment."""
    log, stream = quiet_log()
    directory = Directory()
    lives: list[tuple[float, str, bool]] = []
    sim.lives = lambda owner, actor, started: lives.append((sim.now(), type(actor).__name__, started))
    spec = ChildSpec("counter", lambda: Counter.start(log, 1.0))
    with linked(None, directory):
        Supervisor.start("top", Strategy.ONE_FOR_ONE, [spec], log)
    sim.run_until(0.5)
    first = directory.lookup("counter")
    assert first is not None
    counter = next(actor for actor in sim.actors(sim.owner()) if isinstance(actor, Counter))
    sim.fail_next_message(counter, Injected("a bug"))
    sim.run_until(3.0)

    second = directory.lookup("counter")
    assert second is not None and second is not first and second.is_alive() and not first.is_alive()
    assert "counter crashed (Injected: a bug); restarting it in 1 s" in stream.getvalue()
    counters = [(at, started) for at, name, started in lives if name == "Counter"]
    assert [(0.0, True), (1.0, False), (2.0, True)] == counters


def test_an_actors_death_names_the_supervisors_it_started_under_though_they_stopped_first(sim: SimRuntime) -> None:
    """sim/lives.py reads an actor's supervisors as it starts: by its death they may have stopped and left `by_urn` (a
    fleet's cleanup stops its monitors' supervisor after the fleet's own stop was set; any instance's kill drops every
    stopped actor from it). Read at the death, the chain came out empty, and the judge took the actor for one no
    supervisor would restart (long-run seed 2311: nothing dead unseen)."""
    log, _ = quiet_log()
    world = Lives()
    sim.lives = lambda owner, actor, started: world.told(sim.now(), "i1", actor, started)
    inner = ChildSpec("inner", lambda: Supervisor.start("inner", Strategy.ONE_FOR_ONE, [counter], log))
    counter = ChildSpec("counter", lambda: Counter.start(log, 1.0))
    with linked(None, Directory()):
        Supervisor.start("top", Strategy.ONE_FOR_ONE, [inner], log)
    sim.run_until(0.5)
    world.by_urn.clear()  # what a kill of another instance does to the actors stopped by then
    tell(next(actor for actor in sim.actors(sim.owner()) if isinstance(actor, Counter)).actor_ref, "crash")
    sim.run_until(0.6)

    died = [record for record in world.take() if isinstance(record, judge.ActorDied)]
    assert [judge.ActorDied(died[0].t, "i1", "counter", ("inner", "top"))] == died


def test_the_monitors_wanted_name_each_vault_as_the_judge_does_by_the_host_of_its_url() -> None:
    """Long-run seed 2843: under http://{addr}:8200 (two managers sharing a hostname) the world and the judge know a
    Vault by its node's address; the fleet names its monitors by hostname (with the node ID while shared). Recorded by
    the monitors' names alone, no Vault was ever seen watched and a standby's threshold counted from the seal."""
    nodes = {
        "n1": SwarmNode("n1", "manager-2", "manager", "10.0.0.2", "10.0.0.2"),
        "n2": SwarmNode("n2", "manager-2", "manager", "10.0.0.3", "10.0.0.3"),
        "n3": SwarmNode("n3", "Joined-1", "manager", "10.0.1.6", "10.0.1.6"),
    }
    state = Fleet(watched=wanted(nodes, "http://{addr}:8200").watched)

    assert ("joined-1", "manager-2 (node n1)", "manager-2 (node n2)") == state.hostnames()
    assert ("10.0.0.2", "10.0.0.3", "10.0.1.6") == vault_hosts(state)


def test_a_fault_makes_an_actor_die_as_it_starts_until_a_time(sim: SimRuntime) -> None:
    """fail_starts: every start of the named actor raises in `setup` until the time given: the supervisor restarts
    it after 1, 2, 4 s, and the start after the loop ended runs."""
    log, stream = quiet_log()
    directory = Directory()
    sim.fail_starts(sim.owner(), "counter", 5.0, Injected("dies as it starts"))
    spec = ChildSpec("counter", lambda: Counter.start(log, 1.0))
    with linked(None, directory):
        Supervisor.start("top", Strategy.ONE_FOR_ONE, [spec], log)
    sim.run_until(8.0)

    text = stream.getvalue()
    assert "counter crashed (Injected: dies as it starts); restarting it in 1 s" in text
    assert "counter crashed (Injected: dies as it starts) again; restarting it in 4 s" in text
    running = directory.lookup("counter")
    assert running is not None and running.is_alive()


@attrs.frozen
class Alarm:
    """A decider that sets one timer at start and notes when it fired."""

    seconds: float
    fired: tuple[float, ...] = ()

    def decide(self, event: object, now: float) -> tuple[Alarm, tuple[Any, ...]]:
        if event == "start":
            return self, (StartTimer("alarm", self.seconds),)
        if isinstance(event, TimerFired):
            return attrs.evolve(self, fired=(*self.fired, now)), ()
        return self, ()


class AlarmShell(DecidingActor):
    component = "alarm"

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.state = Alarm(7.5)

    def setup(self) -> None:
        self.feed("start")

    def handle(self, message: Any) -> Any:
        if message == "fired":
            return self.state.fired
        return super().handle(message)


def test_a_deciding_actors_timer_fires_on_virtual_time(sim: SimRuntime) -> None:
    """A StartTimer effect of a decider is an entry on the simulator's scheduler: TimerFired comes exactly
    `seconds` later, decided on with that `now`."""
    log, _ = quiet_log()
    sim.run_for(2.0)
    with linked(None, Directory()):
        alarm = AlarmShell.start(log)

    sim.run_for(100.0)

    assert (9.5,) == alarm.ask("fired", timeout=1)


class Sleepy(RuntimeActor):
    """Answers after sleeping `seconds` of the runtime's time (a server call that takes that long)."""

    def on_receive(self, message: Any) -> Any:
        runtime().sleep(message)
        return runtime().now()


class Asker(RuntimeActor):
    """Asks another actor with a timeout, as a shell asks its peer; notes what came of it and when."""

    def __init__(self, peer: pykka.ActorRef[Any]) -> None:
        super().__init__()
        self.peer = peer
        self.outcomes: list[tuple[float, str]] = []

    def on_receive(self, message: Any) -> Any:
        if message == "outcomes":
            return list(self.outcomes)
        try:
            outcome = f"answered {self.peer.ask(message, timeout=3.0)}"
        except pykka.Timeout:
            outcome = "timed out"
        self.outcomes.append((runtime().now(), outcome))
        return None


def test_ask_times_out_in_virtual_time(sim: SimRuntime) -> None:
    """`ask(...).get(timeout)` waits virtual seconds: from the driver and from another actor alike."""
    sleepy = Sleepy.start()
    asker = Asker.start(sleepy)

    with pytest.raises(pykka.Timeout):
        sleepy.ask(10.0, timeout=3.0)
    timed_out_at = sim.now()
    sim.run_until(20.0)  # the sleeper finishes its 10 s at 10.0
    asker.tell(1.0)
    asker.tell(5.0)
    sim.run_until(40.0)

    assert 3.0 == timed_out_at
    assert [(21.0, "answered 21.0"), (24.0, "timed out")] == asker.ask("outcomes", timeout=1)
    assert 40.0 == sim.now()


def test_stop_blocks_in_virtual_time_and_the_driver_cannot_wait_forever(sim: SimRuntime) -> None:
    """`stop(block=True)` of a busy actor waits for it in virtual time; the driver waiting for something nothing
    will bring is a Deadlock, not a hang."""
    sleepy = Sleepy.start()
    sleepy.tell(4.0)

    assert sleepy.stop(block=True, timeout=10.0)
    assert 4.0 == sim.now() and not sleepy.is_alive()
    with pytest.raises(Deadlock):
        sim.event().wait()


def run_world(seed: int) -> tuple[str, list[tuple[float, str]], str]:
    """Two supervised counters crashing now and then, messages delayed and ties broken by the seed."""
    with SimRuntime(seed, shuffle=True, message_delay=(0.0, 0.01)) as simulated:
        log, stream = quiet_log()
        directory = Directory()
        specs = [ChildSpec(name, lambda: Counter.start(log, 0.7)) for name in ("a", "b")]
        with linked(None, directory):
            Supervisor.start("top", Strategy.ONE_FOR_ONE, specs, log)
        for _ in range(20):
            simulated.run_for(simulated.random.uniform(0.0, 3.0))
            tell(directory.lookup(simulated.random.choice("ab")), "crash")
        simulated.run_for(5.0)
        return simulated.trace_hash(), list(simulated.trace or []), stream.getvalue()


def test_one_seed_gives_one_trace() -> None:
    """Two runs of one seed take the same steps at the same virtual instants and log the same; another seed
    takes others."""
    first, again, other = run_world(7), run_world(7), run_world(8)

    assert first[1] == again[1]
    assert first[0] == again[0]
    assert first[2] == again[2]
    assert first[0] != other[0]


def test_a_paused_owners_actors_do_not_run_and_a_crashed_ones_never_again(sim: SimRuntime) -> None:
    """SIGSTOP of one instance: none of its actors or timers runs until it continues (its Ticker's tick then
    comes late, once, and the next an interval after it, as the scheduler thread does); the other runs on.
    SIGKILL: its actors are dead and nothing of it runs again."""
    log, _ = quiet_log()
    with sim.owned_by("one"):
        one = start_counter(log)
    with sim.owned_by("two"):
        two = start_counter(log)
    sim.run_until(10.5)

    sim.pause("one", 20.0)  # until 30.5
    sim.run_until(40.2)
    ticks_one = one.ask("ticks", timeout=1)
    ticks_two = two.ask("ticks", timeout=1)

    sim.crash("one")
    sim.run_until(60.0)

    assert [float(s) for s in range(11)] + [30.5 + s for s in range(10)] == ticks_one
    assert [float(s) for s in range(41)] == ticks_two
    assert not one.is_alive()
    assert [float(s) for s in range(61)] == two.ask("ticks", timeout=1)


def test_asking_a_paused_actor_waits_until_it_continues(sim: SimRuntime) -> None:
    """A paused process answers nothing: an ask of one of its actors times out, and is answered once it
    continues."""
    with sim.owned_by("one"):
        sleepy = Sleepy.start()
    sim.pause("one", 10.0)

    with pytest.raises(pykka.Timeout):
        sleepy.ask(0.0, timeout=5.0)
    answered = sleepy.ask(0.0, timeout=10.0)

    assert 10.0 == answered


def test_threads_events_locks_and_waiters_on_virtual_time(sim: SimRuntime) -> None:
    """start_thread is a task; Event.wait and Lock wait in virtual time; a Waiter resumed with a delay answers
    then, and one never resumed times out."""
    seen: list[tuple[float, str]] = []
    event = sim.event()
    lock = sim.lock()

    def holder() -> None:
        with lock:
            sim.sleep(2.0)
            note("holder done")

    def contender() -> None:
        with lock:
            note("contender has it")

    def note(what: str) -> None:
        seen.append((sim.now(), what))

    def watcher() -> None:
        note(f"event {event.wait(timeout=1.0)}")
        note(f"event {event.wait()}")

    def answered() -> None:
        waiter = sim.waiter()

        def server_answers() -> None:
            waiter.resume("answer", delay=0.5)  # at 3.0, arriving at 3.5

        sim.schedule(3.0, server_answers)
        note(f"waiter {waiter.wait(timeout=10.0)}")
        note(f"waiter timed out: {sim.waiter().wait(timeout=1.0) is TIMED_OUT}")

    threads = [sim.start_thread(name, work) for name, work in [("h", holder), ("c", contender), ("w", watcher)]]
    threads.append(sim.start_thread("a", answered))
    sim.schedule(5.0, event.set)
    threads[0].join()
    sim.run_until(10.0)

    assert [
        (1.0, "event False"),
        (2.0, "holder done"),
        (2.0, "contender has it"),
        (3.5, "waiter answer"),
        (4.5, "waiter timed out: True"),
        (5.0, "event True"),
    ] == seen
    assert not any(thread.is_alive() for thread in threads)


def test_park_waits_until_a_time_or_a_signal_as_a_transport_does(sim: SimRuntime) -> None:
    """The transport's clock face: `park(until)` is a leg of a request; `park(until, signal)` a held query that a
    write at the server (`signal.set()`) answers early; a signal set already does not park at all."""
    seen: list[tuple[float, str]] = []
    write = sim.signal()

    def request() -> None:
        sim.park(0.25)
        seen.append((sim.now(), "answered"))

    def held_query() -> None:
        sim.park(30.0, write)
        seen.append((sim.now(), f"woken, signal set: {write.is_set}"))
        sim.park(60.0, write)
        seen.append((sim.now(), "set already"))

    def quiet_query() -> None:
        sim.park(5.0, sim.signal())
        seen.append((sim.now(), "held to its end"))

    for name, work in [("request", request), ("held", held_query), ("quiet", quiet_query)]:
        sim.start_thread(name, work)
    sim.schedule(2.0, write.set)
    sim.run_until(100.0)

    assert [
        (0.25, "answered"),
        (2.0, "woken, signal set: True"),
        (2.0, "set already"),
        (5.0, "held to its end"),
    ] == seen


def test_sleep_zero_lets_the_others_run_and_a_loop_with_no_time_passing_is_a_livelock(sim: SimRuntime) -> None:
    """`sleep(0)` yields, as `time.sleep(0)` lets other threads run; a loop that never lets time pass (a watch
    whose server answers at once with nothing to wait on) is stopped as a Livelock instead of hanging the run."""
    turns: list[str] = []

    def polite(name: str) -> None:
        for _ in range(3):
            turns.append(name)
            sim.sleep(0)

    sim.start_thread("a", lambda: polite("a"))
    sim.start_thread("b", lambda: polite("b"))
    sim.run_for(0.0)
    sim.most_steps_per_instant = 1_000
    sim.start_thread("spinning", lambda: spin(sim))

    assert ["a", "b"] * 3 == turns
    with pytest.raises(Livelock):
        sim.run_for(1.0)


def spin(sim: SimRuntime) -> None:
    while True:
        sim.sleep(0)


def test_closing_unwinds_every_waiting_actor_and_puts_the_threads_runtime_back() -> None:
    """After the run, nothing of it is left: its actors are gone from pykka's registry and the default runtime
    is current again."""
    with SimRuntime(3) as simulated:
        log, _ = quiet_log()
        start_counter(log)
        Sleepy.start().tell(100.0)
        simulated.run_for(5.0)
        assert runtime() is simulated

    assert runtime() is THREADS
    assert not any(type(ref.actor_inbox).__name__ == "SimInbox" for ref in pykka.ActorRegistry.get_all())


#: Servers that refuse at once: until the simulated servers' transport is in, the real gateways fail fast.
REFUSING = {"CONSUL_HTTP_ADDR": "127.0.0.1:1", "DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def run_service(seed: int, health_dir: Path) -> tuple[SimService, SimRuntime]:
    """The real service tree (neon_cm_main.serve) for 30 virtual seconds, paused 5 s, SIGTERM, 10 s more."""
    with SimRuntime(seed) as simulated:
        service = SimService(simulated, "one", REFUSING, health_dir)
        service.start()
        simulated.run_for(30.0)
        service.pause(5.0)
        simulated.run_for(1.0)
        service.terminate()
        simulated.run_for(10.0)
    return service, simulated


def test_the_real_service_runs_and_stops_on_virtual_time(tmp_path: Path) -> None:
    """neon_cm_main's tree, on servers that refuse: it starts, says what it cannot reach, and stops on SIGTERM
    (told while it is paused, so heard when it continues) within its budget, marking the health file stopped;
    the same seed takes the same steps."""
    service, simulated = run_service(11, tmp_path)
    again, simulated_again = run_service(11, tmp_path)
    text = "\n".join(service.lines)

    assert 0 == service.exit_code and not service.running
    assert "neon-cluster-manager" in service.lines[0] and "starting" in service.lines[0]
    assert "cannot reach Consul for the instance lock" in text
    assert service.lines[-2].startswith("[2023-11-14T22:13:55.000") and service.lines[-2].endswith("stopping")
    assert service.lines[-1].endswith("stopped")
    assert '"stopped"' in (tmp_path / "one.health").read_text()
    assert simulated.trace_hash() == simulated_again.trace_hash()
    assert service.lines == again.lines


def test_a_killed_service_runs_nothing_more_and_starts_again(tmp_path: Path) -> None:
    """SIGKILL: no line more, its actors dead; started again, it is a new process that logs its start anew."""
    with SimRuntime(4) as simulated:
        service = SimService(simulated, "one", REFUSING, tmp_path)
        service.start()
        simulated.run_for(10.0)
        service.kill()
        lines = len(service.lines)
        simulated.run_for(100.0)
        after_kill = len(service.lines)
        service.start()
        simulated.run_for(1.0)

        assert lines == after_kill
        assert "starting" in service.lines[0] and service.running


def test_an_exited_service_runs_nothing_more_and_its_threads_end_with_it(tmp_path: Path) -> None:
    """A process exits when its main thread returns: every other thread of it ends there (the service's are daemon
    threads), as at a SIGKILL. An actor of the process's still running then (a Counter here) never runs again: in
    the long run's seed 22351 a Vault fleet whose call came back after the exit started monitors as the next
    process's."""
    with SimRuntime(4) as simulated:
        service = SimService(simulated, "one", REFUSING, tmp_path)
        service.start()
        log, _ = quiet_log()
        with simulated.owned_by("one"):
            stray = start_counter(log)
        simulated.run_for(5.0)
        service.terminate()
        simulated.run_for(10.0)
        ticks = stray.ask("ticks", timeout=1) if stray.is_alive() else None
        simulated.run_for(10.0)

        assert 0 == service.exit_code and not service.running
        assert not stray.is_alive(), f"ticked on after the exit: {ticks}"
        assert [] == [actor for actor in simulated.actors("one") if actor.actor_ref.is_alive()]


def test_a_share_on_its_way_when_its_process_is_killed_reaches_the_vault_all_the_same() -> None:
    """The kernel sends what was written whatever becomes of the process: a share 1 s on its way when its sender is
    killed is applied by the Vault at its arrival; the sender runs nothing more (no answer read, no next share)."""
    with SimRuntime(5) as simulated:
        vault = SimVault("manager-2", ("a1" * 16 + "01", "b2" * 16 + "02"), 2, 0.0)
        slow = Latencies(wire=Latency(1.0, 1.0))
        wire = Link(vault, cast(Clock, simulated), random.Random(3), "one", "vault:manager-2", latencies=slow)
        node = VaultGateway("http://manager-2:8200", TlsSettings(), SimAdapter(wire), simulated.now)
        answers: list[object] = []

        def unseal() -> None:
            answers.append(node.submit_share(Secret("a1" * 16 + "01")))
            answers.append(node.submit_share(Secret("b2" * 16 + "02")))

        with simulated.owned_by("one"):
            simulated.start_thread("unsealer", unseal)
        simulated.run_for(0.5)
        simulated.crash("one")
        simulated.run_for(5.0)

        assert [] == answers and vault.sealed
        assert [("one", "share", 200)] == [(r.sender, r.note, r.status) for r in wire.history]
        assert 1.0 <= wire.history[0].time < 1.01 and 1 == len(vault.attempt)
