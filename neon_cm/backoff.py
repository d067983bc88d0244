"""How long to wait before trying again after repeated failures (restarts, reconnections)."""

from __future__ import annotations

import attrs


@attrs.define
class Backoff:
    """Doubles the delay on each failure up to `longest`; a failure after `stable_after` quiet seconds
    starts again from `first`. Callers pass the time in; nothing here reads a clock."""

    first: float = 1.0
    longest: float = 60.0
    stable_after: float = 300.0
    attempt: int = 0
    last_failure: float | None = None

    def failed(self, now: float) -> float:
        """Record a failure; the delay before the next try."""
        if self.last_failure is not None and now - self.last_failure > self.stable_after:
            self.attempt = 0
        delay = min(self.first * 2**self.attempt, self.longest)
        self.attempt += 1
        self.last_failure = now
        return delay

    def succeeded(self) -> None:
        """Record a success: the next failure waits `first` again."""
        self.attempt = 0


@attrs.define
class RestartIntensity:
    """Erlang/OTP's restart intensity: at most `restarts` restarts within any `seconds`; one more means
    the supervisor gives up. Callers pass the time in; nothing here reads a clock."""

    restarts: int = 5
    seconds: float = 60.0
    history: list[float] = attrs.field(factory=list)

    def allow(self, now: float) -> bool:
        """Record a restart wanted at `now`; False when it would exceed the intensity (then give up)."""
        self.history = [at for at in self.history if now - at < self.seconds]
        if len(self.history) >= self.restarts:
            return False
        self.history.append(now)
        return True
