"""The health verdict: pure logic, and the Metrics actor that judges it."""

from __future__ import annotations

import time
from pathlib import Path

import pykka

from actors.base import Directory, linked
from actors.logger import Log, LogSink
from actors.metrics import Metrics
from messages.lifecycle import SupervisionGaveUp
from messages.log import Level
from messages.timing import Tick
from messages.vault import VaultsToMonitor
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


def test_the_metrics_actor_names_a_vault_without_a_live_monitor_and_an_actor_given_up(tmp_path: Path) -> None:
    """With real actors: a manager the fleet should watch whose monitor is not running, and an actor the top
    supervisor left stopped, each make the verdict unhealthy, named in the health file `health` reads."""
    health_file = tmp_path / "health"
    sink = LogSink(Level.NONE)
    sink.start()
    directory = Directory()
    try:
        with linked(None, directory):
            metrics = Metrics.start(Log("test", sink), None, str(health_file))
        metrics.tell(VaultsToMonitor(("manager-2",)))
        metrics.tell(SupervisionGaveUp("definition", "crashed 6 times"))
        metrics.ask(Tick("health"))
        health = from_document(health_file.read_bytes(), time.time())
    finally:
        pykka.ActorRegistry.stop_all()

    assert (
        "actor definition is not running",
        "the Vault on manager-2 has no live monitor",
    ) == health.reasons[:2]
