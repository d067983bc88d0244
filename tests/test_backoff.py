"""Restart backoff (pure logic)."""

from __future__ import annotations

from neon_cm.backoff import Backoff


def test_doubles_up_to_the_longest() -> None:
    """1, 2, 4, ... seconds, capped."""
    backoff = Backoff(first=1, longest=10, stable_after=300)

    assert [1, 2, 4, 8, 10, 10] == [backoff.failed(now) for now in range(6)]


def test_starts_over_after_a_quiet_spell() -> None:
    """A failure after `stable_after` quiet seconds is treated as the first."""
    backoff = Backoff(first=1, longest=60, stable_after=300)
    backoff.failed(0)
    backoff.failed(1)

    assert 1 == backoff.failed(400)
