"""Every pytest-xdist worker must collect the same tests, or the whole run stops at collection ("Different tests
were collected between gw0 and gw1"). Each worker has its own stack slot (tests/conftest.py), so a test id built from
a slot's value (an address, a port) differs between workers: a fresh-clone run on 649ddf1 stopped so, at a template
parameter holding manager-1's URL. Collected here under two slots, the ids must be the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def collected(slot: int) -> list[str]:
    """The test ids pytest collects from the whole suite as the worker on stack slot `slot` would."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("NEON_CM_STACK_SLOT", "PYTEST_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        env={**env, "NEON_CM_STACK_SLOT": str(slot)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_every_worker_collects_the_same_tests() -> None:
    first, second = collected(1), collected(2)

    assert len(first) > 1000
    assert [] == sorted(set(first) ^ set(second))
