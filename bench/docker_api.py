"""What the Docker API version negotiation costs: a node listing through the service's Docker gateway, the first one
(which negotiates: `GET /_ping`, then the listing) against the ones after it (the version already known), on
manager-1's dockerd 20.10 and on the same daemon presented as an Engine 29 (teststack/engine29.py); and a listing
after the daemon changed under the gateway (a 400 `too old`, a new negotiation, the listing again)."""

from __future__ import annotations

import time

import teststack
from bench.common import Row, Section, summary
from bench.lab import Lab
from gateways.docker import DockerGateway
from messages.docker import NodesListed


def _timed(gateway: DockerGateway) -> tuple[float, str]:
    started = time.perf_counter()
    outcome = gateway.nodes()
    elapsed = time.perf_counter() - started
    assert isinstance(outcome, NodesListed), outcome
    return elapsed, outcome.api_version


def measure(held: Lab, runs: int = 20) -> Section:
    direct = held.state["nodes"][0]["docker_host"]
    front = teststack.engine29_start(held.state["nodes"][0]["hostname"])
    figures: dict[str, object] = {}
    rows: list[Row] = []
    try:
        for name, host in (("20.10", direct), ("29 (front)", front)):
            first, later, version = [], [], ""
            for _ in range(runs):
                gateway = DockerGateway(host)
                elapsed, version = _timed(gateway)
                first.append(elapsed)
                later.append(_timed(gateway)[0])
            figures[name] = {"api": version, "first": summary(first), "later": summary(later)}
            rows.append(
                Row(
                    f"node listing on Engine {name}, first (negotiates API {version}), p50",
                    f"{summary(first)['p50'] * 1000:.1f} ms",
                )
            )
            rows.append(
                Row(f"node listing on Engine {name}, version known, p50", f"{summary(later)['p50'] * 1000:.1f} ms")
            )
        swapped = []
        for _ in range(runs):
            gateway = DockerGateway(direct)
            _timed(gateway)  # 1.41 known
            gateway.host = front  # the daemon changed under it: 1.41 refused, negotiated again
            swapped.append(_timed(gateway)[0])
        figures["swapped"] = summary(swapped)
        rows.append(
            Row(
                "node listing right after 20.10 became Engine 29 (400, negotiation, listing), p50",
                f"{summary(swapped)['p50'] * 1000:.1f} ms",
            )
        )
    finally:
        teststack.engine29_stop(held.state["nodes"][0]["hostname"])
    return Section("docker", figures, tuple(rows))
