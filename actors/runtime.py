"""Runtime: the process's concurrency as one object (clock, threads, events, locks, timers, and pykka's inbox, future
and actor loop), so that the simulator (sim/runtime.py) runs the very same actors on virtual time in one thread.

Every actor module reads the clock, starts a thread, makes an Event or a Lock, and sets a timer through
`runtime()`, never through `time` or `threading` directly; every actor of the service is a `RuntimeActor`,
whose pykka hooks (inbox, future, loop) are the runtime's too. The default, `THREADS`, is the service's
behaviour: OS threads, `time.monotonic`, and the one timer thread of actors/scheduler.py.

`install(other)` makes another runtime current for the calling OS thread (and every greenlet in it) until it is
put back; other OS threads keep the default, so a thread left over from a real test never runs on a
simulator's clock.
"""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pykka

from actors.scheduler import SCHEDULER, Scheduler, Timer

if TYPE_CHECKING:
    from pykka._actor import ActorInbox

__all__ = [
    "THREADS",
    "Event",
    "Lock",
    "Runtime",
    "RuntimeActor",
    "RuntimeKilled",
    "Thread",
    "ThreadRuntime",
    "Timer",
    "install",
    "installed",
    "now",
    "runtime",
    "wall",
]


class Event(Protocol):
    """What an Event is to the service: `threading.Event`'s interface."""

    def set(self) -> None: ...

    def clear(self) -> None: ...

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Lock(Protocol):
    """What a Lock is to the service: `threading.Lock`'s interface (never held across a call to a server)."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None, /
    ) -> None: ...


class Thread(Protocol):
    """A thread started with `Runtime.start_thread`."""

    @property
    def name(self) -> str: ...

    def join(self, timeout: float | None = None) -> None: ...

    def is_alive(self) -> bool: ...


class RuntimeKilled(BaseException):
    """Raised where a thread of the simulator waits when its process is killed (SIGKILL) or the simulation ends:
    it unwinds the thread and nothing of it runs again. Never raised by the threads runtime."""


class Runtime(ABC):
    """The concurrency of one process. Every method may be called from any of its threads (or actors)."""

    @abstractmethod
    def now(self) -> float:
        """Monotonic seconds (`time.monotonic`): deadlines, timers, intervals."""

    @abstractmethod
    def wall(self) -> float:
        """Seconds since the epoch (`time.time`): log timestamps, the health file."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Block the calling thread (or actor) for `seconds`."""

    @abstractmethod
    def event(self) -> Event:
        """A new Event (unset)."""

    @abstractmethod
    def lock(self) -> Lock:
        """A new Lock (not reentrant)."""

    @abstractmethod
    def start_thread(self, name: str, work: Callable[[], None]) -> Thread:
        """Run `work` in a new daemon thread called `name`; an exception it raises ends only that thread."""

    @abstractmethod
    def current_thread(self) -> object:
        """The calling thread: `is` the Thread `start_thread` returned, when called in it."""

    @abstractmethod
    def call_later(self, seconds: float, action: Callable[[], None]) -> Timer:
        """Run `action` `seconds` from now (0 or less: as soon as possible) on the timer thread: it must be short and
        never block (telling an actor is the usual one). The Timer's `cancel` stops it if it has not run yet."""

    @abstractmethod
    def create_inbox(self) -> ActorInbox:
        """A new actor's inbox (pykka's `_create_actor_inbox`): `put`, a blocking `get`, `empty`."""

    @abstractmethod
    def create_future(self) -> pykka.Future[Any]:
        """A new future (pykka's `_create_future`): what `ask` answers with, `get(timeout=)` blocking."""

    @abstractmethod
    def start_actor_loop(self, actor: RuntimeActor) -> None:
        """Run `actor._actor_loop()` in a thread of its own (pykka's `_start_actor_loop`)."""

    def tell_later(self, seconds: float, ref: pykka.ActorRef[Any], message: Any) -> Timer:
        """Tell `message` to `ref` `seconds` from now; nothing happens if it is gone by then."""

        def deliver() -> None:
            try:
                ref.tell(message)
            except pykka.ActorDeadError:
                pass  # the actor stopped meanwhile: its timer goes with it

        return self.call_later(seconds, deliver)


_actor_threads = count(0)


class ThreadRuntime(Runtime):
    """The service's runtime: OS threads, the system clocks, and one scheduler thread for every timer."""

    def __init__(self, scheduler: Scheduler = SCHEDULER) -> None:
        self.scheduler = scheduler

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def event(self) -> Event:
        return threading.Event()

    def lock(self) -> Lock:
        return threading.Lock()

    def start_thread(self, name: str, work: Callable[[], None]) -> Thread:
        thread = threading.Thread(target=work, name=name, daemon=True)
        thread.start()
        return thread

    def current_thread(self) -> object:
        return threading.current_thread()

    def call_later(self, seconds: float, action: Callable[[], None]) -> Timer:
        return self.scheduler.call_later(seconds, action)

    def create_inbox(self) -> ActorInbox:
        inbox: queue.Queue[Any] = queue.Queue()
        return inbox

    def create_future(self) -> pykka.Future[Any]:
        return pykka.ThreadingFuture()

    def start_actor_loop(self, actor: RuntimeActor) -> None:
        # As pykka.ThreadingActor does.
        thread = threading.Thread(target=actor._actor_loop, name=f"{type(actor).__name__}-{next(_actor_threads)}")
        thread.daemon = actor.use_daemon_thread
        thread.start()


THREADS = ThreadRuntime()
"""The default runtime: the service's threads and clocks."""


class _Installed(threading.local):
    runtime: Runtime = THREADS


_installed = _Installed()


def runtime() -> Runtime:
    """The calling thread's runtime (THREADS unless another was installed in this OS thread)."""
    return _installed.runtime


def install(new: Runtime) -> Runtime:
    """Make `new` the runtime of the calling OS thread (and of every greenlet in it); the one it replaces."""
    previous, _installed.runtime = _installed.runtime, new
    return previous


@contextmanager
def installed(new: Runtime) -> Iterator[Runtime]:
    """`new` is the calling thread's runtime in this block; the previous one after it."""
    previous = install(new)
    try:
        yield new
    finally:
        install(previous)


def now() -> float:
    """The current runtime's monotonic clock (a clock to hand to code that takes one)."""
    return _installed.runtime.now()


def wall() -> float:
    """The current runtime's wall clock (a clock to hand to code that takes one)."""
    return _installed.runtime.wall()


class RuntimeActor(pykka.Actor):
    """A pykka actor whose inbox, futures and loop are the current runtime's: a thread of its own under THREADS
    (as pykka.ThreadingActor), a greenlet on virtual time in the simulator."""

    use_daemon_thread: ClassVar[bool] = False
    """As pykka.ThreadingActor's: whether the actor's thread (under THREADS) is a daemon thread."""

    @staticmethod
    def _create_actor_inbox() -> ActorInbox:
        return _installed.runtime.create_inbox()

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return _installed.runtime.create_future()

    def _start_actor_loop(self) -> None:
        _installed.runtime.start_actor_loop(self)

    def _handle_receive(self, message: Any) -> Any:
        try:
            return super()._handle_receive(message)
        except RuntimeKilled:
            # The simulator killed this actor's process: end the loop without pykka's handling of a BaseException
            # (which stops every actor of the registry), running nothing more of it.
            self.actor_stopped.set()
            return None
