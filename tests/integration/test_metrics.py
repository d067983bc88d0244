"""Prometheus metrics and the health verdict, scraped over HTTP while the real stack changes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import consul

import teststack as stack
from tests.integration.test_definition_pipeline import PUBLISHED, seed_base
from tests.prometheus_server import free_port
from tests.service import Service


def scrape(port: int) -> dict[str, float]:
    """GET /metrics as {'name{labels}': value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if match:
            samples[match.group(1)] = float(match.group(2))
    return samples


def health_command(health_file: Path) -> subprocess.CompletedProcess[str]:
    """`neon-cluster-manager health`, what the Docker HEALTHCHECK runs, reading this health file."""
    return subprocess.run(
        [sys.executable, "-m", "neon_cm.cli", "health"],
        env={**os.environ, "NEON_CM_HEALTH_FILE": str(health_file)},
        capture_output=True,
        text=True,
        check=False,
    )


def wait_for_metric(port: int, name: str, predicate: Callable[[float], bool], timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while True:
        value = scrape(port).get(name)
        if value is not None and predicate(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} never satisfied the condition; last {value}")
        time.sleep(0.2)


def test_metrics_follow_the_stack(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    vault: dict[str, Any],
    with_keys: dict[str, str],
    labels: Callable[..., None],
    tmp_path: Path,
) -> None:
    """Polls, publishes, Vault states and unseal attempts move as the Swarm and the Vaults change; /health is ok."""
    port = free_port()
    health_file = tmp_path / "health"
    seed_base(kv)
    service = start_service(METRICS_PORT=str(port), NEON_CM_HEALTH_FILE=str(health_file), **with_keys)
    service.wait_for(PUBLISHED)

    assert 1 == wait_for_metric(port, "neon_cm_definition_publishes_total", lambda v: v >= 1)
    assert 5 == scrape(port)["neon_cm_swarm_nodes"]
    wait_for_metric(port, 'neon_cm_vault_state{node="manager-2",state="unsealed"}', lambda v: v == 1)

    labels("worker-1", "metrics.test", "1")
    assert 2 == wait_for_metric(port, "neon_cm_definition_publishes_total", lambda v: v >= 2)
    restarted = time.time()
    stack.vault_restart(1)
    wait_for_metric(port, 'neon_cm_vault_unseal_attempts_total{node="manager-2"}', lambda v: v >= 1)
    wait_for_metric(port, 'neon_cm_vault_state{node="manager-2",state="unsealed"}', lambda v: v == 1)
    samples = scrape(port)
    assert 0 == samples['neon_cm_vault_unseal_failures_total{node="manager-2"}']
    assert samples["neon_cm_node_listings_total"] >= 2
    assert samples["neon_cm_definition_compressed_bytes"] > 0
    assert samples["neon_cm_definition_last_publish_timestamp_seconds"] > time.time() - 60
    assert 0.5 == samples["neon_cm_vault_poll_interval_seconds"]
    assert samples['neon_cm_vault_state_last_change_timestamp_seconds{node="manager-2"}'] > restarted

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
        assert (200, True) == (response.status, json.loads(response.read())["ok"])
    wait_for_metric(port, "neon_cm_healthy", lambda v: v == 1)
    assert json.loads(health_file.read_text())["ok"]
    health = health_command(health_file)
    assert (0, "healthy\n") == (health.returncode, health.stdout)


#: The service's actors with credentials and node events on (README's supervision tree), and one monitor per manager.
TREE = (
    "metrics",
    "leadership",
    "settings",
    "vault",
    "unsealer",
    "vault-fleet",
    "definition",
    "swarm-watcher",
    "node-events",
    "definition-publisher",
    "vault-monitor:manager-1",
    "vault-monitor:manager-2",
    "vault-monitor:manager-3",
)


def test_counters_of_what_never_happened_are_there_at_zero(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    vault: dict[str, Any],
    with_keys: dict[str, str],
) -> None:
    """Issue 19: right after start, with nothing crashed and every Vault unsealed, a scrape has a restart series
    at 0 for every actor of the tree and unseal counters at 0 for every manager: a dashboard shows 0, not
    "No data"."""
    port = free_port()
    seed_base(kv)
    service = start_service(METRICS_PORT=str(port), **with_keys)
    service.wait_for(PUBLISHED)
    wait_for_metric(port, 'neon_cm_actor_restarts_total{actor="vault-monitor:manager-3"}', lambda v: True)
    samples = scrape(port)

    restarts = {name: samples.get(f'neon_cm_actor_restarts_total{{actor="{name}"}}') for name in TREE}
    assert {name: 0.0 for name in TREE} == restarts
    for manager in ("manager-1", "manager-2", "manager-3"):
        assert 0 == samples[f'neon_cm_vault_unseal_attempts_total{{node="{manager}"}}']
        assert 0 == samples[f'neon_cm_vault_unseal_failures_total{{node="{manager}"}}']


def test_unhealthy_when_docker_cannot_be_listed(
    kv: consul.Consul, start_service: Callable[..., Service], tmp_path: Path
) -> None:
    """No listing succeeds for three poll intervals: /health answers 503 with the reason, and an ERROR says so."""
    port = free_port()
    kv.kv.put("neon/services/neon-cluster-manager/node_poll_seconds", "1")
    service = start_service(
        METRICS_PORT=str(port), DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock", NEON_CM_HEALTH_FILE=str(tmp_path / "h")
    )

    service.wait_for(r"\[ERROR\] \[module:metrics\] unhealthy: no successful node listing", timeout=30)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
        raise AssertionError("/health answered 200")
    except urllib.error.HTTPError as error:
        assert 503 == error.code
        assert "no successful node listing" in json.loads(error.read())["reasons"][0]
    health = health_command(tmp_path / "h")
    assert 1 == health.returncode
    assert health.stderr.startswith("neon-cluster-manager: error: unhealthy: no successful node listing")
