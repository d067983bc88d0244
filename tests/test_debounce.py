"""Coalescing bursts of node events (pure logic)."""

from __future__ import annotations

from neon_cm.debounce import Debounce


def test_single_event_fires_after_the_quiet_period() -> None:
    """One event: check after `quiet`, and it is due then."""
    debounce = Debounce(quiet=0.2, longest=2.0)

    assert 0.2 == debounce.event(10.0)
    assert 0.0 == debounce.due(10.2)
    assert not debounce.pending


def test_burst_is_coalesced_into_one_action() -> None:
    """Ten events 0.1 s apart: only the first asks for a check, and it fires once, after the last."""
    debounce = Debounce(quiet=0.2, longest=2.0)
    asked = [debounce.event(10.0 + n * 0.1) for n in range(10)]

    assert [0.2] + [None] * 9 == asked
    assert abs(debounce.due(10.2) - 0.9) < 1e-9
    assert 0.0 == debounce.due(11.1)
    assert not debounce.pending


def test_endless_burst_still_fires_after_longest() -> None:
    """Events that never go quiet do not starve the action."""
    debounce = Debounce(quiet=0.2, longest=1.0)
    debounce.event(0.0)
    for n in range(1, 20):
        debounce.event(n * 0.1)

    assert 0.0 == debounce.due(1.0)
    assert 0.2 == debounce.event(2.0)


def test_cancelled_burst_is_no_longer_pending() -> None:
    """A poll that lists the Swarm anyway cancels the pending burst."""
    debounce = Debounce(quiet=0.2, longest=1.0)
    debounce.event(0.0)
    debounce.cancel()

    assert not debounce.pending
