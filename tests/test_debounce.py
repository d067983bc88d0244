"""Coalescing bursts of node events: leading edge, then one trailing action (pure logic)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from neon_cm.debounce import Debounce


def test_a_single_event_after_a_quiet_spell_acts_at_once() -> None:
    """One event with nothing before it: act now, nothing left pending."""
    debounce = Debounce(quiet=0.2, longest=2.0, spell=1.0)

    assert 0.0 == debounce.event(10.0)
    assert not debounce.pending


def test_a_burst_costs_the_leading_action_and_one_trailing_action() -> None:
    """Ten events 0.09 s apart: the first acts at once, the second asks for a check, the rest wait for it;
    the trailing action comes `quiet` after the last event."""
    debounce = Debounce(quiet=0.2, longest=2.0, spell=1.0)
    asked = [debounce.event(10.0 + n * 0.09) for n in range(10)]

    assert [0.0, 0.91] + [None] * 8 == [None if a is None else round(a, 6) for a in asked]
    assert abs(debounce.due(11.0) - 0.01) < 1e-9
    assert 0.0 == debounce.due(11.01)
    assert not debounce.pending


def test_endless_burst_still_fires_after_longest() -> None:
    """Events that never go quiet do not starve the trailing action."""
    debounce = Debounce(quiet=0.2, longest=1.5, spell=1.0)
    debounce.event(0.0)
    for n in range(1, 40):
        debounce.event(n * 0.1)

    assert 0.0 == debounce.due(1.6)
    assert 0.0 == debounce.event(4.0)


def test_cancelled_burst_is_no_longer_pending() -> None:
    """A poll that lists the Swarm anyway cancels the pending trailing action."""
    debounce = Debounce(quiet=0.2, longest=1.0, spell=1.0)
    debounce.event(0.0)
    debounce.event(0.1)
    debounce.cancel()

    assert not debounce.pending


def actions(times: list[float], debounce: Debounce) -> list[float]:
    """When the actions happen for events at `times`, checking `due` exactly when asked (as the actor does)."""
    done: list[float] = []
    check: float | None = None
    for now in [*sorted(times), float("inf")]:
        while check is not None and check <= now:
            wait = debounce.due(check)
            if wait == 0:
                done.append(check)
                check = None
            else:
                check += wait
        if now == float("inf"):
            break
        delay = debounce.event(now)
        if delay == 0:
            done.append(now)
        elif delay is not None:
            check = now + delay
    return done


@given(st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=60))
def test_any_spell_of_events_costs_at_most_two_actions_and_the_last_event_is_acted_on(times: list[float]) -> None:
    """However events fall: no window of `spell` seconds holds more than two actions, and an action comes
    after the last event (nothing it announced is left unlisted)."""
    done = actions(times, Debounce(quiet=0.2, longest=2.0, spell=1.0))

    assert max(times) <= done[-1]
    assert all(later - earlier >= 1.0 - 1e-9 for earlier, later in itertools.pairwise(done))
