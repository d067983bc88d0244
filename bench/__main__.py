"""`python -m bench`: every benchmark against the real stack, printed as one table and saved to bench/results/.

Sub-benchmarks: labels (label change to new hash, node events on and off), writes (Consul writes
with no change and per burst), encode (definition build + encode + hash against a stdlib floor),
vault (sealed to unsealed), idle (CPU, RSS and threads at default intervals), startup (process
start to first publish), takeover (a standby taking over after SIGKILL and SIGTERM of the active
instance), handover (the active instance's Docker hung to a label in Consul through the standby; a takeover to a
Vault known sealed unsealed at vault_poll_seconds 30), docker (what the Docker API version negotiation costs a node
listing). `--only encode,labels` runs some; `--quick` is a short smoke run, saved to bench-quick.json so it never
overwrites the full figures.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import attrs

import teststack
from bench import consul_writes, docker_api, encode, handover, idle, label_latency, takeover, vault_unseal
from bench.common import RESULTS, Row, Section, machine, save, utc_now
from bench.lab import Lab, lab


def benchmarks(quick: bool) -> tuple[dict[str, Callable[[], Section]], dict[str, Callable[[Lab], Section]]]:
    """Every sub-benchmark, in the order they run: first those without the stack, then those on it."""
    local: dict[str, Callable[[], Section]] = {
        "encode": lambda: encode.measure(repeats=3, sizes=(100, 1_000)) if quick else encode.measure(repeats=7),
    }
    on_stack: dict[str, Callable[[Lab], Section]] = {
        "labels": lambda held: label_latency.measure(held, changes=5 if quick else 20),
        "writes": lambda held: consul_writes.measure(held, quiet_seconds=15 if quick else 60, bursts=1 if quick else 3),
        "vault": lambda held: vault_unseal.measure(held, restarts=3 if quick else 10, poll=1.0),
        "takeover": lambda held: takeover.measure(held, kills=2 if quick else 10),
        "handover": lambda held: handover.measure(held, hangs=1 if quick else 3, takeovers=2 if quick else 5),
        "idle": lambda held: idle.idle(held, seconds=15 if quick else 60),
        "startup": lambda held: idle.startup(held, runs=2 if quick else 5),
        "docker": lambda held: docker_api.measure(held, runs=5 if quick else 20),
    }
    return local, on_stack


def in_lab(benchmark: Callable[[Lab], Section], state: dict[str, Any]) -> Section:
    """Run a stack benchmark; its changes to the stack are undone afterwards, even when it fails."""
    with lab(state) as held:
        return benchmark(held)


def chosen(only: str | None, known: list[str]) -> list[str]:
    """The benchmarks named by `--only a,b` (in run order), or all of them."""
    if not only:
        return known
    names = {name.strip() for name in only.split(",") if name.strip()}
    unknown = names - set(known)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(known)}")
    return [name for name in known if name in names]


@contextlib.contextmanager
def stack_held(needed: bool) -> Iterator[dict[str, Any] | None]:
    """The stack for this run alone (teststack.exclusive), started if it was down and then stopped again."""
    if not needed:
        yield None
        return
    with teststack.exclusive():
        was_up, _ = teststack.status()
        state = teststack.up()
        try:
            yield state
        finally:
            if not was_up and os.environ.get("NEON_CM_KEEP_STACK") != "1":
                teststack.down()


def run_one(name: str, benchmark: Callable[[], Section]) -> tuple[Section, float]:
    """One sub-benchmark and how long it took; a failure becomes a FAILED row."""
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        section = benchmark()
    except Exception as error:  # noqa: BLE001 -- one broken benchmark must not cost the others' figures
        traceback.print_exc()
        section = Section(name, {"error": f"{type(error).__name__}: {error}"}, (Row(name, "FAILED", "", False),))
    elapsed = time.monotonic() - started
    print(f"bench: {name} done in {elapsed:.0f} s", file=sys.stderr, flush=True)
    return section, elapsed


def table(rows: list[Row]) -> str:
    """The rows as a plain-text table."""
    header = Row("measure", "figure", "target")
    width = [max(len(getattr(row, column)) for row in [header, *rows]) for column in ("what", "figure", "target")]
    lines = []
    for row in [header, *rows]:
        met = "" if row.met is None else ("ok" if row.met else "MISSED")
        if row is header:
            met = "met"
        cells = (row.what.ljust(width[0]), row.figure.rjust(width[1]), row.target.ljust(width[2]), met)
        lines.append("  ".join(cells).rstrip())
        if row is header:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def merged(name: str, sections: dict[str, Any]) -> dict[str, Any]:
    """The sections of an earlier bench/results/<name>.json that this run did not measure, then this run's."""
    path = RESULTS / f"{name}.json"
    try:
        earlier = json.loads(path.read_text()).get("sections", {})
    except (OSError, ValueError, AttributeError):
        earlier = {}
    return {**earlier, **sections}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run, saved to bench-quick.json")
    args = parser.parse_args(argv)
    local, on_stack = benchmarks(args.quick)
    names = chosen(args.only, [*local, *on_stack])
    started = time.monotonic()
    about = machine()
    sections: dict[str, Any] = {}
    rows: list[Row] = []
    with stack_held(any(name in on_stack for name in names)) as state:
        for name in names:
            if name in local:
                section, elapsed = run_one(name, local[name])
            else:
                assert state is not None  # stack_held holds the stack whenever a stack benchmark is chosen
                section, elapsed = run_one(name, functools.partial(in_lab, on_stack[name], state))
            rows.extend(section.rows)
            sections[name] = {
                "date": utc_now(),
                "quick": args.quick,
                "seconds": elapsed,
                "figures": section.figures,
                "table": [attrs.asdict(row) for row in section.rows],
            }
    total = time.monotonic() - started
    result_name = "bench-quick" if args.quick else "bench"
    path = save(
        result_name,
        {
            "machine": about,
            "last_run": {"benchmarks": names, "seconds": total},
            "sections": merged(result_name, sections),
        },
    )
    headline = sections.get("labels", {}).get("figures", {}).get("ratio_p50_off_on")
    print()
    if headline is not None:
        print(f"headline: label change to new hash in Consul, p50 with node events off / on = {headline:.1f}x\n")
    print(table(rows))
    print(
        f"\n{about['nproc']} x {about['cpu_model']}, Python {about['python']}, {about['date']}; "
        f"{total:.0f} s in all; figures in {path}"
    )
    return 1 if any(row.figure == "FAILED" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
