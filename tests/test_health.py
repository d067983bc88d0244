"""The health verdict: pure logic, and the Metrics actor that judges it."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pykka

from actors.base import Directory, linked
from actors.logger import Log, LogSink
from actors.metrics import Metrics
from messages.lifecycle import SupervisionGaveUp
from messages.log import Level
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodesObserved, SwarmNode
from messages.timing import Tick
from messages.vault import VaultsToMonitor
from neon_cm.health import (
    DEGRADED_REASONS,
    Health,
    Shortfalls,
    assess,
    from_document,
    keys_seen,
    stopped_document,
    to_document,
)


def test_healthy_when_listings_succeed_and_actors_run() -> None:
    """Recent listing, no dead actor: ok."""

    assert Health(True) == assess(now=100, started=0, last_listing=95, poll_seconds=30, dead_actors=[])


def test_overdue_listing_and_dead_actor_are_reasons() -> None:
    """Three intervals without a listing, or a dead actor, make the service unhealthy, each with a reason."""
    health = assess(now=200, started=0, last_listing=100, poll_seconds=30, dead_actors=["swarm-watcher"])

    assert not health.ok
    assert [
        "actor swarm-watcher is not running",
        "the last successful node listing was 100 s ago (limit 90 s)",
    ] == list(health.reasons)
    assert (
        "no successful node listing since the start 91 s ago (limit 90 s)"
        == assess(now=91, started=0, last_listing=None, poll_seconds=30, dead_actors=[]).reasons[0]
    )


def test_grace_after_start() -> None:
    """Before any listing, the clock starts at start-up."""

    assert assess(now=60, started=0, last_listing=None, poll_seconds=30, dead_actors=[]).ok
    assert not assess(now=91, started=0, last_listing=None, poll_seconds=30, dead_actors=[]).ok


def test_shortfalls_make_it_degraded_not_unhealthy_and_each_names_its_cause() -> None:
    """Refused keys, keys given that cannot be used, a metrics port not served, a missing base definition and a
    setting whose stored value was rejected each
    make the verdict `degraded` (it passes the health check: a new task would do no better), with words that say
    what to do; the health file carries them, the key set and the refusing Vaults to `health` and `vault status`."""
    shortfalls = Shortfalls(
        "1a2b3c4d",
        ("manager-2",),
        "/metrics and /health are not served: port 9102 is taken (Address already in use)",
        "neon/cluster/definition.deflate",
        "VAULT_CREDENTIALS_FILE=/run/secrets/keys holds base64 (the form VAULT_CREDENTIALS takes)",
        ("node_poll_seconds", "vault_url_template"),
    )
    health = assess(now=10, started=0, last_listing=5, poll_seconds=30, dead_actors=[], shortfalls=shortfalls)
    document = to_document(health, at=10.0, shortfalls=shortfalls)

    assert (True, "degraded") == (health.ok, health.state)
    assert list(DEGRADED_REASONS) == list(shortfalls.reasons())
    assert [
        "the unseal keys (key set 1a2b3c4d) were refused by the Vault on manager-2 (rotated, or another cluster's): "
        "put its current keys in the credentials secret",
        "auto-unseal is off: the unseal keys given cannot be used (VAULT_CREDENTIALS_FILE=/run/secrets/keys holds "
        "base64 (the form VAULT_CREDENTIALS takes)); put usable credentials in the secret",
        "/metrics and /health are not served: port 9102 is taken (Address already in use)",
        "no base definition at neon/cluster/definition.deflate, so no definition is published: publish cluster "
        "setup's with `neon-cluster-manager definition put FILE`",
        "the values stored at neon/services/neon-cluster-manager/node_poll_seconds, "
        "neon/services/neon-cluster-manager/vault_url_template were rejected, so the default apply: see the WARN or "
        "`neon-cluster-manager settings get`, and mend it",
    ] == list(health.degraded)
    assert health == from_document(document, now=11.0)
    assert ("1a2b3c4d", ("manager-2",)) == keys_seen(document, now=11.0)
    assert (None, ()) == keys_seen(document, now=41.0)  # stale: no running service vouches for it
    assert "healthy" == assess(now=10, started=0, last_listing=5, poll_seconds=30, dead_actors=[]).state
    assert (None, ()) == keys_seen(b"garbage", now=11.0)


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


def test_a_stopped_service_leaves_a_file_that_is_unhealthy_at_once() -> None:
    """The file the service leaves at exit is unhealthy a second later, not only once it is 30 s stale."""
    verdict = from_document(stopped_document(at=1000.0), now=1001.0)

    assert Health(False, ("the service stopped at 1970-01-01T00:16:40Z",)) == verdict


def test_a_verdict_of_the_file_itself_names_the_file() -> None:
    """Helper wtry3: `health` run on the host read another run's file and said `unhealthy: the service stopped at ...`
    with no file named. Where the file itself is the verdict (stopped, stale, not the service's), it is named."""
    path = "/run/neon/health.json"
    stopped = from_document(stopped_document(at=1000.0), now=1001.0, path=path)
    stale = from_document(to_document(Health(True), at=1000.0), now=1031.0, path=path)
    garbage = from_document(b"garbage", now=0, path=path)

    assert ("the service stopped at 1970-01-01T00:16:40Z (the health file /run/neon/health.json)",) == stopped.reasons
    assert stale.reasons[0].startswith("the health file /run/neon/health.json was last written 31 s ago")
    assert ("the health file /run/neon/health.json is not one the service wrote",) == garbage.reasons


def test_causes_stay_the_same_while_the_seconds_grow() -> None:
    """An overdue listing at 20 s and at 25 s is one outage (its cause has no figure), its reason says how long."""
    first = assess(now=20, started=0, last_listing=None, poll_seconds=5, dead_actors=[])
    later = assess(now=25, started=0, last_listing=None, poll_seconds=5, dead_actors=["x"])

    assert ("no successful node listing",) == first.causes
    assert ("actor x is not running", "no successful node listing") == later.causes
    assert first.reasons != assess(now=25, started=0, last_listing=None, poll_seconds=5, dead_actors=[]).reasons


def test_an_unhealthy_verdict_that_lasts_is_one_error_and_one_info_when_it_ends(tmp_path: Path) -> None:
    """With the real Metrics actor: no listing for three short poll intervals, judged at several ticks (the
    seconds grow at each), is one ERROR, not one per tick; a listing then gives one `healthy again`."""
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, stream=stream)
    sink.start()
    try:
        with linked(None, Directory()):
            metrics = Metrics.start(Log("test", sink), None, str(tmp_path / "health"))
        metrics.tell(SettingsChanged(Settings(node_poll_seconds=0.1)))
        verdicts = []
        for _ in range(4):
            time.sleep(0.6)
            metrics.ask(Tick("health"))
            verdicts.append(from_document((tmp_path / "health").read_bytes(), time.time()).reasons)
        metrics.tell(NodesObserved((SwarmNode("id", "manager-1", "manager", "127.0.0.11"),)))
        metrics.ask(Tick("health"))
        metrics.stop()
    finally:
        pykka.ActorRegistry.stop_all()
        sink.stop()
    lines = stream.getvalue().splitlines()

    assert len(set(verdicts)) >= 2, "the reason says how long, so the verdicts differ"
    assert 1 == len([line for line in lines if "[ERROR]" in line and "unhealthy: no successful node listing" in line])
    assert 1 == len([line for line in lines if line.endswith("[INFO] [module:metrics] healthy again")])
