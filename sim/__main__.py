"""`python -m sim --seed N` replays one seed and prints its trace; `python -m sim --seeds N` sweeps seeds 0..N-1."""

from __future__ import annotations

import argparse
import sys
import time

from sim.world import World


def parse_old(text: str) -> frozenset[int]:
    """`1,3,5` (or `all`): the defects of issue 17 whose old behaviour runs."""
    if text == "all":
        return frozenset({1, 2, 3, 4, 5, 7, 11})
    return frozenset(int(part) for part in text.split(",") if part)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--seed", type=int, help="replay one seed and print its trace")
    group.add_argument("--seeds", type=int, help="run seeds 0..N-1 (from --first)")
    parser.add_argument("--first", type=int, default=0, help="the first seed of a sweep")
    parser.add_argument("--old", type=parse_old, default=frozenset(), help="run old behaviours: 1,2,3,4,5,7,11 or all")
    parser.add_argument("--steps", type=int, default=40, help="steps shown in a failing seed's trace")
    parser.add_argument("--grep", default="", help="with --seed: show every step (not only the last) containing this")
    parser.add_argument("--keep-going", action="store_true", help="a sweep reports every failing seed, not the first")
    args = parser.parse_args(argv)
    if args.seed is not None:
        result = World(args.seed, args.old, 10**7 if args.grep else args.steps).run()
        if args.grep:
            print("\n".join(line for line in result.trace if args.grep in line))
        print(result.report(args.steps))
        return 0 if result.ok else 1
    started, failed = time.monotonic(), 0
    by_invariant: dict[str, list[int]] = {}
    for seed in range(args.first, args.first + args.seeds):
        result = World(seed, args.old, args.steps).run()
        if not result.ok:
            failed += 1
            by_invariant.setdefault(result.invariant, []).append(seed)
            print(result.report(args.steps), flush=True)
            if not args.keep_going:
                break
    ran = seed - args.first + 1
    for invariant, seeds in sorted(by_invariant.items(), key=lambda item: -len(item[1])):
        shown = " ".join(str(seed) for seed in seeds[:10]) + (" ..." if len(seeds) > 10 else "")
        print(f"  {len(seeds):6d} broke {invariant}: seeds {shown}")
    print(f"{ran} seeds, {failed} failed, {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
