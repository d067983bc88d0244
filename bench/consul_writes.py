"""Consul writes of the definition: none while nothing changes, one per burst of label changes."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import consul

from bench.common import Row, Section
from bench.lab import PUBLISHED, Lab
from neon_cm.keys import DEFINITION_KEY, DEFINITION_PREFIX, HASH_KEY

NODE = "worker-1"
LABEL = "bench.burst"
POLL_SECONDS = 5.0
BURST_CHANGES = 10
#: The burst's changes start this far apart, so the ten of them span just under one second.
BURST_SPACING = 0.09


class WriteWatch:
    """Counts changes of the definition keys' ModifyIndex, with Consul blocking queries in a thread."""

    def __init__(self, kv: consul.Consul) -> None:
        self.kv = kv
        self.writes: list[float] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        index, items = kv.kv.get(DEFINITION_PREFIX, recurse=True)
        self.index, self.seen = int(index), self.modify_indexes(items)
        self.thread = threading.Thread(target=self.watch, name="write-watch", daemon=True)
        self.thread.start()

    @staticmethod
    def modify_indexes(items: list[dict[str, Any]] | None) -> tuple[int, int]:
        by_key = {item["Key"]: item["ModifyIndex"] for item in items or []}
        return by_key.get(DEFINITION_KEY, 0), by_key.get(HASH_KEY, 0)

    def watch(self) -> None:
        while not self.stopping.is_set():
            index, items = self.kv.kv.get(DEFINITION_PREFIX, recurse=True, index=self.index, wait="1s")
            seen = self.modify_indexes(items)
            if seen != self.seen:
                with self.lock:
                    self.writes.append(time.monotonic())
            self.index, self.seen = int(index), seen

    def count(self, since: float) -> int:
        """Writes seen since the monotonic time `since`."""
        with self.lock:
            return sum(1 for at in self.writes if at >= since)

    def last(self) -> float:
        with self.lock:
            return self.writes[-1] if self.writes else 0.0

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def burst(held: Lab, watch: WriteWatch, number: int) -> dict[str, Any]:
    """Ten label changes within one second; count the writes until the definition has the last one and
    a whole poll interval has passed with no further write."""
    started = time.monotonic()
    value = ""
    for j in range(BURST_CHANGES):
        time.sleep(max(0.0, started + j * BURST_SPACING - time.monotonic()))
        value = f"{number}-{j}"
        held.label(NODE, LABEL, value)
    span = time.monotonic() - started
    while held.custom_label(NODE, LABEL) != value:
        if time.monotonic() - started > 3 * POLL_SECONDS:
            raise TimeoutError(f"the definition did not get {LABEL}={value} within {3 * POLL_SECONDS:g}s")
        time.sleep(0.05)
    final_at = time.monotonic() - started
    while time.monotonic() - max(watch.last(), started) < POLL_SECONDS + 1:
        time.sleep(0.2)
    return {"burst_seconds": span, "final_definition_after_seconds": final_at, "writes": watch.count(started)}


def measure(held: Lab, quiet_seconds: float, bursts: int) -> Section:
    """`quiet_seconds` with no change, then `bursts` bursts; the service at its defaults but node_poll_seconds=5."""
    service = held.start_published(node_poll_seconds=f"{POLL_SECONDS:g}")
    watch = WriteWatch(held.kv)
    try:
        published, since = len(service.lines(PUBLISHED)), time.monotonic()
        time.sleep(quiet_seconds)
        quiet = {
            "seconds": quiet_seconds,
            "writes": watch.count(since),
            "published_lines": len(service.lines(PUBLISHED)) - published,
        }
        rng = random.Random(4711)
        runs = []
        for number in range(bursts):
            time.sleep(rng.uniform(0, POLL_SECONDS))  # a random point of the poll cycle
            published = len(service.lines(PUBLISHED))
            run = burst(held, watch, number)
            run["published_lines"] = len(service.lines(PUBLISHED)) - published
            runs.append(run)
    finally:
        watch.stop()
    stopped = held.stop(service)
    most = max(max(run["writes"], run["published_lines"]) for run in runs)
    idle = max(quiet["writes"], quiet["published_lines"])
    per_burst = ", ".join(str(run["writes"]) for run in runs)
    return Section(
        "writes",
        {"node_poll_seconds": POLL_SECONDS, "no_change": quiet, "bursts": runs, "service": stopped},
        (
            Row(
                f"Consul writes in {quiet_seconds:g} s with no change (poll {POLL_SECONDS:g} s)",
                str(idle),
                "0",
                idle == 0,
            ),
            Row(
                f"Consul writes per burst of {BURST_CHANGES} label changes in 1 s ({len(runs)} bursts)",
                per_burst,
                "at most 2",
                most <= 2,
            ),
        ),
    )
