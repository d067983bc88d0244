"""The simulated clock: one heap of (time, order, action); every run's time and order come from it alone."""

from __future__ import annotations

import heapq
from collections.abc import Callable


class Loop:
    """Runs actions in time order (ties in the order they were scheduled); `now` is the simulated time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.steps = 0
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = 0

    def at(self, when: float, action: Callable[[], None]) -> None:
        """Run `action` at simulated time `when` (never before now)."""
        self._order += 1
        heapq.heappush(self._heap, (max(when, self.now), self._order, action))

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        """Run `action` `seconds` from now."""
        self.at(self.now + seconds, action)

    def run_until(self, end: float, after_step: Callable[[], None]) -> None:
        """Run every action due before `end`, calling `after_step` after each; then set the clock to `end`."""
        heap = self._heap
        while heap and heap[0][0] < end:
            when, _, action = heapq.heappop(heap)
            self.now = when
            self.steps += 1
            action()
            after_step()
        self.now = max(self.now, end)
