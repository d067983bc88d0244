"""Metrics before the first event: every labelled series the service knows of is there at 0 from the start."""

from __future__ import annotations

from pathlib import Path

import pykka

from actors.base import Directory, linked
from actors.logger import Log, LogSink
from actors.metrics import Metrics
from messages.lifecycle import ServiceStopping
from messages.log import Level
from messages.timing import Tick
from messages.vault import MonitoringStopped, UnsealFinished, VaultObserved, VaultState, VaultsToMonitor

TREE = ("metrics", "leadership", "settings", "vault", "vault-fleet", "definition", "swarm-watcher", "node-events")


def samples(metrics: pykka.ActorRef[Metrics]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of everything the actor's registry exports now."""
    registry = metrics.proxy().metrics.get().registry
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
    }


def test_restarts_of_every_actor_and_unseals_of_every_monitored_node_start_at_zero(tmp_path: Path) -> None:
    """With the tree's actors registered and two managers to monitor, before any crash or unseal: a restart
    series at 0 per actor, an unseal attempt and failure series at 0 per manager."""
    sink = LogSink(Level.NONE)
    sink.start()
    directory = Directory()
    try:
        with linked(None, directory):
            metrics = Metrics.start(Log("test", sink), None, str(tmp_path / "health"))
        for name in TREE:
            directory.register(name, metrics)  # any live reference: only the names are read
        metrics.tell(VaultsToMonitor(("manager-1", "manager-2")))
        metrics.ask(Tick("health"))
        exported = samples(metrics)
    finally:
        pykka.ActorRegistry.stop_all()

    assert {name: 0.0 for name in TREE} == {
        dict(labels)["actor"]: value
        for (name, labels), value in exported.items()
        if name == "neon_cm_actor_restarts_total"
    }
    for counter in (
        "neon_cm_vault_unseal_attempts_total",
        "neon_cm_vault_unseal_failures_total",
        "neon_cm_vault_unseal_keys_refused",
    ):
        assert {"manager-1": 0.0, "manager-2": 0.0} == {
            dict(labels)["node"]: value for (name, labels), value in exported.items() if name == counter
        }


def started_metrics(tmp_path: Path) -> pykka.ActorRef[Metrics]:
    sink = LogSink(Level.NONE)
    sink.start()
    with linked(None, Directory()):
        return Metrics.start(Log("test", sink), None, str(tmp_path / "health"))


def series(metrics: pykka.ActorRef[Metrics], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in samples(metrics).items() if sample == name}


def test_keys_refused_is_1_from_the_finding_until_the_vault_is_seen_unsealed(tmp_path: Path) -> None:
    """Issue 19: an attempt that ended with the keys refused sets the node's gauge to 1 (what VaultAutoUnsealFailing
    reads); a failure of another kind leaves it; the node seen unsealed sets it back to 0."""
    metrics = started_metrics(tmp_path)
    node = (("node", "manager-1"),)
    try:
        metrics.tell(VaultsToMonitor(("manager-1",)))
        metrics.tell(UnsealFinished("manager-1", False, "the unseal keys do not unseal this Vault", keys_refused=True))
        metrics.tell(UnsealFinished("manager-1", False, "unseal attempt failed (timeout)"))
        refused = series(metrics, "neon_cm_vault_unseal_keys_refused")[node]
        metrics.tell(VaultObserved("manager-1", "http://m1", VaultState.UNSEALED, "active", "shamir"))
        cleared = series(metrics, "neon_cm_vault_unseal_keys_refused")[node]
        failures = series(metrics, "neon_cm_vault_unseal_failures_total")[node]
    finally:
        pykka.ActorRegistry.stop_all()

    assert (1.0, 0.0, 2.0) == (refused, cleared, failures)


def test_the_seal_type_is_one_series_per_node_of_the_type_last_said(tmp_path: Path) -> None:
    """Issue 19: neon_cm_vault_seal_type{node,type} is 1 for the type the Vault last said; a reading without one (no
    answer) keeps it; a migrated seal replaces the series; a node no longer monitored has none."""
    metrics = started_metrics(tmp_path)
    seen = []
    try:
        for state, seal_type in (
            (VaultState.SEALED, "shamir"),
            (VaultState.UNREACHABLE, ""),
            (VaultState.SEALED, "static"),
        ):
            metrics.tell(VaultObserved("manager-1", "http://m1", state, "", seal_type))
            seen.append(series(metrics, "neon_cm_vault_seal_type"))
        metrics.tell(MonitoringStopped("manager-1"))
        seen.append(series(metrics, "neon_cm_vault_seal_type"))
    finally:
        pykka.ActorRegistry.stop_all()

    shamir = {(("node", "manager-1"), ("type", "shamir")): 1.0}
    assert [shamir, shamir, {(("node", "manager-1"), ("type", "static")): 1.0}, {}] == seen


def test_a_reading_after_monitoring_stopped_brings_no_series_back(tmp_path: Path) -> None:
    """Issue 26, defect 5: a monitor whose probe outlasted the stop budget published after MonitoringStopped, and
    its series came back (VaultSealed kept firing for a node that was gone). A late reading or unseal outcome of a
    node no longer monitored is dropped, until the node is monitored again."""
    metrics = started_metrics(tmp_path)
    try:
        metrics.tell(VaultsToMonitor(("manager-2",)))
        metrics.tell(VaultObserved("manager-2", "http://m2:8200", VaultState.SEALED))
        metrics.tell(MonitoringStopped("manager-2"))
        metrics.tell(VaultsToMonitor(()))
        metrics.tell(VaultObserved("manager-2", "http://m2:8200", VaultState.SEALED))  # the late one
        metrics.tell(UnsealFinished("manager-2", False, "late"))
        late = series(metrics, "neon_cm_vault_state")
        metrics.tell(VaultsToMonitor(("manager-2",)))  # monitored again: its readings count again
        metrics.tell(VaultObserved("manager-2", "http://m2:8200", VaultState.UNSEALED))
        again = series(metrics, "neon_cm_vault_state")
    finally:
        pykka.ActorRegistry.stop_all()

    assert {} == late
    assert 1.0 == again[(("node", "manager-2"), ("state", "unsealed"))]


def test_a_stopping_service_is_not_judged_unhealthy_for_the_monitors_it_stopped(tmp_path: Path) -> None:
    """On SIGTERM the Vault side stops before Metrics (stopped last); a health tick meanwhile (a stop held up by a hung
    Consul: 1 s on the test stack) judged its monitors gone and said `[ERROR] unhealthy: the Vault on manager-1 has no
    live monitor` as the service stopped. Told the service is stopping, Metrics judges no more."""
    (tmp_path / "control").mkdir()
    (tmp_path / "stopping").mkdir()
    control, stopping = started_metrics(tmp_path / "control"), started_metrics(tmp_path / "stopping")
    try:
        for metrics in (control, stopping):
            metrics.tell(VaultsToMonitor(("manager-1",)))  # and no monitor running: as once the Vault side stopped
        stopping.tell(ServiceStopping())
        for metrics in (control, stopping):
            metrics.ask(Tick("health"))
        verdicts = [metrics.proxy().health.get() for metrics in (control, stopping)]
    finally:
        pykka.ActorRegistry.stop_all()

    assert ("the Vault on manager-1 has no live monitor",) == verdicts[0].reasons
    assert verdicts[1].ok
