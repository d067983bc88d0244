"""Coalescing a burst of events: act at once on the first event after a quiet spell (the leading edge),
then once more for everything that follows it, when that has gone quiet (the trailing edge)."""

from __future__ import annotations

import math

import attrs


@attrs.define
class Debounce:
    """The first event after `spell` seconds without an action acts at once. Events after it are coalesced
    into one trailing action, `quiet` seconds after the last of them (at most `longest` seconds after the
    first of them) and never sooner than `spell` after the previous action: so however events fall, any
    `spell` seconds of them cost at most two actions. Callers pass the time in; nothing here reads a clock."""

    quiet: float
    longest: float
    spell: float
    first: float | None = None
    last: float = 0.0
    acted: float = -math.inf

    def event(self, now: float) -> float | None:
        """Record an event: 0.0 to act now (the leading edge; the action is recorded), else the delay after
        which to check `due`, or None when a check is already pending."""
        self.last = now
        if self.first is not None:
            return None
        if now >= self.acted + self.spell:
            self.acted = now
            return 0.0
        self.first = now
        return self._wait(now, now)

    @property
    def pending(self) -> bool:
        """A trailing action is waiting."""
        return self.first is not None

    def _wait(self, first: float, now: float) -> float:
        at = max(min(self.last + self.quiet, first + self.longest), self.acted + self.spell)
        return at - now

    def due(self, now: float) -> float:
        """How much longer to wait for the pending trailing action; 0 when it is time to act (it is then
        recorded as done)."""
        if self.first is None:
            raise ValueError("no burst is pending")
        wait = self._wait(self.first, now)
        if wait > 0:
            return wait
        self.first, self.acted = None, now
        return 0.0

    def cancel(self) -> None:
        """Forget the pending trailing action (the Swarm was listed another way, e.g. by a poll)."""
        self.first = None
