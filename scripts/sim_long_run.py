"""The simulator's long run: a sweep of many seeds (100,000 by default) in chunks, resumable across sessions.

    python scripts/sim_long_run.py                 # run the chunks not done yet (2 processes, nice 19)
    python scripts/sim_long_run.py --summary       # what the chunks done so far found
    python scripts/sim_long_run.py --summary --commit C --replay   # C's failing seeds, run again here

Each chunk is `python -m sim --seeds CHUNK --first F --keep-going --no-sometimes` run in this checkout; its output
goes to DIR/<commit>/chunk-<F>.log (DIR: --dir, $NEON_CM_LONG_RUN_DIR or /var/tmp/neon-cm-long-run), written under
a temporary name until the chunk ends, so a run stopped mid-chunk redoes only that chunk. One directory per commit:
a run resumed on another commit starts from seed 0 again. The summary lists the failing seeds by invariant, the CPU
a seed took and the seeds covered.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS_LINE = re.compile(r"^(\d+) seeds, (\d+) failed, ([\d.]+) s \(([\d.]+) s of CPU a seed\)$", re.MULTILINE)
#: A failing seed's report (sim/cluster.py `Result.report`): its invariant, then its replay line.
FAILED_SEED = re.compile(r"invariant violated: ([^:\n]+):.*?replay: python -m sim --seed (\d+)", re.DOTALL)


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def uncommitted(root: Path) -> list[str]:
    """The tracked files of the checkout at `root` changed since HEAD: a run of them would be filed under HEAD's name
    with other code."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    return [line[3:] for line in out.splitlines() if line.strip()]


class LongRunError(Exception):
    """What keeps the long run from starting, in one line for the command line."""


def chunk_directory(base: Path, name: str, create: bool) -> Path | None:
    """The folder of commit `name`'s chunks under `base` (--dir); made when `create`, else None when it is not
    there (a summary makes nothing). LongRunError when it cannot be made or is not a folder."""
    directory = base / name
    if not create:
        return directory if directory.is_dir() else None
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise LongRunError(f"cannot create {directory}: {why(error)}") from None
    return directory


def why(error: OSError) -> str:
    """An OSError in words: a path that is a file where a folder is needed is said as such."""
    if isinstance(error, (NotADirectoryError, FileExistsError)):
        blocking = next(
            (p for p in [Path(str(error.filename)), *Path(str(error.filename)).parents] if p.is_file()), None
        )
        if blocking is not None:
            return f"{blocking} is a file, not a folder"
    return error.strerror or str(error)


def chunk_log(directory: Path, first: int) -> Path:
    return directory / f"chunk-{first:06d}.log"


def done(log: Path) -> bool:
    return log.is_file() and SEEDS_LINE.search(log.read_text(errors="replace")) is not None


def run_chunks(directory: Path, firsts: list[int], chunk: int) -> None:
    for first in firsts:
        log = chunk_log(directory, first)
        if done(log):
            continue
        partial = log.with_suffix(".part")
        with partial.open("w") as out:
            command = ["nice", "-n", "19", sys.executable, "-m", "sim", "--seeds", str(chunk), "--first", str(first)]
            subprocess.run([*command, "--keep-going", "--no-sometimes"], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        partial.replace(log)


def failing_seeds(directory: Path) -> dict[int, str]:
    """Every seed the chunks in `directory` saw fail, with the invariant it broke there."""
    found: dict[int, str] = {}
    for log in sorted(directory.glob("chunk-*.log")):
        text = log.read_text(errors="replace")
        if SEEDS_LINE.search(text) is not None:
            found.update((int(seed), invariant) for invariant, seed in FAILED_SEED.findall(text))
    return dict(sorted(found.items()))


def replay(seed: int) -> str:
    """Seed `seed` run again in this checkout: `ok`, or the invariant it breaks here."""
    done = subprocess.run(
        ["nice", "-n", "10", sys.executable, "-m", "sim", "--seed", str(seed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    broken = FAILED_SEED.search(done.stdout)
    if broken is not None:
        return f"FAILED ({broken.group(1)})"
    return (
        "ok" if re.search(rf"^seed {seed}: ok\b", done.stdout, re.MULTILINE) else f"no verdict (exit {done.returncode})"
    )


def replayed(directory: Path) -> str:
    """Each failing seed of the chunks, run again in this checkout (HEAD): which of them still fail here."""
    here = commit()
    lines = []
    for seed, invariant in failing_seeds(directory).items():
        lines.append(f"  seed {seed} (broke {invariant} in {directory.name}): {replay(seed)} on {here}")
    still = sum("FAILED" in line or "no verdict" in line for line in lines)
    return "\n".join([f"replayed on {here}: {len(lines)} seeds, {still} still failing", *lines])


def summary(directory: Path) -> str:
    seeds = failed = 0
    cpu = 0.0
    by_invariant: dict[str, list[int]] = defaultdict(list)
    firsts: list[int] = []
    for log in sorted(directory.glob("chunk-*.log")):
        text = log.read_text(errors="replace")
        match = SEEDS_LINE.search(text)
        if match is None:
            continue
        firsts.append(int(log.stem.split("-")[1]))
        ran = int(match.group(1))
        seeds += ran
        failed += int(match.group(2))
        cpu += ran * float(match.group(4))
        for invariant, seed in FAILED_SEED.findall(text):
            by_invariant[invariant].append(int(seed))
    lines = [
        f"{directory}: {len(firsts)} chunks, {seeds} seeds, {failed} failed, {cpu / max(seeds, 1):.2f} s of CPU a seed"
    ]
    if firsts:
        lines.append(f"  chunks from seed {min(firsts)} to {max(firsts)}")
    for invariant, found in sorted(by_invariant.items(), key=lambda item: -len(item[1])):
        lines.append(f"  {len(found):5d} broke {invariant}: {' '.join(str(seed) for seed in sorted(found))}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100_000, help="seeds in all, from 0")
    parser.add_argument("--chunk", type=int, default=500, help="seeds a chunk")
    parser.add_argument("--jobs", type=int, default=2, help="chunks run at once")
    parser.add_argument(
        "--dir", type=Path, default=Path(os.environ.get("NEON_CM_LONG_RUN_DIR", "/var/tmp/neon-cm-long-run"))
    )
    parser.add_argument("--commit", default="", help="with --summary: the commit whose chunks it reads (default: HEAD)")
    parser.add_argument("--summary", action="store_true", help="only summarise the chunks done")
    parser.add_argument(
        "--replay",
        action="store_true",
        help="with --summary: run each failing seed again in this checkout and say which still fail here",
    )
    args = parser.parse_args()
    for name in ("seeds", "chunk", "jobs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.replay and not args.summary:
        parser.error("--replay only with --summary")
    if args.commit and not args.summary:
        parser.error(
            "--commit only with --summary: a run always runs this checkout's HEAD, and files its chunks under it"
        )
    try:
        directory = chunk_directory(args.dir, args.commit or commit(), create=not args.summary)
    except LongRunError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    if directory is None:
        print(f"{args.dir / (args.commit or commit())}: no chunks yet")
        return 0
    changed = [] if args.summary else uncommitted(ROOT)
    if changed:
        print(
            f"{parser.prog}: error: the checkout has uncommitted changes ({', '.join(changed[:3])}"
            f"{' ...' if len(changed) > 3 else ''}): the chunks are filed under HEAD, so commit them first",
            file=sys.stderr,
        )
        return 1
    if not args.summary:
        firsts = list(range(0, args.seeds, args.chunk))
        workers = [
            threading.Thread(target=run_chunks, args=(directory, firsts[job :: args.jobs], args.chunk))
            for job in range(args.jobs)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    print(summary(directory))
    if args.replay:
        print(replayed(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
