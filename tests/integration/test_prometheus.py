"""A real Prometheus (Debian's) scrapes the running service with examples/prometheus/alerts.yml loaded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY
from tests.integration.test_definition_pipeline import PUBLISHED, seed_base
from tests.prometheus_server import JOB, Prometheus, free_port
from tests.service import Service
from tests.test_alerts import DASHBOARD, dashboard_queries


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[list[str]], Prometheus]]:
    """Start a Prometheus scraping the given targets (scrape and evaluation every 1 s); stopped after the test."""
    started: list[Prometheus] = []

    def start(targets: list[str]) -> Prometheus:
        server = Prometheus(targets, tmp_path)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def vault_sealed_states(server: Prometheus, node: str) -> list[str]:
    """The states (pending, firing) of VaultSealed for `node` on Prometheus' GET /api/v1/alerts."""
    alerts = server.api("alerts")["alerts"]
    return [a["state"] for a in alerts if a["labels"]["alertname"] == "VaultSealed" and a["labels"]["node"] == node]


def test_vault_sealed_alert_pends_fires_and_resolves(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    vault: dict[str, Any],
    with_keys: dict[str, str],
    prometheus: Callable[[list[str]], Prometheus],
) -> None:
    """A Vault restarted with auto-unseal off: VaultSealed goes pending, then firing; auto-unseal on: it resolves."""
    port = free_port()
    seed_base(kv)
    service = start_service(METRICS_PORT=str(port), **with_keys)
    service.wait_for(PUBLISHED)
    server = prometheus([f"127.0.0.1:{port}"])
    wait_until(
        lambda: server.query(f'neon_cm_vault_state{{job="{JOB}",node="manager-2",state="unsealed"}} == 1'), "a scrape"
    )
    kv.kv.put(DISABLE_AUTO_UNSEAL_KEY, "true")

    restarted = time.monotonic()
    stack.vault_restart(1)
    seen: list[tuple[str, float]] = []
    while not seen or seen[-1][0] != "firing":
        states = vault_sealed_states(server, "manager-2")
        if states and (not seen or seen[-1][0] != states[0]):
            seen.append((states[0], time.monotonic() - restarted))
        assert time.monotonic() - restarted < 40, f"VaultSealed went {seen} in 40 s"
        time.sleep(0.1)
    kv.kv.put(DISABLE_AUTO_UNSEAL_KEY, "false")
    switched_on = time.monotonic()
    wait_until(lambda: not vault_sealed_states(server, "manager-2"), "VaultSealed to resolve")
    resolved = time.monotonic() - switched_on

    assert ["pending", "firing"] == [state for state, _ in seen]
    print(
        f"VaultSealed pending {seen[0][1]:.1f} s and firing {seen[1][1]:.1f} s after the restart; "
        f"resolved {resolved:.1f} s after auto-unseal was switched on"
    )
    assert [] == [a["labels"]["alertname"] for a in server.api("alerts")["alerts"]]


def test_every_dashboard_query_answers_on_a_real_prometheus(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    vault: dict[str, Any],
    prometheus: Callable[[list[str]], Prometheus],
) -> None:
    """Each query of examples/grafana/neon-cluster-manager.json, with its variables filled in, parses on Prometheus and
    returns data from the running service (counters of what never happened too: their series start at 0)."""
    port = free_port()
    seed_base(kv)
    start_service(METRICS_PORT=str(port)).wait_for(PUBLISHED)
    server = prometheus([f"127.0.0.1:{port}"])
    wait_until(lambda: server.query("neon_cm_vault_unseal_attempts_total"), "a scrape with Vault readings")
    time.sleep(3)  # increase() over [$__rate_interval] needs a few samples

    queries = dashboard_queries(json.loads(DASHBOARD.read_text()))
    empty = []
    for query in queries:
        if query.startswith("label_values("):
            if JOB not in server.api("label/job/values"):
                empty.append(query)
            continue
        result = server.query(query.replace("$job", JOB).replace("$__rate_interval", "1m"))
        if not result:
            empty.append(query)
    assert [] == empty
