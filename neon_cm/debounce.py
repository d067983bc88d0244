"""Coalescing a burst of events into one action: act once the events have been quiet for a while."""

from __future__ import annotations

import attrs


@attrs.define
class Debounce:
    """Fires `quiet` seconds after the last event, or `longest` seconds after the first one of a
    burst that never goes quiet. Callers pass the time in; nothing here reads a clock."""

    quiet: float
    longest: float
    first: float | None = None
    last: float = 0.0

    def event(self, now: float) -> float | None:
        """Record an event; the delay after which to check `due`, or None when a check is already pending."""
        pending = self.first is not None
        if not pending:
            self.first = now
        self.last = now
        return None if pending else self.quiet

    @property
    def pending(self) -> bool:
        """A burst is waiting to be acted on."""
        return self.first is not None

    def due(self, now: float) -> float:
        """How much longer to wait for a pending burst; 0 when it is time to act (the burst is then over)."""
        if self.first is None:
            raise ValueError("no burst is pending")
        wait = min(self.last + self.quiet, self.first + self.longest) - now
        if wait > 0:
            return wait
        self.first = None
        return 0.0

    def cancel(self) -> None:
        """Forget the burst (the action was taken another way, e.g. by a poll)."""
        self.first = None
