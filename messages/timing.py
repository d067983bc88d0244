"""Timer vocabulary: what a Ticker tells and what it is told."""

from __future__ import annotations

import attrs


@attrs.frozen
class Tick:
    """Time for the target's periodic work."""

    timer: str
    """Name of the Ticker that sent it, e.g. `node-poll`."""


@attrs.frozen
class SetInterval:
    """Tell a Ticker to tick every `seconds` from now on (measured from its last tick)."""

    seconds: float
    """The new interval; must be > 0."""
