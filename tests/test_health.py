"""The health verdict (pure logic)."""

from __future__ import annotations

from neon_cm.health import Health, assess, from_document, to_document


def test_healthy_when_listings_succeed_and_actors_run() -> None:
    """Recent listing, no dead actor: ok."""

    assert Health(True) == assess(now=100, started=0, last_listing=95, poll_seconds=30, dead_actors=[])


def test_overdue_listing_and_dead_actor_are_reasons() -> None:
    """Three intervals without a listing, or a dead actor, make the service unhealthy, each with a reason."""
    health = assess(now=200, started=0, last_listing=100, poll_seconds=30, dead_actors=["swarm-watcher"])

    assert not health.ok
    assert ["actor swarm-watcher is not running", "no successful node listing for 100 s"] == [
        reason.split(" since")[0] for reason in health.reasons
    ]


def test_grace_after_start() -> None:
    """Before any listing, the clock starts at start-up."""

    assert assess(now=60, started=0, last_listing=None, poll_seconds=30, dead_actors=[]).ok
    assert not assess(now=91, started=0, last_listing=None, poll_seconds=30, dead_actors=[]).ok


def test_health_file_round_trip_and_staleness() -> None:
    """The file holds the verdict; a file not refreshed for 30 s means the service is hung or gone."""
    document = to_document(Health(False, ("actor X is not running",)), at=1000.0)

    assert Health(False, ("actor X is not running",)) == from_document(document, now=1010.0)
    assert "hung or gone" in from_document(to_document(Health(True), at=1000.0), now=1031.0).reasons[0]
    assert not from_document(b"garbage", now=0).ok
