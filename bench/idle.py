"""The service's resource use while idle, and its time from process start to the first publish."""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import attrs

from bench.common import Row, Section
from bench.lab import PUBLISHED, Lab

TARGET_CPU_PERCENT = 1.0
TARGET_RSS_MB = 80.0
#: The stack's Vaults listen on the managers' loopback addresses, not on the default template's names.
STACK_VAULT_URLS = {"vault_url_template": "http://{addr}:8200"}
VAULTS_UNSEALED = r"Vault on manager-\d .* is unsealed"
STARTING = r"neon-cluster-manager \S+ starting"


@attrs.frozen
class ProcessSample:
    """What /proc says about one process at one moment."""

    cpu_seconds: float
    """User plus system CPU time so far (/proc/<pid>/stat utime + stime)."""
    rss_mb: float
    """Resident set size (/proc/<pid>/status VmRSS), in MB (10^6 bytes)."""
    threads: int
    """Threads (/proc/<pid>/status Threads)."""

    @classmethod
    def of(cls, pid: int) -> ProcessSample:
        with open(f"/proc/{pid}/stat") as stat:
            # Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
            fields = stat.read().rsplit(")", 1)[1].split()
        status: dict[str, str] = {}
        with open(f"/proc/{pid}/status") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                status[key] = value.strip()
        return cls(
            cpu_seconds=(int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
            rss_mb=int(status["VmRSS"].split()[0]) * 1024 / 1e6,
            threads=int(status["Threads"]),
        )


def idle(held: Lab, seconds: float) -> Section:
    """Start the service at default intervals with three Vaults and credentials; once it has published
    and seen every Vault unsealed, sample its process every second for `seconds`."""
    held.settings(**STACK_VAULT_URLS)
    held.seed_base()
    service = held.start(credentials=True)
    service.wait_for(PUBLISHED, timeout=60)
    service.wait_for(VAULTS_UNSEALED, count=len(held.state["vault"]["nodes"]), timeout=60)
    time.sleep(2)  # let start-up work (imports, first requests) finish before measuring
    pid = service.process.pid
    lines = service.mark()
    first = ProcessSample.of(pid)
    started = time.monotonic()
    samples = [first]
    while time.monotonic() - started < seconds:
        time.sleep(1)
        samples.append(ProcessSample.of(pid))
    elapsed = time.monotonic() - started
    last = samples[-1]
    cpu_percent = 100 * (last.cpu_seconds - first.cpu_seconds) / elapsed
    rss = max(sample.rss_mb for sample in samples)
    logged = len(service.lines()) - lines
    stopped = held.stop(service)
    return Section(
        "idle",
        {
            "seconds": elapsed,
            "settings": {"node_poll_seconds": "default (30)", "vault_poll_seconds": "default (30)", **STACK_VAULT_URLS},
            "cpu_percent": cpu_percent,
            "rss_mb": {"start": first.rss_mb, "end": last.rss_mb, "max": rss},
            "threads": {"start": first.threads, "end": last.threads, "max": max(s.threads for s in samples)},
            "log_lines": logged,
            "service": stopped,
        },
        (
            Row(
                f"idle CPU over {elapsed:.0f} s (3 managers, 2 workers, 3 Vaults)",
                f"{cpu_percent:.2f} %",
                f"< {TARGET_CPU_PERCENT:g} %",
                cpu_percent < TARGET_CPU_PERCENT,
            ),
            Row("idle RSS, max", f"{rss:.1f} MB", f"< {TARGET_RSS_MB:g} MB", rss < TARGET_RSS_MB),
            Row("idle threads", f"{last.threads}"),
        ),
    )


def startup(held: Lab, runs: int) -> Section:
    """Process start to the first "published the cluster definition" line, the hash key deleted before each run."""
    held.settings(**STACK_VAULT_URLS)
    to_first_line: list[float] = []
    to_publish: list[float] = []
    stops: list[dict[str, Any]] = []
    for _ in range(runs):
        held.seed_base()
        started = time.monotonic()
        service = held.start(credentials=True)
        service.wait_for(STARTING, timeout=60)
        to_first_line.append(time.monotonic() - started)
        service.wait_for(PUBLISHED, timeout=60)
        to_publish.append(time.monotonic() - started)
        stops.append(held.stop(service))
    publish = statistics.median(to_publish)
    return Section(
        "startup",
        {
            "runs": runs,
            "to_starting_line_seconds": to_first_line,
            "to_first_publish_seconds": to_publish,
            "median_to_first_publish": publish,
            "median_to_starting_line": statistics.median(to_first_line),
            "sigterm_to_exit_seconds": [stop["stop_seconds"] for stop in stops],
            "exit_codes": [stop["exit_code"] for stop in stops],
        },
        (
            Row(f"process start to first publish, median of {runs}", f"{publish:.2f} s"),
            Row("  of which: process start to its first log line", f"{statistics.median(to_first_line):.2f} s"),
            Row(
                "SIGTERM to exit, max",
                f"{max(stop['stop_seconds'] for stop in stops):.2f} s",
                "< 5 s",
                max(stop["stop_seconds"] for stop in stops) < 5,
            ),
        ),
    )
