"""When to log about a failure that repeats: at its start, when it changes, then as a reminder."""

from __future__ import annotations

import attrs


@attrs.define
class Outage:
    """Tracks one repeating failure (Consul down, Docker unreachable, a Vault sealed).

    Callers name the problem by its kind (`"docker"`), not by the error's text, which changes as a
    peer goes down (an APIError, then a ConnectionError): one outage is one line and one recovery.
    Where a change of kind is news (a Vault going from sealed to unreachable), `changes_are_news`.
    Callers pass the time in; nothing here reads a clock.
    """

    reminder_seconds: float = 300.0
    """How often a failure that goes on is logged again."""
    changes_are_news: bool = False
    """Whether a different problem during a failure is logged (else only its start and reminders)."""
    problem: str | None = None
    """The current failure's description, None while things work."""
    logged_at: float = 0.0
    """When the current failure was last logged."""

    def failed(self, problem: str, now: float) -> bool:
        """Record a failure; True when it should be logged (new, changed if that is news, or a reminder)."""
        changed = problem != self.problem and (self.problem is None or self.changes_are_news)
        due = changed or now - self.logged_at >= self.reminder_seconds
        self.problem = problem
        if due:
            self.logged_at = now
        return due

    def succeeded(self) -> str | None:
        """Record a success; the failure that just ended, if there was one (to log the recovery)."""
        ended, self.problem = self.problem, None
        return ended
