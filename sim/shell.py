"""The shells of the simulated instances: each actor feeds its decider events and carries out its effects on the
simulated clock, as actors/base.py's DecidingActor does (one message at a time; a server call's answer is decided
on after the rest of the decision's effects), with the servers' latency, pauses and crashes in between."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neon_cm.decider import CancelTimer, Log, Publish, StartTimer, TimerFired
from sim.gateways import Call, Crashed, Violation

if TYPE_CHECKING:
    from sim.instance import Instance

#: A server applies a request and its answer is back this long after it was sent, drawn per call.
LATENCY = (0.001, 0.008)


class Component:
    """How the sim runs one kind of actor: its decider, the events its shell makes, the calls it carries out."""

    name = ""
    start_event: Any = None
    """Fed when the actor (re)starts (after its sources told it their view)."""
    stop_event: Any = None
    """Fed when the actor stops or crashes (its shell's cleanup); its effects are carried out at once."""

    def make(self) -> Any:
        """A fresh decider state (a restarted actor's state is new: what it knew is lost)."""
        raise NotImplementedError

    def call(self, effect: Any) -> Call | None:
        """The server call an effect asks for (carried out in the actor, which waits for the answer)."""
        return None

    def handle(self, actor: SimActor, effect: Any) -> bool:
        """Carry out an effect that is not a server call or a shared one (tell another actor, a worker's call)."""
        return False

    def event_of(self, message: Any) -> Any:
        """The event a received message is for the decider; None: ignored."""
        return message

    def cleanup(self, effects: tuple[Any, ...]) -> tuple[Any, ...]:
        """The effects of the stop event the shell's cleanup carries out (an old behaviour may drop some)."""
        return effects

    def view(self, actor: SimActor) -> list[Any]:
        """What this actor tells a (re)started subscriber (its send_current_view)."""
        view = getattr(actor.state, "view", None)
        if callable(view):
            current = view()
            return [] if current is None else [current]
        return list(actor.published.values())


class SimActor:
    """One actor of an instance: its mailbox, timers, and the decision in progress."""

    def __init__(self, instance: Instance, component: Component) -> None:
        self.instance = instance
        self.component = component
        self.name = component.name
        self.state: Any = None
        self.alive = False
        self.incarnation = 0
        self.mailbox: deque[Any] = deque()
        self.pending: deque[Any] = deque()
        self.effects: deque[Any] = deque()
        self.busy = False
        self.timers: dict[str, int] = {}
        self.timer_set: dict[str, float] = {}
        """When each timer was last started (a supervisor's restart timer: when the restart was decided)."""
        self.tokens = 0
        self.published: dict[type, Any] = {}
        self.died_at: float | None = None

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """(Re)start with a fresh decider state; sources tell it their view, then its start event."""
        self.state = self.component.make()
        self.alive, self.died_at = True, None
        self.incarnation += 1
        self.mailbox.clear()
        self.published = {}
        for source in self.instance.sources(self.name):
            for message in source.component.view(source):
                self.mailbox.append(message)
        if self.component.start_event is not None:
            self.mailbox.append(self.component.start_event)
        self.kick()

    def crash(self, why: str) -> None:
        """Die of `why`: see `end`; the parent hears."""
        self.end(why, crashed=True)

    def end(self, why: str, crashed: bool) -> None:
        """Stop or die: state, mailbox, timers and the call in flight are lost; the shell's cleanup runs; its
        children stop with it; the parent hears of a crash."""
        if not self.alive:
            return
        world = self.instance.world
        world.record(self.instance.name, self.name, f"{'CRASH' if crashed else 'STOP'} ({why})", ())
        stop = self.component.stop_event
        self.alive, self.busy = False, False
        self.incarnation += 1
        self.mailbox.clear()
        self.pending.clear()
        self.effects.clear()
        self.timers.clear()
        self.died_at = world.loop.now
        if stop is not None:
            # The cleanup decides on Stop and carries out what it can at once (publish, a best-effort release).
            self.state, effects = self.state.decide(stop, world.loop.now)
            effects = self.component.cleanup(effects)
            world.record(self.instance.name, self.name, stop, effects)
            for effect in effects:
                world.check_effect(self.instance, self.name, effect)
                if isinstance(effect, Publish):
                    self.instance.publish(self, effect.message)
                else:
                    call = self.component.call(effect)
                    if call is not None and world.server_answers(call.server, world.loop.now):
                        world.loop.after(world.latency(), apply_later(call, world))
        for child in self.instance.children_of(self.name):
            self.instance.halt(child, removed=False)
        if crashed:
            self.instance.child_exited(self, why)

    # ------------------------------------------------------------------ messages

    def deliver(self, message: Any, incarnation: int) -> None:
        if not self.alive or incarnation != self.incarnation:
            return  # told to an actor that died since: lost, as with pykka
        self.mailbox.append(message)
        self.kick()

    def kick(self) -> None:
        if not self.busy and self.alive and self.mailbox:
            self.busy = True
            incarnation = self.incarnation
            self.instance.soon(lambda: self.work(incarnation))

    def work(self, incarnation: int) -> None:
        if incarnation != self.incarnation or not self.alive:
            return
        if not self.mailbox:
            self.busy = False
            return
        event = self.component.event_of(self.mailbox.popleft())
        if event is not None:
            self.pending.append(event)
        self.resume()

    def resume(self) -> None:
        """Decide on pending events and carry out effects until a server call leaves the actor waiting."""
        world = self.instance.world
        while True:
            if self.effects:
                if self.carry_out(self.effects.popleft()):
                    return
                continue
            if self.pending:
                event = self.pending.popleft()
                now = world.loop.now
                self.state, effects = self.state.decide(event, now)
                world.record(self.instance.name, self.name, event, effects)
                self.effects.extend(effects)
                continue
            break
        self.busy = False
        self.kick()

    def carry_out(self, effect: Any) -> bool:
        """Carry out one effect; True when it is a server call whose answer the actor now waits for."""
        world = self.instance.world
        world.check_effect(self.instance, self.name, effect)
        if isinstance(effect, Log):
            world.logged(self.instance, self.name, effect)
        elif isinstance(effect, Publish):
            self.published[type(effect.message)] = effect.message
            self.instance.publish(self, effect.message)
        elif isinstance(effect, StartTimer):
            self.start_timer(effect.key, effect.seconds)
        elif isinstance(effect, CancelTimer):
            self.timers.pop(effect.key, None)
        elif not self.component.handle(self, effect):
            call = self.component.call(effect)
            if call is None:
                raise TypeError(f"{self.name} cannot carry out {effect!r}")
            incarnation = self.incarnation
            world.perform(self.instance, call, lambda answer: self.answered(answer, incarnation))
            return True
        return False

    def answered(self, answer: Any, incarnation: int) -> None:
        if incarnation != self.incarnation or not self.alive:
            return  # the actor died while its call was out: the answer goes nowhere
        if isinstance(answer, Crashed):
            # "Let it crash" is for bugs only: whatever a server answers becomes a state, never a death.
            raise Violation(
                "no crash from a peer's answer", f"{self.instance.name}/{self.name} died of {answer.reason}"
            )
        if answer is not None:
            self.pending.append(answer)
        self.resume()

    def start_timer(self, key: str, seconds: float) -> None:
        self.tokens += 1
        token, incarnation = self.tokens, self.incarnation
        self.timers[key] = token
        self.timer_set[key] = self.instance.world.loop.now

        def fire() -> None:
            if incarnation == self.incarnation and self.timers.get(key) == token:
                del self.timers[key]
                self.deliver(TimerFired(key), incarnation)

        self.instance.after(max(0.0, seconds), fire)

    def tell_self(self, message: Any) -> Callable[[], None]:
        incarnation = self.incarnation
        return lambda: self.deliver(message, incarnation)


def short(value: Any, limit: int = 150) -> str:
    """A repr cut to `limit` characters, for a trace line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def apply_later(call: Call, world: Any) -> Callable[[], None]:
    """A call a dying actor's cleanup sends (a release): applied when it arrives, its answer going nowhere."""
    return lambda: call.apply(world.loop.now)
