"""Metrics before the first event: every labelled series the service knows of is there at 0 from the start."""

from __future__ import annotations

from pathlib import Path

import pykka

from actors.base import Directory, linked
from actors.logger import Log, LogSink
from actors.metrics import Metrics
from messages.log import Level
from messages.timing import Tick
from messages.vault import VaultsToMonitor

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
    for counter in ("neon_cm_vault_unseal_attempts_total", "neon_cm_vault_unseal_failures_total"):
        assert {"manager-1": 0.0, "manager-2": 0.0} == {
            dict(labels)["node"]: value for (name, labels), value in exported.items() if name == counter
        }
