"""Label change to new hash in Consul: `docker node update --label-add` until the hash key changes,
with the service's node events on and off."""

from __future__ import annotations

import random
import time
from typing import Any

from bench.common import Row, Section, summary
from bench.lab import Lab

NODE = "worker-1"
LABEL = "bench.n"
POLL_SECONDS = 5.0


def changes_timed(held: Lab, events: bool, changes: int, rng: random.Random) -> dict[str, Any]:
    """Time `changes` label changes from just before the docker command until the new hash is in Consul."""
    service = held.start_published(events=events, node_poll_seconds=f"{POLL_SECONDS:g}")
    mode = "on" if events else "off"
    timings: list[float] = []
    stale = 0
    for i in range(changes):
        index, old = held.hash_item()
        # A random pause puts each change at a random point of the poll cycle; changing right after
        # a publish would always land just after a poll and measure the full interval every time.
        time.sleep(0.5 + rng.uniform(0, POLL_SECONDS))
        value = f"{mode}-{i}"
        started = time.monotonic()
        held.label(NODE, LABEL, value)
        held.wait_hash_change(index, old, timeout=2 * POLL_SECONDS + 10)
        timings.append(time.monotonic() - started)
        stale += held.custom_label(NODE, LABEL) != value
    return {
        "events": mode,
        "seconds": summary(timings),
        "all_seconds": timings,
        "published_without_the_change": stale,
        "service": held.stop(service),
    }


def measure(held: Lab, changes: int) -> Section:
    """Events on (the default) next to SWARM_EVENTS=off, at node_poll_seconds=5."""
    rng = random.Random(20261124)
    on = changes_timed(held, True, changes, rng)
    off = changes_timed(held, False, changes, rng)
    ratio = off["seconds"]["p50"] / on["seconds"]["p50"]
    rows = [
        Row(
            f"label change to new hash, p50/p95, events {run['events']} (poll {POLL_SECONDS:g} s, n={changes})",
            f"{run['seconds']['p50']:.3f} / {run['seconds']['p95']:.3f} s",
        )
        for run in (on, off)
    ]
    rows.append(Row("label change to new hash: p50 events off / on", f"{ratio:.1f}x"))
    stale = on["published_without_the_change"] + off["published_without_the_change"]
    rows.append(Row("new hashes that missed the label change", str(stale), "0", stale == 0))
    return Section(
        "labels",
        {"node_poll_seconds": POLL_SECONDS, "events_on": on, "events_off": off, "ratio_p50_off_on": ratio},
        tuple(rows),
    )
