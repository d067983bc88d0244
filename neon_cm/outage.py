"""When to log about a failure that repeats: at its start, when it changes, then as a reminder."""

from __future__ import annotations

import attrs


@attrs.define
class Outage:
    """Tracks one repeating failure (Consul down, Docker unreachable, a Vault sealed).

    Callers pass the time in; nothing here reads a clock.
    """

    reminder_seconds: float = 300.0
    """How often a failure that goes on is logged again."""
    problem: str | None = None
    """The current failure's description, None while things work."""
    logged_at: float = 0.0
    """When the current failure was last logged."""

    def failed(self, problem: str, now: float) -> bool:
        """Record a failure; True when it should be logged (new, changed, or due for a reminder)."""
        due = problem != self.problem or now - self.logged_at >= self.reminder_seconds
        self.problem = problem
        if due:
            self.logged_at = now
        return due

    def succeeded(self) -> str | None:
        """Record a success; the failure that just ended, if there was one (to log the recovery)."""
        ended, self.problem = self.problem, None
        return ended
