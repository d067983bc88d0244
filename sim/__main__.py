"""`python -m sim --seed N` replays one seed and prints its trace; `python -m sim --seeds N` sweeps seeds 0..N-1 and
prints the coverage table (it fails if an item was never reached); `--mutant NAME` sweeps with one member of the
mutation set applied; `--mutants` runs every member until its first failing seed and prints the mutation table.

The world is sim/cluster.py's: the real service (sim/service.py) on the simulated servers and transports. `--model`
runs the old world instead (sim/world.py: the deciders in the sim's own shells), until the new one covers it all."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator

import attrs

from sim import cluster, coverage
from sim.mutations import BY_NAME, MUTANTS, Mutant
from sim.world import FAULTS_END, KIND_NAMES, Result, World


def parse_old(text: str) -> frozenset[int]:
    """`1,3,5` (or `all`): the defects of issue 17 whose old behaviour runs."""
    if text == "all":
        return frozenset({1, 2, 3, 4, 5, 7, 11})
    return frozenset(int(part) for part in text.split(",") if part)


@attrs.define
class Sweep:
    """What a sweep found: failing seeds by invariant, coverage, swarm counts, liveness times."""

    ran: int = 0
    failed: int = 0
    by_invariant: dict[str, list[int]] = attrs.field(factory=dict)
    reached: Counter[str] = attrs.field(factory=Counter)
    kinds_on: Counter[str] = attrs.field(factory=Counter)
    converged: list[float] = attrs.field(factory=list)
    slowest: tuple[float, int] = (0.0, -1)
    """Liveness mode: the longest time to converge and its seed."""
    first: Result | None = None

    def add(self, result: Result) -> None:
        self.ran += 1
        self.reached.update(result.reached)
        self.kinds_on.update(result.kinds_on)
        if result.converged_after is not None:
            self.converged.append(result.converged_after)
            self.slowest = max(self.slowest, (result.converged_after, result.seed))
        if not result.ok:
            self.failed += 1
            self.by_invariant.setdefault(result.invariant, []).append(result.seed)
            if self.first is None:
                self.first = result


def results(first: int, count: int, old: frozenset[int], steps: int, swarm: bool, liveness: bool) -> Iterator[Result]:
    for seed in range(first, first + count):
        yield World(seed, old, steps, swarm=swarm, liveness=liveness).run()


def sweep(args: argparse.Namespace, old: frozenset[int], quiet: bool = False) -> Sweep:
    found = Sweep()
    for result in results(args.first, args.seeds, old, args.steps, not args.no_swarm, args.liveness):
        found.add(result)
        if not result.ok:
            if not quiet:
                print(result.report(args.steps), flush=True)
            if not args.keep_going:
                break
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_mutant(mutant: Mutant, first: int, cap: int) -> tuple[Result | None, int, float]:
    """Sweep seeds first.. with `mutant` applied until one fails (at most `cap`): (that result, seeds run, seconds)."""
    started = time.monotonic()
    ran = 0
    with mutant.applied(model=True):
        for seed in range(first, first + cap):
            result = World(seed, mutant.old, 40).run()
            ran += 1
            if not result.ok:
                return result, ran, time.monotonic() - started
    return None, ran, time.monotonic() - started


def mutation_row(mutant: Mutant, result: Result | None, ran: int, seconds: float) -> str:
    if result is not None:
        caught, invariant, seed = "yes", result.invariant, str(result.seed)
    else:
        caught, invariant, seed = "no", "", "-"
    why = "" if result is not None or not mutant.unseen else f" ({mutant.unseen})"
    if result is None and not ran:
        caught = "no: not run"
    return f"| {mutant.name} | {caught} | {invariant}{why} | {seed} | {ran} | {seconds:.1f} |"


MUTATION_HEADER = "\n".join(
    (
        "| mutant | caught | invariant that caught it | first failing seed | seeds run | seconds |",
        "|---|---|---|---|---|---|",
    )
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="replay one seed and print its trace")
    group.add_argument("--seeds", type=int, help="run seeds 0..N-1 (from --first)")
    group.add_argument("--mutants", action="store_true", help="run every member of the mutation set (sim/mutations.py)")
    group.add_argument("--list-mutants", action="store_true", help="list the mutation set")
    parser.add_argument("--first", type=int, default=0, help="the first seed of a sweep")
    parser.add_argument("--old", type=parse_old, default=frozenset(), help="run old behaviours: 1,2,3,4,5,7,11 or all")
    parser.add_argument("--mutant", choices=sorted(BY_NAME), help="apply one member of the mutation set")
    parser.add_argument("--seeds-per", type=int, default=300, help="with --mutants: at most this many seeds each")
    parser.add_argument("--all", action="store_true", help="with --mutants: also sweep the members the sim cannot see")
    parser.add_argument("--no-swarm", action="store_true", help="every fault kind on in every seed")
    parser.add_argument("--liveness", action="store_true", help="faults stop, the service must converge in a bound")
    parser.add_argument("--no-sometimes", action="store_true", help="a sweep does not fail on an item not reached")
    parser.add_argument("--steps", type=int, default=40, help="steps shown in a failing seed's trace")
    parser.add_argument("--grep", default="", help="with --seed: show every step (not only the last) containing this")
    parser.add_argument("--keep-going", action="store_true", help="a sweep reports every failing seed, not the first")
    parser.add_argument("--model", action="store_true", help="the old world (sim/world.py), not the real service")
    args = parser.parse_args(argv)
    if not args.model and not args.list_mutants:
        return main_cluster(args)
    mutant = BY_NAME[args.mutant] if args.mutant else None
    old = args.old | (mutant.old if mutant else frozenset())
    if args.list_mutants:
        for member in MUTANTS:
            print(
                f"{member.name:<30} {member.origin}: {member.what}" + (f" [{member.unseen}]" if member.unseen else "")
            )
        return 0
    if args.mutants:
        started = time.monotonic()
        print(MUTATION_HEADER, flush=True)
        for member in MUTANTS:
            if member.unseen.startswith("not run") and not args.all:
                print(mutation_row(member, None, 0, 0.0), flush=True)
                continue
            print(mutation_row(member, *run_mutant(member, args.first, args.seeds_per)), flush=True)
        print(f"{len(MUTANTS)} mutants, {time.monotonic() - started:.1f} s")
        return 0
    if args.seed is not None:
        world = World(
            args.seed, old, 10**7 if args.grep else args.steps, swarm=not args.no_swarm, liveness=args.liveness
        )
        if mutant is not None:
            with mutant.applied(model=True):
                result = world.run()
        else:
            result = world.run()
        if args.grep:
            print("\n".join(line for line in result.trace if args.grep in line))
        print(result.report(args.steps))
        print(f"  fault kinds on: {', '.join(sorted(result.kinds_on))}")
        if result.converged_after is not None:
            print(f"  converged {result.converged_after:.1f} s after the faults stopped")
        return 0 if result.ok else 1
    started = time.monotonic()
    if mutant is not None:
        with mutant.applied(model=True):
            found = sweep(args, old)
    else:
        found = sweep(args, old)
    for invariant, seeds in sorted(found.by_invariant.items(), key=lambda item: -len(item[1])):
        shown = " ".join(str(seed) for seed in seeds[:10]) + (" ..." if len(seeds) > 10 else "")
        print(f"  {len(seeds):6d} broke {invariant}: seeds {shown}")
    status = 1 if found.failed else 0
    if mutant is None and not found.failed:
        print(coverage.table(found.reached, found.ran, KIND_NAMES, found.kinds_on))
        missing = coverage.missing(found.reached, KIND_NAMES)
        if missing and not args.no_sometimes:
            print(f"  never reached ({len(missing)}): {'; '.join(missing)}")
            status = 1
    if found.converged:
        times = found.converged
        print(
            f"liveness: converged {statistics.median(times):.1f} s (p50), {percentile(times, 0.99):.1f} s (p99), "
            f"{max(times):.1f} s (max, seed {found.slowest[1]}) after the faults stopped at {FAULTS_END:g} s; "
            f"{sum(1 for t in times if t > 0)} of {len(times)} seeds were not converged at once"
        )
    print(f"{found.ran} seeds, {found.failed} failed, {time.monotonic() - started:.1f} s")
    return status


def run_cluster_mutant(mutant: Mutant, first: int, cap: int) -> tuple[cluster.Result | None, int, float]:
    """run_mutant in the cluster world."""
    started = time.monotonic()
    ran = 0
    with mutant.applied():
        for seed in range(first, first + cap):
            result = cluster.run_seed(seed)
            ran += 1
            if not result.ok:
                return result, ran, time.monotonic() - started
    return None, ran, time.monotonic() - started


def main_cluster(args: argparse.Namespace) -> int:
    """The commands on the cluster world (sim/cluster.py)."""
    mutant = BY_NAME[args.mutant] if args.mutant else None
    olds = [BY_NAME[f"old-{number}"] for number in sorted(args.old)]
    if olds and mutant is not None:
        print("--old N is the member old-N here: give one of --old and --mutant")
        return 2
    if len(olds) > 1:
        print("--old: one old behaviour at a time in this world (the member old-N's patches)")
        return 2
    mutant = olds[0] if olds else mutant
    if args.mutants:
        started = time.monotonic()
        print(MUTATION_HEADER, flush=True)
        for member in MUTANTS:
            if member.cluster_unseen and not args.all:
                print(f"| {member.name} | no: not run ({member.cluster_unseen}) | | - | 0 | 0.0 |", flush=True)
                continue
            result, ran, seconds = run_cluster_mutant(member, args.first, args.seeds_per)
            caught = "yes" if result is not None else "no"
            invariant = result.invariant if result is not None else ""
            first = str(result.seed) if result is not None else "-"
            print(f"| {member.name} | {caught} | {invariant} | {first} | {ran} | {seconds:.1f} |", flush=True)
        print(f"{len(MUTANTS)} mutants, {time.monotonic() - started:.1f} s")
        return 0
    if args.seed is not None:
        world = cluster.Cluster(args.seed, not args.no_swarm, trace_lines=10**7, liveness=args.liveness)
        if mutant is not None:
            with mutant.applied():
                result = world.run()
        else:
            result = world.run()
        shown = [line for line in result.trace if args.grep in line] if args.grep else list(result.trace)
        if result.ok or args.grep:
            print("\n".join(shown))
        print(result.report(args.steps))
        print(f"  fault kinds on: {', '.join(sorted(result.kinds_on))}")
        print(f"  trace hash {result.trace_hash}")
        if result.converged_after is not None:
            print(f"  converged {result.converged_after:.1f} s after the faults stopped")
        return 0 if result.ok else 1
    started = time.monotonic()
    cpu = time.process_time()
    ran = failed = 0
    by_invariant: dict[str, list[int]] = {}
    reached: Counter[str] = Counter()
    kinds_on: Counter[str] = Counter()
    converged: list[tuple[float, int]] = []
    with mutant.applied() if mutant is not None else _nothing():
        for seed in range(args.first, args.first + args.seeds):
            result = cluster.run_seed(seed, not args.no_swarm, args.liveness)
            ran += 1
            if result.converged_after is not None:
                converged.append((result.converged_after, seed))
            reached.update(result.reached)
            kinds_on.update(result.kinds_on)
            if not result.ok:
                failed += 1
                by_invariant.setdefault(result.invariant, []).append(result.seed)
                print(result.report(args.steps), flush=True)
                if not args.keep_going:
                    break
    for invariant, seeds in sorted(by_invariant.items(), key=lambda item: -len(item[1])):
        listed = " ".join(str(seed) for seed in seeds[:10]) + (" ..." if len(seeds) > 10 else "")
        print(f"  {len(seeds):6d} broke {invariant}: seeds {listed}")
    status = 1 if failed else 0
    if mutant is None and not failed:
        table, missing = cluster.coverage_table(reached, ran, kinds_on)
        print(table)
        if missing and not args.no_sometimes:
            print(f"  never reached ({len(missing)}): {'; '.join(missing)}")
            status = 1
    if converged:
        times = [after for after, _ in converged]
        print(
            f"liveness: converged {statistics.median(times):.1f} s (p50), {percentile(times, 0.99):.1f} s (p99), "
            f"{max(converged)[0]:.1f} s (max, seed {max(converged)[1]}) after the faults stopped at "
            f"{cluster.FAULTS_END:g} s; {sum(1 for t in times if t > 0)} of {len(times)} seeds were not converged "
            "at once"
        )
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    print(f"{ran} seeds, {failed} failed, {seconds:.1f} s ({cpu / max(ran, 1):.2f} s of CPU a seed)")
    return status


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    sys.exit(main())
