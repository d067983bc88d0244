"""`python -m sim --seed N` replays one seed and prints its trace; `python -m sim --seeds N` sweeps seeds 0..N-1 and
prints the coverage table (it fails if an item was never reached); `--mutant NAME` (or `--old N`, the member old-N)
sweeps with one member of the mutation set applied; `--mutants` runs every member until its first failing seed and
prints the mutation table.

The world is sim/cluster.py's: the real service (sim/service.py) on the simulated servers and transports."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections import Counter

from sim import cluster
from sim.mutations import BY_NAME, MUTANTS, Mutant

#: Issue 17's defects whose old behaviour is a member of the mutation set (old-N).
OLD_DEFECTS = sorted(int(name.removeprefix("old-")) for name in BY_NAME if name.startswith("old-"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_mutant(mutant: Mutant, first: int, cap: int) -> tuple[cluster.Result | None, int, float]:
    """Sweep seeds first.. with `mutant` applied until one fails (at most `cap`): (that result, seeds run, seconds)."""
    started = time.monotonic()
    ran = 0
    with mutant.applied():
        for seed in range(first, first + cap):
            result = cluster.run_seed(seed)
            ran += 1
            if not result.ok:
                return result, ran, time.monotonic() - started
    return None, ran, time.monotonic() - started


def mutation_row(mutant: Mutant, result: cluster.Result | None, ran: int, seconds: float) -> str:
    """A row of the mutation table; a member not run (it says why it is not caught) is never counted as caught."""
    if result is not None:
        caught, invariant, seed = "yes", result.invariant, str(result.seed)
    else:
        caught, invariant, seed = "no", "", "-"
    if result is None and not ran:
        caught = f"no: not run ({mutant.unseen})" if mutant.unseen else "no: not run"
    return f"| {mutant.name} | {caught} | {invariant} | {seed} | {ran} | {seconds:.1f} |"


MUTATION_HEADER = "\n".join(
    (
        "| mutant | caught | invariant that caught it | first failing seed | seeds run | seconds |",
        "|---|---|---|---|---|---|",
    )
)


def positive(text: str) -> int:
    """An argparse type: a count of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="replay one seed and print its trace")
    group.add_argument("--seeds", type=positive, help="run seeds 0..N-1 (from --first)")
    group.add_argument("--mutants", action="store_true", help="run every member of the mutation set (sim/mutations.py)")
    group.add_argument("--list-mutants", action="store_true", help="list the mutation set")
    parser.add_argument("--first", type=int, default=0, help="the first seed of a sweep")
    mutated = parser.add_mutually_exclusive_group()
    mutated.add_argument("--old", type=int, choices=OLD_DEFECTS, help="issue 17's old behaviour N (the member old-N)")
    mutated.add_argument("--mutant", choices=sorted(BY_NAME), help="apply one member of the mutation set")
    parser.add_argument("--seeds-per", type=positive, default=300, help="with --mutants: at most this many seeds each")
    parser.add_argument("--all", action="store_true", help="with --mutants: also sweep the members the sim cannot see")
    parser.add_argument("--no-swarm", action="store_true", help="every fault kind on in every seed")
    parser.add_argument("--liveness", action="store_true", help="faults stop, the service must converge in a bound")
    parser.add_argument("--no-sometimes", action="store_true", help="a sweep does not fail on an item not reached")
    parser.add_argument("--steps", type=int, default=40, help="lines shown of a failing seed's trace")
    parser.add_argument("--grep", default="", help="with --seed: show every line (not only the last) containing this")
    parser.add_argument("--keep-going", action="store_true", help="a sweep reports every failing seed, not the first")
    args = parser.parse_args(argv)
    mutant = BY_NAME[f"old-{args.old}"] if args.old is not None else BY_NAME[args.mutant] if args.mutant else None
    applied = mutant.applied() if mutant is not None else contextlib.nullcontext()
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
            if member.unseen and not args.all:
                print(mutation_row(member, None, 0, 0.0), flush=True)
                continue
            print(mutation_row(member, *run_mutant(member, args.first, args.seeds_per)), flush=True)
        print(f"{len(MUTANTS)} mutants, {time.monotonic() - started:.1f} s")
        return 0
    if args.seed is not None:
        world = cluster.Cluster(args.seed, not args.no_swarm, trace_lines=10**7, liveness=args.liveness)
        with applied:
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
    with applied:
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


if __name__ == "__main__":
    sys.exit(main())
