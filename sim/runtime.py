"""SimRuntime: the actors' runtime (actors/runtime.py) on virtual time, in one OS thread, the same from the same seed.

FoundationDB's way: the service's real actors (their pykka loops, shells, supervisors, Tickers, watch threads) run
unchanged; only the clock, the scheduler and the threads are this module's. Each actor loop and each
`start_thread` is a greenlet (a *task*); one event loop, a heap of entries by (virtual time, sequence), switches
between them. A task runs until it waits (an empty inbox, `Event.wait`, `Future.get`, a held `Lock`, `sleep`, a
transport call) and the loop then runs the next entry. Virtual time jumps from one entry to the next, so a day of
Tickers passes in a fraction of a second, and nothing depends on the machine's speed.

The driver (the greenlet that made the runtime: a test, the simulated world) runs the loop with `run_until`,
`run_for` or `wait_for`. When the driver itself waits (a test's `ref.ask(...).get(timeout=5)`), it runs the loop
until its wait is over, so test code reads as it does against threads.

Every task and every timer belongs to an *owner* (a simulated process: an instance's name; `WORLD`, None, for the
simulated servers and network): `owned_by(owner)` sets who owns what is started in it, and what a task starts
is its owner's. `pause(owner, seconds)` is a SIGSTOP until a time (nothing of it runs, its timers fire late),
`crash(owner)` a SIGKILL (its tasks never run again, its timers are dropped, its actors are dead).

**Blocking in a transport** (sim/transport.py's requests adapter, on the calling actor's task): a call blocks its
caller exactly as a socket would, and the caller's messages queue behind it meanwhile. The runtime is the
transport's clock (`now()`, `park(until, signal=None)`, `signal()`), or, in its own words:

    runtime.block_until(arrival)             # the request travels
    answer = server.handle(request)          # the server sees it at `arrival`
    runtime.block_until(arrival + back)      # the answer travels
    return answer

or, for an answer that comes when something happens (a blocking query woken by a write), `park(deadline,
signal)` with a `signal()` the server sets, or a Waiter that carries the answer:

    waiter = runtime.waiter()
    server.watchers.append(waiter)           # the server calls waiter.resume(answer, delay=latency)
    answer = waiter.wait(timeout=wait)       # TIMED_OUT if nothing came in time

and work the world does on its own (a request that arrives after its client gave up) is scheduled with
`runtime.schedule(at, action)`, owned by WORLD, so no instance's pause holds it up.

Always close the runtime (`with SimRuntime(seed) as runtime:` installs it and closes it): closing unwinds every
task that is still waiting, so none is left for the garbage collector to wake up later, in another run.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import queue
import random
import sys
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import greenlet
import pykka

from actors.runtime import (
    THREADS,
    Event,
    Lock,
    Runtime,
    RuntimeActor,
    RuntimeKilled,
    Thread,
    Timer,
    install,
    runtime,
)

if TYPE_CHECKING:
    from pykka._actor import ActorInbox
    from pykka._envelope import Envelope
    from pykka._types import OptExcInfo

Owner = Hashable | None
"""Who a task or a timer belongs to: a simulated process (an instance's name), or WORLD."""

WORLD: Owner = None
"""The owner of the simulated servers and network, and of the driver's own timers: never paused or crashed."""


class _TimedOut:
    def __repr__(self) -> str:
        return "TIMED_OUT"


TIMED_OUT: Any = _TimedOut()
"""What `Waiter.wait` answers when its timeout came first."""

#: Where virtual wall-clock time (`wall()`) starts: 2023-11-14 22:13:20 UTC, a fixed instant.
EPOCH = 1_700_000_000.0


class Deadlock(Exception):
    """The driver waits for something that nothing scheduled will ever bring."""


class Livelock(Exception):
    """Virtual time stands still: more than `SimRuntime.most_steps_per_instant` steps at one instant (a loop that
    calls and calls with no time passing, as a watch on a server answering at once with nothing to wait on)."""


class _Entry:
    """One thing to do at a virtual time: an action run by the loop (waking a task is one)."""

    __slots__ = ("action", "cancelled", "generation", "label", "owner")

    def __init__(self, action: Callable[[], object], owner: Owner, generation: int, label: str) -> None:
        self.action = action
        self.owner = owner
        self.generation = generation
        self.label = label
        self.cancelled = False


class _SimTimer(Timer):
    """A timer on the loop: cancelling it drops its entry."""

    def __init__(self, due: float, action: Callable[[], None], entry: _Entry) -> None:
        super().__init__(due, action)
        self.entry = entry

    def cancel(self) -> None:
        super().cancel()
        self.entry.cancelled = True


class _Task(greenlet.greenlet):
    """One simulated thread: an actor's loop or a `start_thread`. It is also the Thread handle `start_thread` gives."""

    def __init__(self, sim: SimRuntime, name: str, owner: Owner, work: Callable[[], None]) -> None:
        super().__init__(run=self._main, parent=sim.hub)
        self.sim = sim
        self.name = name
        self.owner = owner
        self.generation = sim._generations.get(owner, 0)
        self.work = work
        self.killed = False
        """Its process was killed (or the runtime closed): it is never switched to again."""
        self.on_its_way: dict[int, tuple[float, Callable[[], object]]] = {}
        """Its requests on their way to a server, not taken in yet: (arrival, deliver) by a number of its own."""
        self.sent = 0
        self.finished = False
        self.joiners: list[Waiter] = []

    def __repr__(self) -> str:
        return f"<task {self.name} of {self.owner!r}>"

    def _main(self) -> None:
        try:
            self.work()
        except RuntimeKilled:
            pass
        finally:
            self.finished = True
            self.sim._tasks.discard(self)
            for joiner in self.joiners:
                joiner.resume(None)

    def join(self, timeout: float | None = None) -> None:
        if self.finished or self.killed or self is greenlet.getcurrent():
            return
        waiter = Waiter(self.sim)
        self.joiners.append(waiter)
        waiter.wait(timeout)

    def is_alive(self) -> bool:
        return not (self.finished or self.killed)


class Waiter:
    """One wake-up, for one waiting task (or the driver): `wait(timeout)` parks the caller until `resume(value)` is
    called, from any task or scheduled action, or until the timeout; resumed before it waits, it does not park.
    The primitive every blocking operation here is made of, and what a transport uses for an answer that comes
    when something happens."""

    __slots__ = ("_expiry", "done", "resumed", "sim", "task", "value")

    def __init__(self, sim: SimRuntime) -> None:
        self.sim = sim
        self.task: _Task | None = None
        self.resumed = False
        """`resume` was called, or the timeout came: the value is decided."""
        self.done = False
        """The value was delivered: `wait` returns it."""
        self.value: Any = None
        self._expiry: _Entry | None = None

    def wait(self, timeout: float | None = None) -> Any:
        """Park until resumed (the value given to `resume`) or `timeout` virtual seconds passed (TIMED_OUT)."""
        sim = self.sim
        if sim.closing:
            raise RuntimeKilled()
        current = greenlet.getcurrent()
        task = isinstance(current, _Task) and current.sim is sim
        if not self.done and timeout is not None:
            if timeout <= 0 and not self.resumed:
                self.resumed, self.done, self.value = True, True, TIMED_OUT
            elif not self.resumed:
                owner = current.owner if task else sim._owner  # sim.owner(), without looking again
                self._expiry = sim._schedule(sim._now + timeout, self._expire, owner, "timeout")
        if task:
            self.task = current
            try:
                while not self.done:
                    sim.hub.switch()
            except greenlet.GreenletExit:
                # Collected while waiting (a runtime never closed): unwind as a killed task, never as pykka's
                # "BaseException in an actor: stop every actor" path.
                raise RuntimeKilled() from None
            if sim.closing:
                raise RuntimeKilled()
        else:
            if current is not sim.hub:
                raise RuntimeError("a SimRuntime is waited on only by its tasks and the greenlet that made it")
            while not self.done:
                if not sim._step():
                    raise Deadlock("the driver waits, and nothing is scheduled that could wake it")
        return self.value

    def resume(self, value: Any = None, delay: float = 0.0) -> bool:
        """Wake the waiter with `value`, `delay` virtual seconds from now; False if it was resumed (or timed out)
        already."""
        if self.resumed:
            return False
        self.resumed = True
        self.value = value
        if self._expiry is not None:
            self._expiry.cancelled = True
        sim = self.sim
        if delay <= 0 and self.task is None:
            self.done = True  # the driver (or a task not waiting yet) sees it at its next look
            return True
        owner = self.task.owner if self.task is not None else WORLD
        sim._schedule(sim._now + max(0.0, delay), self._wake, owner, self._label("wake"))
        return True

    def _expire(self) -> None:
        if not self.resumed:
            self.resumed = True
            self.value = TIMED_OUT
            self._wake()

    def _wake(self) -> None:
        self.done = True
        if self.task is not None:
            self.sim._switch(self.task)

    def _label(self, what: str) -> str:
        return f"{what} {self.task.name}" if self.task is not None else what


class SimEvent:
    """`threading.Event` on virtual time."""

    def __init__(self, sim: SimRuntime) -> None:
        self.sim = sim
        self.flag = False
        self.waiters: list[Waiter] = []

    def set(self) -> None:
        self.flag = True
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            waiter.resume(True)

    def clear(self) -> None:
        self.flag = False

    def is_set(self) -> bool:
        return self.flag

    def wait(self, timeout: float | None = None) -> bool:
        if self.flag:
            return True
        if timeout is not None and timeout <= 0:
            return False
        waiter = Waiter(self.sim)
        self.waiters.append(waiter)
        if waiter.wait(timeout) is TIMED_OUT:
            if waiter in self.waiters:
                self.waiters.remove(waiter)
            return self.flag
        return True


class Signal:
    """A wake-up shared by a server and a parked caller (`SimRuntime.park`): `set` wakes every caller parked on
    it, at once; once set it stays set."""

    def __init__(self, sim: SimRuntime) -> None:
        self.sim = sim
        self._set = False
        self.waiters: list[Waiter] = []

    def set(self) -> None:
        self._set = True
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            waiter.resume(True)

    @property
    def is_set(self) -> bool:
        return self._set


class SimLock:
    """`threading.Lock` for tasks: one that waits for it parks, and a release hands it to the longest waiting."""

    def __init__(self, sim: SimRuntime) -> None:
        self.sim = sim
        self.held = False
        self.waiters: deque[Waiter] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self.held:
            self.held = True
            return True
        if not blocking:
            return False
        waiter = Waiter(self.sim)
        self.waiters.append(waiter)
        if waiter.wait(None if timeout < 0 else timeout) is TIMED_OUT:
            if waiter in self.waiters:
                self.waiters.remove(waiter)
            return False
        return True  # handed over by `release`: held for us

    def release(self) -> None:
        if not self.held:
            raise RuntimeError("release unlocked lock")
        while self.waiters:
            if self.waiters.popleft().resume(True):
                return  # still held: now by the woken waiter
        self.held = False

    def locked(self) -> bool:
        return self.held

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None, /
    ) -> None:
        self.release()


class SimInbox:
    """An actor's inbox: FIFO, a `get` on an empty one parks the actor's task. With the runtime's message delay,
    each message arrives a seeded moment later, never before one put earlier."""

    def __init__(self, sim: SimRuntime) -> None:
        self.sim = sim
        self.items: deque[Envelope[Any]] = deque()
        self.getter: Waiter | None = None
        self.label = "inbox"
        self.last_arrival = 0.0
        self.actor: RuntimeActor | None = None
        self.doomed: BaseException | None = None
        """A fault (SimRuntime.fail_next_message): the next message told to the actor raises this in its handler."""
        self.held_until = 0.0
        """A fault (SimRuntime.starve): no message arrives before then (the actor's thread gets no CPU meanwhile)."""

    def put(self, envelope: Envelope[Any], /) -> None:
        sim = self.sim
        if sim.closing:
            return
        sim._record(f"put {self.label} {type(envelope.message).__name__}")
        low, high = sim.message_delay
        arrival = max(
            sim._now + (sim.random.uniform(low, high) if high > 0 else 0.0), self.last_arrival, self.held_until
        )
        if arrival <= sim._now:
            self._arrive(envelope)
            return
        self.last_arrival = arrival
        sim._schedule(arrival, lambda: self._arrive(envelope), WORLD, f"arrive {self.label}")

    def _arrive(self, envelope: Envelope[Any]) -> None:
        self.items.append(envelope)
        getter, self.getter = self.getter, None
        if getter is not None:
            getter.resume()

    def get(self) -> Envelope[Any]:
        while not self.items:
            self.getter = Waiter(self.sim)
            self.getter.wait()
        envelope = self.items.popleft()
        if self.doomed is not None and self.actor is not None and envelope.reply_to is None:
            error, self.doomed = self.doomed, None
            _raise_in_handler(self.actor, error)
        return envelope

    def empty(self) -> bool:
        return not self.items


def _raise_in_handler(actor: RuntimeActor, error: BaseException) -> None:
    """The actor's handler (`on_receive`, which pykka calls for every message but its own) raises `error` for the
    next message instead of handling it: a bug, as the actor's loop, its failure hooks and its parent see one."""

    def on_receive(message: Any) -> Any:
        del actor.on_receive  # the instance's override: this one message only
        raise error

    actor.on_receive = on_receive  # type: ignore[method-assign]


def _raise_in_setup(actor: RuntimeActor, error: BaseException) -> None:
    """The actor's start-up (`setup`, actors/base.py's LinkedActor) raises `error`: it dies as it starts."""

    def setup() -> None:
        raise error

    actor.setup = setup  # type: ignore[attr-defined]


class SimFuture(pykka.Future[Any]):
    """pykka's future on virtual time: `get(timeout=)` parks the caller, a Timeout after `timeout` virtual seconds."""

    def __init__(self, sim: SimRuntime | None = None) -> None:
        super().__init__()
        self.sim = sim or current()  # pykka's `stop` makes one with no argument
        self._result: tuple[Any, OptExcInfo | None] | None = None
        self._waiters: list[Waiter] = []

    def get(self, *, timeout: float | None = None) -> Any:
        try:
            return super().get(timeout=timeout)
        except NotImplementedError:
            pass
        deadline = None if timeout is None else self.sim._now + timeout
        while self._result is None:
            remaining = None if deadline is None else deadline - self.sim._now
            if remaining is not None and remaining <= 0:
                raise pykka.Timeout(f"{timeout} seconds")
            waiter = Waiter(self.sim)
            self._waiters.append(waiter)
            if waiter.wait(remaining) is TIMED_OUT and waiter in self._waiters:
                self._waiters.remove(waiter)
            if self._get_hook is not None:
                return super().get(timeout=remaining)
        value, exc_info = self._result
        if exc_info is not None:
            exc_type, exc_value, exc_traceback = exc_info
            assert exc_type is not None
            if exc_value is None:
                exc_value = exc_type()
            if exc_value.__traceback__ is not exc_traceback:
                raise exc_value.with_traceback(exc_traceback)
            raise exc_value
        return value

    def set(self, value: Any | None = None) -> None:
        if self._result is not None or self._get_hook is not None:
            raise queue.Full
        self._result = (value, None)
        self._wake_all()

    def set_exception(self, exc_info: OptExcInfo | None = None) -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        if self._result is not None or self._get_hook is not None:
            raise queue.Full
        self._result = (None, exc_info)
        self._wake_all()

    def set_get_hook(self, func: Any) -> None:
        if self._result is not None:
            raise queue.Full
        super().set_get_hook(func)
        self._wake_all()

    def _wake_all(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.resume()


def current() -> SimRuntime:
    """The calling thread's runtime, which must be a SimRuntime."""
    simulated = runtime()
    if not isinstance(simulated, SimRuntime):
        raise RuntimeError("no SimRuntime is installed in this thread")
    return simulated


class SimRuntime(Runtime):
    """The actors' runtime on one seeded virtual timeline (see the module's docstring).

    `seed` seeds `random`, the one generator of the runtime's choices (and the world's, if it likes); `shuffle`
    breaks ties between entries due at the same instant by the seed instead of first come, first served;
    `message_delay` (low, high) delays each message told to an actor by a seeded time in that range (FIFO per
    inbox kept); `trace` records every step, for `trace_hash`.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        shuffle: bool = False,
        message_delay: tuple[float, float] = (0.0, 0.0),
        trace: bool = True,
    ) -> None:
        self.seed = seed
        self.random = random.Random(seed)
        self.shuffle = shuffle
        self.message_delay = message_delay
        self.hub = greenlet.getcurrent()
        """The driver: the greenlet that made the runtime, and the one that runs the loop."""
        self._now = 0.0
        self._heap: list[tuple[float, float, int, _Entry]] = []
        self._order = itertools.count()
        self._names = itertools.count()
        self._owner: Owner = WORLD
        """The owner of what the driver (or an action it runs) starts."""
        self._generations: dict[Owner, int] = {}
        """Per owner, how many times it was killed: its entries from before a kill are dropped."""
        self._paused: dict[Owner, float] = {}
        self._tasks: set[_Task] = set()
        self._killed: list[_Task] = []
        self._actors: list[tuple[Owner, RuntimeActor]] = []
        self._failing_starts: list[tuple[Owner, str, float, BaseException]] = []
        self.lives: Callable[[Owner, RuntimeActor, bool], None] | None = None
        """Told (owner, actor, True) as an actor's loop is started and (owner, actor, False) when it ends (stopped, or
        died of an exception), at that virtual moment; not when its process is killed (its loop never runs again)."""
        self.trace: list[tuple[float, str]] | None = [] if trace else None
        self.most_steps_per_instant = 100_000
        self._steps_now = 0
        self.closing = False
        self._previous: Runtime | None = None

    # The Runtime interface.

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return EPOCH + self._now

    def sleep(self, seconds: float) -> None:
        """Park the caller for `seconds` virtual seconds (0 or less: let what is due now run first, as a thread's
        `time.sleep(0)` lets the others run)."""
        waiter = Waiter(self)
        if seconds > 0:
            waiter.wait(seconds)  # never resumed: it times out
            return
        self._schedule(self._now, waiter.resume, self.owner(), "yield")
        waiter.wait()

    def event(self) -> Event:
        return SimEvent(self)

    def lock(self) -> Lock:
        return SimLock(self)

    def start_thread(self, name: str, work: Callable[[], None]) -> Thread:
        return self._spawn(f"{name}#{next(self._names)}", work)

    def current_thread(self) -> object:
        return greenlet.getcurrent()

    def call_later(self, seconds: float, action: Callable[[], None]) -> Timer:
        due = self._now + max(0.0, seconds)
        entry = self._schedule(due, action, self.owner(), f"timer {getattr(action, '__qualname__', 'action')}")
        return _SimTimer(due, action, entry)

    def create_inbox(self) -> ActorInbox:
        return SimInbox(self)

    def create_future(self) -> pykka.Future[Any]:
        return SimFuture(self)

    def start_actor_loop(self, actor: RuntimeActor) -> None:
        owner = self.owner()

        def loop() -> None:
            try:
                actor._actor_loop()
            finally:
                if self.lives is not None and not self.closing:
                    self.lives(owner, actor, False)

        task = self._spawn(f"{type(actor).__name__}-{next(self._names)}", loop)
        if self.lives is not None:
            self.lives(owner, actor, True)
        if isinstance(actor.actor_inbox, SimInbox):
            actor.actor_inbox.label = task.name
            actor.actor_inbox.actor = actor
        self._actors.append((task.owner, actor))
        for failing, name, until, error in self._failing_starts:
            if failing == owner and getattr(actor, "register_as", None) == name and self._now < until:
                _raise_in_setup(actor, error)

    # What the simulator adds: time, owners, faults, the driver's loop.

    def actors(self, owner: Owner) -> list[RuntimeActor]:
        """`owner`'s actors, in start order: those running, and those that stopped or died since its last kill."""
        return [actor for actor_owner, actor in self._actors if actor_owner == owner]

    def fail_next_message(self, actor: RuntimeActor, error: BaseException) -> None:
        """A fault: the next message told to `actor` (not an ask: its asker would get the error) raises `error` in
        its handler, as a bug does; pykka's loop, the actor's failure hooks and its supervisor take it from there."""
        if isinstance(actor.actor_inbox, SimInbox):
            actor.actor_inbox.doomed = error

    def starve(self, actor: RuntimeActor, seconds: float) -> None:
        """A fault: `actor`'s thread gets no CPU for `seconds` (an overloaded host, its thread scheduled late): every
        message told to it meanwhile is handled then, in order, and nothing else of it runs before."""
        if isinstance(actor.actor_inbox, SimInbox):
            actor.actor_inbox.held_until = max(actor.actor_inbox.held_until, self._now + seconds)

    def fail_starts(self, owner: Owner, name: str, until: float, error: BaseException) -> None:
        """A fault: until `until`, every actor of `owner`'s that registers as `name` (actors/base.py's
        `register_as`, the name its supervisor gives it) raises `error` in its start-up (a crash loop)."""
        self._failing_starts.append((owner, name, until, error))

    def waiter(self) -> Waiter:
        """A new wake-up (see Waiter): park a task until something resumes it."""
        return Waiter(self)

    def block_until(self, at: float) -> None:
        """Park the caller until virtual time `at` (at once if it has come)."""
        self.sleep(at - self._now)

    def park(self, until: float, signal: Signal | None = None) -> None:
        """Park the caller until virtual time `until`, or until `signal` is set, whichever comes first (at once
        when it is set already): a transport's wait for a leg of a request, or for a held query's answer."""
        if signal is None:
            self.block_until(until)
            return
        if signal.is_set:
            return
        waiter = Waiter(self)
        signal.waiters.append(waiter)
        if waiter.wait(max(0.0, until - self._now)) is TIMED_OUT and waiter in signal.waiters:
            signal.waiters.remove(waiter)

    def signal(self) -> Signal:
        """A new Signal, for `park`."""
        return Signal(self)

    def on_its_way(self, arrival: float, deliver: Callable[[], object]) -> Callable[[], None]:
        """The calling task sent a request that arrives at `arrival`: if its process is killed or exits before the
        task takes the request in, `deliver` runs at `arrival` (at once if it has come) as the world's (`crash`).
        Returns the call that says the task took it in."""
        task = greenlet.getcurrent()
        if not isinstance(task, _Task) or task.sim is not self:
            return lambda: None  # the driver's: never killed
        number = task.sent = task.sent + 1
        task.on_its_way[number] = (arrival, deliver)

        def taken() -> None:
            task.on_its_way.pop(number, None)

        return taken

    def schedule(self, at: float, action: Callable[[], None], owner: Owner = WORLD) -> Timer:
        """Run `action` at virtual time `at` on the loop, as `owner`'s (WORLD: never held up by a pause)."""
        with self.owned_by(owner):
            return self.call_later(at - self._now, action)

    def owner(self) -> Owner:
        """Who owns what is started here and now: the calling task's owner, or the driver's (see `owned_by`)."""
        current = greenlet.getcurrent()
        if isinstance(current, _Task) and current.sim is self:
            return current.owner
        return self._owner

    @contextmanager
    def owned_by(self, owner: Owner) -> Iterator[None]:
        """What is started in this block (actors, threads, timers) belongs to `owner`."""
        current = greenlet.getcurrent()
        if isinstance(current, _Task) and current.sim is self:
            saved, current.owner = current.owner, owner
            try:
                yield
            finally:
                current.owner = saved
            return
        saved, self._owner = self._owner, owner
        try:
            yield
        finally:
            self._owner = saved

    def pause(self, owner: Owner, seconds: float) -> None:
        """SIGSTOP `owner` for `seconds`: none of its tasks runs and none of its timers fires until then (they
        run late, in their order, when it continues)."""
        if owner is WORLD:
            raise ValueError("the world cannot be paused")
        self._paused[owner] = max(self._paused.get(owner, 0.0), self._now + seconds)

    def paused(self, owner: Owner) -> bool:
        return self._paused.get(owner, 0.0) > self._now

    def paused_until(self, owner: Owner) -> float:
        """When `owner`'s last pause ends (or ended); 0 if it was never paused since it was last killed."""
        return self._paused.get(owner, 0.0)

    def crash(self, owner: Owner, how: str = "crash") -> None:
        """SIGKILL `owner`: its tasks never run again, its timers are dropped, and its actors are dead (gone from
        pykka's registry, `is_alive()` False). The owner can be started again afterwards, as a new process. `how`
        names it in the trace: "exit" for a process whose main thread returned (see `exit`)."""
        if owner is WORLD:
            raise ValueError("the world cannot be killed")
        self._generations[owner] = self._generations.get(owner, 0) + 1
        self._paused.pop(owner, None)
        for task in sorted(self._tasks, key=lambda task: task.name):
            if task.owner == owner:
                task.killed = True
                self._tasks.discard(task)
                self._killed.append(task)
                for arrival, deliver in task.on_its_way.values():  # sent: the kernel delivers it all the same
                    self._schedule(max(arrival, self._now), deliver, WORLD, f"a request of {owner!r} arrives")
                task.on_its_way.clear()
        alive = []
        for actor_owner, actor in self._actors:
            if actor_owner == owner:
                self._bury(actor)
            else:
                alive.append((actor_owner, actor))
        self._actors = alive
        self._record(f"{how} {owner!r}")

    def exit(self, owner: Owner) -> None:
        """`owner`'s main thread returned: the process exits, and every other thread of it ends there, wherever it
        is (the service's threads are daemon threads: the interpreter does not wait for them), as at a SIGKILL. Called
        by that main thread itself, which then returns."""
        self.crash(owner, "exit")

    def run_until(self, at: float) -> None:
        """Run everything due until virtual time `at`, then stand at `at`."""
        self._check_driver()
        while self._step(at):
            pass
        self._advance(at)

    def run_for(self, seconds: float) -> None:
        """Run the next `seconds` virtual seconds."""
        self.run_until(self._now + seconds)

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Run until `condition()` holds (checked after every step) or `timeout` virtual seconds passed; whether
        it holds."""
        self._check_driver()
        deadline = self._now + timeout
        while not condition():
            if not self._step(deadline):
                self._advance(deadline)
                return condition()
        return True

    def trace_hash(self) -> str:
        """A digest of every step so far: two runs of one seed give the same."""
        text = "".join([f"{at!r} {what}\n" for at, what in self.trace or ()])  # one update: the same digest
        return hashlib.sha256(text.encode()).hexdigest()

    def close(self) -> None:
        """Unwind every task still waiting (RuntimeKilled where it waits); nothing is scheduled any more."""
        if self.closing:
            return
        self.closing = True
        for _, actor in self._actors:
            self._bury(actor)
        self._actors = []
        for task in sorted(self._tasks, key=lambda task: task.name) + self._killed:
            task.killed = True
            if task:  # started and not finished: unwind it where it waits
                task.throw(RuntimeKilled())
        self._tasks.clear()
        self._killed = []
        self._heap.clear()

    def __enter__(self) -> SimRuntime:
        self._previous = install(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.close()
        finally:
            install(self._previous or THREADS)

    # The loop.

    def _schedule(self, at: float, action: Callable[[], object], owner: Owner, label: str) -> _Entry:
        entry = _Entry(action, owner, self._generations.get(owner, 0), label)
        if not self.closing:  # _push, inline (the loop's commonest call)
            heapq.heappush(self._heap, (at, self.random.random() if self.shuffle else 0.0, next(self._order), entry))
        return entry

    def _push(self, at: float, entry: _Entry) -> None:
        tiebreak = self.random.random() if self.shuffle else 0.0
        heapq.heappush(self._heap, (at, tiebreak, next(self._order), entry))

    def _step(self, until: float | None = None) -> bool:
        """Run the next entry due (at `until` at the latest); False when there is none."""
        while self._heap:
            at, _, _, entry = self._heap[0]
            if until is not None and at > until:
                return False
            heapq.heappop(self._heap)
            if entry.cancelled or entry.generation != self._generations.get(entry.owner, 0):
                continue  # cancelled, or its process was killed since
            resumes = self._paused.get(entry.owner)
            if resumes is not None and resumes > at:
                self._push(resumes, entry)  # SIGSTOPped: it runs when the process continues
                continue
            if at > self._now:  # _advance, inline
                self._now = at
                self._steps_now = 0
            self._steps_now += 1
            if self._steps_now > self.most_steps_per_instant:
                raise Livelock(f"{self._steps_now} steps at {self._now!r} virtual seconds, the last {entry.label!r}")
            if self.trace is not None:  # _record, inline
                self.trace.append((self._now, entry.label))
            saved, self._owner = self._owner, entry.owner
            try:
                entry.action()
            finally:
                self._owner = saved
            return True
        return False

    def _advance(self, at: float) -> None:
        if at > self._now:
            self._now = at
            self._steps_now = 0

    def _switch(self, task: _Task) -> None:
        """Let `task` run (from the loop) until it waits again or ends."""
        if task.killed or task.dead:
            return
        resumes = self._paused.get(task.owner)
        if resumes is not None and resumes > self._now:
            self._push(resumes, _Entry(lambda: self._switch(task), task.owner, task.generation, f"wake {task.name}"))
            return
        task.switch()

    def _spawn(self, name: str, work: Callable[[], None]) -> _Task:
        owner = self.owner()
        task = _Task(self, name, owner, work)
        self._tasks.add(task)
        self._schedule(self._now, lambda: self._switch(task), owner, f"start {name}")
        return task

    def _bury(self, actor: RuntimeActor) -> None:
        pykka.ActorRegistry.unregister(actor.actor_ref)
        actor.actor_stopped.set()

    def _record(self, what: str) -> None:
        if self.trace is not None:
            self.trace.append((self._now, what))

    def _check_driver(self) -> None:
        if greenlet.getcurrent() is not self.hub:
            raise RuntimeError("only the greenlet that made the SimRuntime runs its loop")
