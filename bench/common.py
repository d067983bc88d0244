"""What the benchmarks share: the real stack, statistics, the machine they ran on, and saving figures."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

import attrs
import consul

ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "RESULTS",
    "ROOT",
    "Row",
    "Section",
    "consul_client",
    "machine",
    "percentile",
    "save",
    "service_env",
    "summary",
    "utc_now",
]

RESULTS = ROOT / "bench" / "results"


@attrs.frozen
class Row:
    """One line of the printed table."""

    what: str
    """What was measured, e.g. `label change to new hash, p50 (events on)`."""
    figure: str
    """The figure as printed, with its unit."""
    target: str = ""
    """The target as printed; empty when there is none."""
    met: bool | None = None
    """Whether the target was met; None when there is no target."""


@attrs.frozen
class Section:
    """What one sub-benchmark measured: the figures for the JSON file and the rows for the table."""

    name: str
    """The sub-benchmark's name, as given to `--only`."""
    figures: dict[str, Any]
    """Everything measured, in plain JSON types."""
    rows: tuple[Row, ...]
    """The table's lines."""


def consul_client(state: dict[str, Any]) -> consul.Consul:
    """A Consul client for the stack's agent."""
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
    """n, p50 (median), p95 (nearest rank), min and max of `values`."""
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def utc_now() -> str:
    """The date and time now, UTC, to the second, ISO 8601."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    """The machine and the code measured: figures mean little without them."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": utc_now(),
        "commit": _git("rev-parse", "HEAD"),
        # Others change the tree while benchmarks run: say which files differed from the commit.
        "uncommitted": _git("status", "--porcelain").splitlines(),
    }


def save(name: str, figures: dict[str, Any]) -> Path:
    """Write the figures to bench/results/<name>.json and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path
