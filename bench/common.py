"""What the benchmarks share: the real stack, a running service, and printing/saving figures."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import consul

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import stack  # noqa: E402 -- scripts/ is not a package; the path is set just above

__all__ = ["consul_client", "percentile", "save", "service_env", "stack", "summary"]

RESULTS = ROOT / "bench" / "results"


def consul_client(state: dict[str, Any]) -> consul.Consul:
    host, port = state["consul"]["http_addr"].rsplit(":", 1)
    return consul.Consul(host=host, port=int(port))


def service_env(state: dict[str, Any], **overrides: str) -> dict[str, str]:
    """The service's environment against the stack's Consul and manager-1."""
    return {
        "CONSUL_HTTP_ADDR": state["consul"]["http_addr"],
        "DOCKER_HOST": state["nodes"][0]["docker_host"],
        "LOG_LEVEL": "INFO",
        **overrides,
    }


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def save(name: str, figures: dict[str, Any]) -> Path:
    """Write the figures to bench/results/<name>.json and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path
