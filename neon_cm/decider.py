"""The shape of every decision: a state, an event and the time in; the next state and what to do out.

A decider is a frozen attrs class that holds its state and has

    def decide(self, event: object, now: float) -> Decision[Self]

returning the next state and the effects, in order. It has no thread, clock or client: `now` is monotonic
seconds from the caller (an actor shell, a unit test, the simulator), events are what the world said (a
server's typed answer from a gateway, a message, a timer that fired) and effects are what to do. A decider
raises only for a bug: every answer a peer can give is an event it handles.

The effects below are shared by every decider. A decider adds its own for the calls it wants made (pass the
check, write the definition, send a share); its shell carries each out through the server's gateway and feeds
the typed answer back in as the next event.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs

from messages.log import Level

S = TypeVar("S")
Decision = tuple[S, tuple[Any, ...]]
"""What `decide` returns: the next state and the effects, in the order they are to be carried out."""


@attrs.frozen
class Log:
    """Write one line to the log stream, as the deciding component."""

    level: Level
    """Its severity."""
    text: str
    """The message; never a secret (the simulator checks every one)."""
    error: str | None = None
    """What a gateway said went wrong (`ExceptionType: text`), shown after the message."""


@attrs.frozen
class Publish:
    """Tell this component's subscribers (the routes table says who they are)."""

    message: Any
    """An immutable message from `messages/`."""


@attrs.frozen
class StartTimer:
    """Feed `TimerFired(key)` back to this decider `seconds` from now; replaces a pending timer of that key."""

    key: str
    """Which timer: one per key is pending at most."""
    seconds: float
    """From now; 0 means as soon as the shell is free."""


@attrs.frozen
class CancelTimer:
    """Forget the pending timer of `key`, if any."""

    key: str
    """Which timer."""


@attrs.frozen
class TimerFired:
    """Event: the timer of `key` ran out."""

    key: str
    """Which timer."""


def timer_key(kind: str, key: str) -> str:
    """The key of one of several timers of a kind: `restart:<child>`, `follower:<hostname>`."""
    return f"{kind}:{key}"


def timer_of(kind: str, timer: str) -> str | None:
    """What `timer_key(kind, ...)` was given to make `timer`; None when `timer` is not of that kind."""
    prefix = timer_key(kind, "")
    return timer[len(prefix) :] if timer.startswith(prefix) else None


def log(level: Level, text: str, error: str | None = None) -> Log:
    """A Log effect (shorter to read in a decider's effect list)."""
    return Log(level, text, error)
