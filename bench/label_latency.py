"""Label change to new hash in Consul: `docker node update --label-add` until the hash key changes,
with the service's node events on (the node poll at 300 s, so events alone carry the change) and off, and
changes one after another, each waited for (as an operator's script does)."""

from __future__ import annotations

import random
import time
from typing import Any

from bench.common import Row, Section, summary
from bench.lab import Lab

NODE = "worker-1"
LABEL = "bench.n"
POLL_SECONDS = 5.0
#: With events on, the poll is this long: no sample is a poll's.
EVENTS_POLL_SECONDS = 300.0
TARGET_P95_SECONDS = 0.1
#: Changes one after another, each waited for until its hash is in Consul.
TARGET_CHAINED_P95_SECONDS = 0.3
#: Isolated changes with events on come after a quiet spell, as an operator's one-off change does; a burst's
#: are counted by the writes benchmark, and changes right after each other by `chained`.
EVENTS_PAUSE_SECONDS = (1.2, 2.5)


def changes_timed(held: Lab, events: bool, changes: int, rng: random.Random) -> dict[str, Any]:
    """Time `changes` label changes from just before the docker command until the new hash is in Consul."""
    poll = EVENTS_POLL_SECONDS if events else POLL_SECONDS
    service = held.start_published(events=events, node_poll_seconds=f"{poll:g}")
    mode = "on" if events else "off"
    timings: list[float] = []
    stale = 0
    for i in range(changes):
        index, old = held.hash_item()
        # A random pause puts each change at a random point of the poll cycle; changing right after
        # a publish would always land just after a poll and measure the full interval every time.
        time.sleep(rng.uniform(*EVENTS_PAUSE_SECONDS) if events else 0.5 + rng.uniform(0, POLL_SECONDS))
        value = f"{mode}-{i}"
        started = time.monotonic()
        held.label(NODE, LABEL, value)
        held.wait_hash_change(index, old, timeout=2 * POLL_SECONDS + 10)
        timings.append(time.monotonic() - started)
        stale += held.custom_label(NODE, LABEL) != value
    return {
        "events": mode,
        "node_poll_seconds": poll,
        "seconds": summary(timings),
        "all_seconds": timings,
        "published_without_the_change": stale,
        "service": held.stop(service),
    }


def chained(held: Lab, changes: int) -> dict[str, Any]:
    """Time `changes` label changes made one right after another, each waited for until its hash is in Consul."""
    service = held.start_published(events=True, node_poll_seconds=f"{EVENTS_POLL_SECONDS:g}")
    timings: list[float] = []
    stale = 0
    time.sleep(EVENTS_PAUSE_SECONDS[0])  # the first after a quiet spell, as a script's first change is
    for i in range(changes):
        index, old = held.hash_item()
        value = f"chained-{i}"
        started = time.monotonic()
        held.label(NODE, LABEL, value)
        held.wait_hash_change(index, old, timeout=10)
        timings.append(time.monotonic() - started)
        stale += held.custom_label(NODE, LABEL) != value
    return {
        "seconds": summary(timings),
        "all_seconds": timings,
        "published_without_the_change": stale,
        "service": held.stop(service),
    }


def measure(held: Lab, changes: int) -> Section:
    """Events on (the default, node_poll_seconds=300) next to SWARM_EVENTS=off (node_poll_seconds=5)."""
    rng = random.Random(20261124)
    on = changes_timed(held, True, changes, rng)
    one_after_another = chained(held, changes)
    off = changes_timed(held, False, changes, rng)
    ratio = off["seconds"]["p50"] / on["seconds"]["p50"]
    rows = [
        Row(
            f"label change to new hash, p50/p95, events {run['events']} (poll {run['node_poll_seconds']:g} s, "
            f"n={changes})",
            f"{run['seconds']['p50']:.3f} / {run['seconds']['p95']:.3f} s",
            f"p95 <= {TARGET_P95_SECONDS:g} s" if run is on else "",
            run["seconds"]["p95"] <= TARGET_P95_SECONDS if run is on else None,
        )
        for run in (on, off)
    ]
    seconds = one_after_another["seconds"]
    rows.append(
        Row(
            f"label changes one after another, each waited for, p50/p95 (events on, n={changes})",
            f"{seconds['p50']:.3f} / {seconds['p95']:.3f} s",
            f"p95 <= {TARGET_CHAINED_P95_SECONDS:g} s",
            seconds["p95"] <= TARGET_CHAINED_P95_SECONDS,
        )
    )
    rows.append(Row("label change to new hash: p50 events off / on", f"{ratio:.1f}x"))
    stale = sum(run["published_without_the_change"] for run in (on, off, one_after_another))
    rows.append(Row("new hashes that missed the label change", str(stale), "0", stale == 0))
    return Section(
        "labels",
        {"events_on": on, "events_off": off, "one_after_another": one_after_another, "ratio_p50_off_on": ratio},
        tuple(rows),
    )
