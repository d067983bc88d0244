"""What every actor shares: a parent that hears of its death at once, linked helpers, safe telling, names.

Pykka has no supervision (jodal/pykka#42). This module adds the small part of Erlang/OTP's
that the service needs:

- Every actor is started inside `linked(parent, directory)`, which its constructor reads: its
  parent is the supervisor (or the owning actor) that started it. When it dies of an exception,
  in `setup` or in a handler, the parent is told `ChildExited` with the exception at once;
  when it stops, the parent is told `ChildExited` without one.
- An actor's own helpers (its Ticker, a watch thread's actor) are started with `self.spawn(...)`:
  they are stopped with it, and their death kills it (an Erlang link), so its supervisor restarts
  the whole unit with fresh timers.
- Telling an actor that has died never kills the teller: `tell` says whether it arrived.
- Peers are addressed by name through a `Directory`, so a restarted actor is found again under the
  same name, and wiring (who hears what) is declared once, by name, not by ActorRef. A supervised actor
  registers itself under the name its supervisor gives it before it does anything else, so nothing
  published while it asks its sources for their view is lost.
- Timers (the `StartTimer` effects of a decider, Tickers) are entries on the runtime's one scheduler
  (actors/scheduler.py), not threads.
- The clock, threads, events, locks and timers are the runtime's (actors/runtime.py), so the simulator runs these
  very actors on virtual time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar

import pykka

from actors.logger import Log
from actors.runtime import RuntimeActor, Thread, Timer, runtime
from messages.lifecycle import ChildExited, SendCurrentView, ThreadDied
from messages.log import Level
from messages.routes import ROUTES, member_name
from messages.timing import Tick
from neon_cm.decider import CancelTimer, Publish, StartTimer, TimerFired
from neon_cm.decider import Log as LogEffect
from neon_cm.outage import Outage

A = TypeVar("A", bound=pykka.Actor)


def tell(ref: pykka.ActorRef[Any] | None, message: Any) -> bool:
    """Tell `message` to `ref`; False (and nothing raised) when it is gone or None."""
    if ref is None:
        return False
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        return False
    return True


class Directory:
    """Actors by name, and who hears what (by name): the service's address book.

    Supervisors register each child under its name when they start it, so a restarted actor is
    reached under the same name. `wiring` maps a publishing component to the names of its
    subscribers, `routes` a directed message's route to its receiver (messages/routes.py: the service's
    own, unless a test wires its own); both are fixed when the service is wired.
    """

    def __init__(self, wiring: Mapping[str, tuple[str, ...]] | None = None, routes: Mapping[str, str] = ROUTES) -> None:
        self.wiring = dict(wiring or {})
        self.routes = dict(routes)
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._lock = runtime().lock()

    def register(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._refs[name] = ref

    def unregister(self, name: str, ref: pykka.ActorRef[Any]) -> None:
        """Forget `name`, if it still names `ref` (a newer actor under the same name stays)."""
        with self._lock:
            if self._refs.get(name) is ref:
                del self._refs[name]

    def lookup(self, name: str) -> pykka.ActorRef[Any] | None:
        with self._lock:
            return self._refs.get(name)

    def route(self, route: str, key: str | None = None) -> pykka.ActorRef[Any] | None:
        """The actor a directed message on `route` goes to (of a keyed route, the one for `key`); None when it is
        not running (or the route is not wired)."""
        receiver = self.routes.get(route)
        if receiver is None:
            return None
        return self.lookup(receiver if key is None else member_name(receiver, key))

    def names(self) -> dict[str, pykka.ActorRef[Any]]:
        with self._lock:
            return dict(self._refs)

    def subscribers(self, component: str) -> list[pykka.ActorRef[Any]]:
        """The running subscribers of `component`'s publications."""
        with self._lock:
            return [self._refs[name] for name in self.wiring.get(component, ()) if name in self._refs]

    def sources(self, component: str) -> list[pykka.ActorRef[Any]]:
        """The running actors whose publications `component` hears: those registered under a source's name, or
        under `<source>:<anything>` (one of several of its kind: `supervisor:vault`, `vault-monitor:<host>`)."""
        with self._lock:
            return [
                ref
                for source, names in self.wiring.items()
                if component in names
                for name, ref in self._refs.items()
                if name == source or name.startswith(f"{source}:")
            ]


class _Linking:
    """What `linked` gives the actors constructed in its block."""

    def __init__(self, parent: pykka.ActorRef[Any] | None, directory: Directory, register_as: str | None) -> None:
        self.parent = parent
        self.directory = directory
        self.register_as = register_as


#: A context variable, not a thread-local: each thread, and each greenlet of the simulator, has its own.
_linking: ContextVar[_Linking | None] = ContextVar("linking", default=None)


@contextmanager
def linked(parent: pykka.ActorRef[Any] | None, directory: Directory, register_as: str | None = None) -> Iterator[None]:
    """Actors constructed in this block (in this thread) get `parent` and `directory`; the first one constructed
    registers itself in `directory` under `register_as` (if given) before anything else it does."""
    token = _linking.set(_Linking(parent, directory, register_as))
    try:
        yield
    finally:
        _linking.reset(token)


def current_parent() -> pykka.ActorRef[Any] | None:
    """The parent an actor constructed here and now gets (see `linked`)."""
    linking = _linking.get()
    return None if linking is None else linking.parent


class LinkedDied(Exception):
    """A linked helper of this actor died: the actor dies too, so its supervisor restarts both."""


class LinkedActor(RuntimeActor):
    """A pykka actor with a parent that hears of its death, and helpers that live and die with it.

    Subclasses implement `setup` (instead of pykka's on_start), `cleanup` (run on stop and on
    failure alike: pykka runs on_stop only on a clean stop) and `receive`.
    """

    #: A process must be able to exit while an actor waits on a peer that never answers.
    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        linking = _linking.get() or _Linking(None, Directory(), None)
        self.parent = linking.parent
        self.directory = linking.directory
        self.register_as, linking.register_as = linking.register_as, None
        """The name its supervisor gives it in the directory (taken by this actor, not by those it starts)."""
        self.children: list[pykka.ActorRef[Any]] = []
        """Helpers started with `spawn`: stopped with this actor, and their death is ours."""
        self.exited = False

    def spawn(self, actor_class: type[A], *args: Any, **kwargs: Any) -> pykka.ActorRef[A]:
        """Start a helper linked to this actor."""
        with linked(self.actor_ref, self.directory):
            ref = actor_class.start(*args, **kwargs)
        self.children.append(ref)
        return ref

    def start_thread(self, name: str, work: Callable[[], None]) -> Thread:
        """Run `work` in a daemon thread of this actor's; if it raises, the actor dies of it (a bug)."""

        def run() -> None:
            try:
                work()
            except Exception as error:  # noqa: BLE001 -- whatever it is, the actor dies of it, never silently
                tell(self.actor_ref, ThreadDied(name, error))

        return runtime().start_thread(name, run)

    def on_start(self) -> None:
        if self.register_as is not None:
            # Before setup and before it asks its sources for their view: a publication from then on reaches it.
            self.directory.register(self.register_as, self.actor_ref)
        try:
            self.setup()
        except Exception as error:
            self.exit(error)  # pykka calls no on_failure for a failed on_start
            raise

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ChildExited) and message.child in self.children:
            self.children.remove(message.child)
            if message.error is not None:
                raise LinkedDied(f"{message.name} died: {type(message.error).__name__}: {message.error}")
            return None
        if isinstance(message, ThreadDied):
            raise message.error
        return self.receive(message)

    def on_stop(self) -> None:
        self.exit(None)

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.exit(exception_value or Exception("unknown failure"))

    def exit(self, error: BaseException | None) -> None:
        """Release what this actor holds, stop its helpers, and tell its parent (once)."""
        if self.exited:
            return
        self.exited = True
        try:
            self.cleanup()
        finally:
            for child in reversed(self.children):
                child.stop(block=False)
            self.children = []
            tell(self.parent, ChildExited(self.actor_ref, self.name, error))

    @property
    def name(self) -> str:
        """What this actor is called in the log and in its parent's report."""
        return type(self).__name__

    def setup(self) -> None:
        """Start-up work, in the actor's thread; an exception here is a crash like any other."""

    def cleanup(self) -> None:
        """Release what `setup` acquired (sockets, threads); runs on stop and on failure."""

    def receive(self, message: Any) -> Any:
        """Act on one message."""
        raise NotImplementedError


class ServiceActor(LinkedActor):
    """A service actor: logs through the Logger and tells what it observes to its subscribers.

    Subclasses implement `handle(message)`. Expected trouble (a peer down, a bad stored value)
    is handled there and becomes a state and a log line; anything else raised is a bug: the actor
    dies, and its supervisor logs it and restarts it.
    """

    component = "service"

    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log.child(self.component)

    @property
    def name(self) -> str:
        return self.component

    def on_start(self) -> None:
        super().on_start()
        # A restarted actor has missed what its sources told before: ask them for their current view.
        for source in self.directory.sources(self.component):
            tell(source, SendCurrentView(self.actor_ref))

    def receive(self, message: Any) -> Any:
        if isinstance(message, SendCurrentView):
            self.send_current_view(message.to)
            return None
        try:
            return self.handle(message)
        finally:
            if isinstance(message, Tick) and message.handled is not None:
                message.handled.set()

    def handle(self, message: Any) -> Any:
        """Act on one message."""
        raise NotImplementedError

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        """Tell a (re)started subscriber the current view, if this actor has one."""

    def publish(self, message: Any) -> None:
        """Tell `message` to every running subscriber of this component."""
        for subscriber in self.directory.subscribers(self.component):
            tell(subscriber, message)

    # One shape for a failure that repeats (neon_cm/outage.py): one line as it starts (or changes, or as a
    # reminder), one INFO as it ends.
    def outage_failed(self, outage: Outage, problem: str, text: str, level: Level = Level.ERROR) -> None:
        """Record the failure `problem` in `outage`; log `text` when that is news."""
        if outage.failed(problem, runtime().now()):
            self.log.write(level, text)

    def outage_ended(self, outage: Outage, text: str) -> None:
        """Record a success in `outage`; log `text` at INFO when it ends a failure."""
        if outage.succeeded() is not None:
            self.log.info(text)


_timer_tokens = itertools.count(1)


class DueTimer:
    """A shell's own message: the timer `key` it started as `token` ran out (a restarted timer has a new token)."""

    def __init__(self, key: str, token: int) -> None:
        self.key = key
        self.token = token


class DecidingActor(ServiceActor):
    """A thin shell over a decider (neon_cm/decider.py): it feeds each event to `self.state.decide`, carries out
    the effects (the shared ones here, server calls in `perform` through a gateway) and decides on each answer
    in turn. Subclasses set `self.state` and implement `perform` and `event_of`."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.state: Any = None
        self.timers: dict[str, tuple[int, Timer]] = {}

    def feed(self, event: Any) -> None:
        """Decide on `event` now and carry out what follows; the answers of server calls are decided on in turn,
        after the rest of the decision's effects."""
        pending = [event]
        while pending:
            pending[:0] = self.news()
            self.state, effects = self.state.decide(pending.pop(0), runtime().now())
            pending.extend(self.carry_out(effects))

    def news(self) -> list[Any]:
        """Events the shell learned of by itself (no message brought them), decided before the next event, the answer
        of a server call included: none by default."""
        return []

    def carry_out(self, effects: Iterable[Any]) -> list[Any]:
        """Carry out `effects` in order; the events they answered with."""
        answers = []
        for effect in effects:
            if isinstance(effect, LogEffect):
                self.log_effect(effect)
            elif isinstance(effect, Publish):
                self.publish(effect.message)
            elif isinstance(effect, StartTimer):
                self.start_timer(effect.key, effect.seconds)
            elif isinstance(effect, CancelTimer):
                self.cancel_timer(effect.key)
            else:
                answer = self.perform(effect)
                if answer is not None:
                    answers.append(answer)
        return answers

    def log_effect(self, effect: LogEffect) -> None:
        text = f"{effect.text} ({effect.error})" if effect.error else effect.text
        self.log.write(effect.level, text)

    def start_timer(self, key: str, seconds: float) -> None:
        self.cancel_timer(key)
        token = next(_timer_tokens)
        self.timers[key] = (token, runtime().tell_later(seconds, self.actor_ref, DueTimer(key, token)))

    def cancel_timer(self, key: str) -> None:
        entry = self.timers.pop(key, None)
        if entry is not None:
            entry[1].cancel()

    def cleanup(self) -> None:
        for key in list(self.timers):
            self.cancel_timer(key)

    def handle(self, message: Any) -> Any:
        if isinstance(message, DueTimer):
            entry = self.timers.get(message.key)
            if entry is None or entry[0] != message.token:
                return None  # cancelled or restarted since it was set
            del self.timers[message.key]
            self.feed(TimerFired(message.key))
            return None
        event = self.event_of(message)
        if event is not None:
            self.feed(event)
        return None

    def event_of(self, message: Any) -> Any:
        """The event a received message is for the decider (None: not one it decides on). Default: itself."""
        return message

    def perform(self, effect: Any) -> Any:
        """Carry out one server call (through the gateway); the typed answer, fed back to the decider, or None."""
        raise NotImplementedError(f"{type(self).__name__} cannot carry out {type(effect).__name__}")
