"""Takeover: a standby becoming the active instance after the active one is SIGKILLed, and after a SIGTERM."""

from __future__ import annotations

import datetime
import random
import re
import signal
import time
from typing import Any

from bench.common import Row, Section, summary
from bench.lab import Lab
from tests.service import Service

ACTIVE = r"\[INFO\] \[module:leadership\] this instance \(.*\) is active"
STANDING_BY = r"standing by: .* is the active instance"
TARGET_SIGKILL_SECONDS = 5.0
TARGET_SIGTERM_SECONDS = 1.0
STAMP = re.compile(r"^\[([^]]+)\]")


def logged_at(line: str) -> float:
    """The UNIX time of a log line's timestamp (milliseconds)."""
    match = STAMP.match(line)
    if match is None:
        raise ValueError(f"no timestamp in {line!r}")
    return datetime.datetime.fromisoformat(match.group(1)).timestamp()


def hand_over(held: Lab, active: Service, how: int, rng: random.Random) -> tuple[Service, float]:
    """Start a standby, signal the active instance at a random point of its check cycle, and return the
    standby and the seconds from the signal to the standby's "is active" line (both clocks: this machine's)."""
    standby = held.start()
    standby.wait_for(STANDING_BY, timeout=60)
    time.sleep(rng.uniform(0.5, 1.5))
    signalled = time.time()
    active.process.send_signal(how)
    line = standby.wait_for(ACTIVE, timeout=60)[-1]
    held.stop(active)
    return standby, logged_at(line) - signalled


def measure(held: Lab, kills: int) -> Section:
    """`kills` SIGKILLs of the active instance, then as many SIGTERMs, each with a fresh standby waiting."""
    held.settings()
    held.seed_base()
    rng = random.Random(11)
    active = held.start()
    active.wait_for(ACTIVE, timeout=60)
    after: dict[str, list[float]] = {"SIGKILL": [], "SIGTERM": []}
    for name, how in (("SIGKILL", signal.SIGKILL), ("SIGTERM", signal.SIGTERM)):
        for _ in range(kills):
            active, seconds = hand_over(held, active, how, rng)
            after[name].append(seconds)
    held.stop(active)
    figures: dict[str, Any] = {name: {**summary(values), "all_seconds": values} for name, values in after.items()}
    rows = []
    for name, target in (("SIGKILL", TARGET_SIGKILL_SECONDS), ("SIGTERM", TARGET_SIGTERM_SECONDS)):
        worst = figures[name]["max"]
        rows.append(
            Row(
                f"{name} of the active instance to a standby active, p50 / max of {kills}",
                f"{figures[name]['p50']:.2f} / {worst:.2f} s",
                f"<= {target:g} s",
                worst <= target,
            )
        )
    return Section("takeover", figures, tuple(rows))
