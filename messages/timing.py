"""Timer vocabulary: what a Ticker tells and what it is told."""

from __future__ import annotations

from typing import Protocol

import attrs


class Settable(Protocol):
    """What a Tick's `handled` is: an Event of the runtime's (actors/runtime.py)."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...


@attrs.frozen
class Tick:
    """Time for the target's periodic work."""

    timer: str
    """Name of the Ticker that sent it, e.g. `node-poll`."""
    handled: Settable | None = attrs.field(default=None, eq=False, repr=False)
    """Set once the target has handled it: a Ticker sends no new tick while its last one waits."""


@attrs.frozen
class SetInterval:
    """Tell a Ticker to tick every `seconds` from now on (measured from its last tick)."""

    seconds: float
    """The new interval; must be > 0."""
