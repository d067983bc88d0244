"""Waiting in tests: for a condition to hold, or for a running service to show it saw something (a positive sign
before a test says that nothing else happened)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from typing import TypeVar

import consul

from neon_cm.keys import SETTINGS_PREFIX
from tests.service import Service

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None],
    timeout: float = 10.0,
    what: str = "the condition",
    detail: Callable[[], object] = lambda: "",
    interval: float = 0.02,
) -> T:
    """Call `condition` every `interval` seconds until it returns something truthy, and return that; fail naming
    `what` (and what `detail` returns then) after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}\n{detail()}".rstrip())
        time.sleep(interval)


def vault_poll_line(node: int) -> str:
    """manager-<node>'s Vault monitor's DEBUG line, written at each poll of its Vault."""
    return rf"\[DEBUG\] \[module:vault-monitor:manager-{node}\] "


def wait_for_polls(service: Service, mark: int, count: int = 3, nodes: tuple[int, ...] = (1, 2, 3)) -> None:
    """Wait until every manager's monitor has polled `count` times after `mark`: the positive sign that the
    service went on working, before a test says nothing else happened meanwhile."""
    for node in nodes:
        service.wait_for(vault_poll_line(node), count=count, after=mark)


def scrape(port: int) -> dict[str, float]:
    """GET /metrics of a service started with METRICS_PORT=`port`, as {'name{labels}': value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if match:
            samples[match.group(1)] = float(match.group(2))
    return samples


def wait_for_metric(port: int, name: str, predicate: Callable[[float], bool], timeout: float = 30) -> float:
    """Wait until the metric `name` (with its labels, as scrape() keys it) is there and satisfies `predicate`;
    return its value."""
    values: list[float | None] = [None]

    def holds() -> bool:
        try:
            values[0] = scrape(port).get(name)
        except OSError:  # not serving yet: the service has only just started
            return False
        return values[0] is not None and predicate(values[0])

    wait_until(holds, timeout, f"{name} to satisfy the condition", lambda: f"last {values[0]}", interval=0.2)
    assert values[0] is not None
    return values[0]


def settings_seen(kv: consul.Consul, service: Service, name: str, value: str) -> None:
    """Store a valid `value` for setting `name` (other than its current one) and wait for the service's settings
    line with it: the settings watch has then handled every change stored before (Consul answers a watch with
    all the writes up to its index, and the watcher handles them in order)."""
    mark = service.mark()
    kv.kv.put(SETTINGS_PREFIX + name, value)
    service.wait_for(rf"\[INFO\] \[module:settings\] settings: (.* )?{name}={re.escape(value)}( |$)", after=mark)
