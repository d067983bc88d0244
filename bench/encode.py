"""Definition build + encode + hash for large synthetic Swarms, next to a stdlib floor on the same data: the
first listing (nothing cached), a listing where nothing changed, and one where one node changed."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import statistics
import string
import time
import timeit
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from bench.common import RESULTS, ROOT, Row, Section
from messages.swarm import SwarmNode
from neon_cm.definition import build_nodes, with_nodes
from neon_cm.encoding import RAW_DEFLATE_WBITS, deflate, with_hash
from neon_cm.incremental import DefinitionEncoder
from neon_cm.keys import MAX_DEFINITION_BYTES

SIZES = (100, 1_000, 5_000, 10_000)
TARGET_RATIO = 1.5
#: A listing where nothing changed, and one where one node did (deflate apart), against the floor.
TARGET_UNCHANGED_RATIO = 0.25
TARGET_ONE_CHANGE_RATIO = 0.5
#: Each timing runs the code this long at least (as `timeit`'s autorange does), so a fast case is
#: looped enough times for the clock's resolution not to matter.
MIN_TIMING_SECONDS = 0.2


def synthetic_nodes(count: int, seed: int = 1) -> list[SwarmNode]:
    """`count` Swarm nodes with labels as a real neonCLUSTER carries them: the io.neon.* set plus a few custom."""
    rng = random.Random(seed)
    managers = 3 if count < 1_000 else 5
    nodes = []
    for i in range(count):
        role = "manager" if i < managers else "worker"
        addr = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        labels = {
            "io.neon.node.private_address": addr,
            "io.neon.storage.capacity_gb": str(rng.choice((64, 128, 256, 512, 1024))),
            "io.neon.storage.local": "true",
            "io.neon.storage.ssd": rng.choice(("true", "false")),
            "io.neon.storage.redundant": "false",
            "io.neon.storage.ephemeral": "false",
            "io.neon.compute.cores": str(rng.choice((2, 4, 8, 16, 32, 64))),
            "io.neon.compute.architecture": "x64",
            "io.neon.compute.ram_mb": str(rng.choice((4096, 8192, 16384, 32768, 65536))),
            "io.neon.compute.swap": "false",
            "io.neon.physical.location": f"dc-{i // 2_000}",
            "io.neon.physical.machine": f"rack{i // 40:03d}-u{i % 40:02d}",
            "io.neon.physical.faultdomain": f"fd-{i % 8}",
            "io.neon.physical.power": f"pdu-{i // 20:04d}",
            "io.neon.log.esdata": "true" if i % 10 == 0 else "false",
            "team": rng.choice(("payments", "search", "ingest", "web")),
            "com.example.cost-center": str(rng.randrange(1000, 9999)),
        }
        if role == "manager":
            labels["io.neon.node.public_address"] = f"198.51.100.{i + 1}"
        nodes.append(
            SwarmNode(
                id="".join(rng.choices(string.ascii_lowercase + string.digits, k=25)),
                hostname=f"Node-{i:05d}",  # Docker reports hostnames as set; the definition lower-cases them
                role=role,
                addr=addr,
                manager_addr=addr if role == "manager" else "",
                labels=labels,
                version=1_000 + i,
            )
        )
    return nodes


def floor_encode(definition: dict[str, Any]) -> tuple[bytes, str]:
    """The least a naive encoder must do: one compact JSON dump (no cycle check, as the service), one raw
    DEFLATE at zlib's default level, one MD5."""
    data = json.dumps(definition, separators=(",", ":"), ensure_ascii=False, check_circular=False).encode("utf-8")
    compressor = zlib.compressobj(wbits=RAW_DEFLATE_WBITS)
    return compressor.compress(data) + compressor.flush(), hashlib.md5(data).hexdigest()


def seconds_per_call(timer: timeit.Timer, loops: int) -> float:
    return timer.timeit(loops) / loops


def loops_for(function: Callable[[], object]) -> int:
    """How many calls make one timing last MIN_TIMING_SECONDS (timeit's autorange, with our minimum)."""
    started = time.perf_counter()
    function()
    once = time.perf_counter() - started
    return max(1, round(MIN_TIMING_SECONDS / max(once, 1e-9)))


def time_size(base: dict[str, Any], count: int, repeats: int) -> dict[str, Any]:
    """Median seconds per call of the service's pipeline and of the floor, timed alternately on the same data."""
    nodes = synthetic_nodes(count)
    built = build_nodes(nodes)
    definition = with_hash(with_nodes(base, built.nodes))
    data = json.dumps(definition, separators=(",", ":"), ensure_ascii=False).encode()

    def service_pipeline() -> tuple[bytes, str]:
        """The first listing: nothing cached."""
        encoder = DefinitionEncoder()
        encoded = encoder.encode(base, encoder.listing(nodes))
        return encoded.deflated(), encoded.hash

    warm = DefinitionEncoder()
    warm.encode(base, warm.listing(nodes))
    # A poll: Docker's answer is parsed anew, so the nodes are equal objects, not the same ones.
    relisted = [attrs.evolve(node) for node in nodes]

    def unchanged_poll() -> str:
        return warm.encode(base, warm.listing(relisted)).hash

    changing = DefinitionEncoder()
    changing.encode(base, changing.listing(nodes))
    current, versions, rng = list(nodes), itertools.count(10**9), random.Random(count)

    def one_node_changed() -> str:
        """One node relabelled (a new Version.Index), anywhere in the Swarm: hash and stored JSON, no deflate."""
        i = rng.randrange(len(current))
        value = str(next(versions))
        current[i] = attrs.evolve(current[i], labels={**dict(current[i].labels), "bench.n": value}, version=int(value))
        encoded = changing.encode(base, changing.listing(current))
        encoded.json()
        return encoded.hash

    candidates: dict[str, Callable[[], object]] = {
        "service": service_pipeline,
        "floor": lambda: floor_encode(definition),
        "unchanged": unchanged_poll,
        "one_changed": one_node_changed,
        "deflate": lambda: deflate(data),
        # Where the first listing's time goes.
        "build_nodes": lambda: build_nodes(nodes),
    }
    # GC stays on (timeit turns it off): the service runs with it, and these build many objects.
    timers = {
        name: (timeit.Timer(function, "gc.enable()"), loops_for(function)) for name, function in candidates.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, (timer, loops) in timers.items():
            samples[name].append(seconds_per_call(timer, loops))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    stored, _ = service_pipeline()
    return {
        "nodes": count,
        "median_seconds": medians,
        "all_seconds": samples,
        "loops": {name: loops for name, (_, loops) in timers.items()},
        "ratio_to_floor": medians["service"] / medians["floor"],
        "unchanged_ratio_to_floor": medians["unchanged"] / medians["floor"],
        "one_changed_ratio_to_floor": medians["one_changed"] / medians["floor"],
        "json_bytes": len(json.dumps(definition, separators=(",", ":"), ensure_ascii=False).encode()),
        "compressed_bytes": len(stored),
        "floor_compressed_bytes": len(floor_encode(definition)[0]),
        "label_problems": len(built.label_problems),
    }


def profile(base: dict[str, Any], count: int, path: Path) -> list[dict[str, Any]]:
    """Profile the service's pipeline at `count` nodes with pyinstrument; write its report to `path` and
    return the functions with the most time of their own (not counting their callees)."""
    from pyinstrument import Profiler  # a dev tool, not a dependency of the package: imported when needed

    nodes = synthetic_nodes(count)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(5):
        encoder = DefinitionEncoder()
        encoder.encode(base, encoder.listing(nodes)).deflated()
    profiler.stop()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=True))
    own: dict[tuple[str, str], float] = {}
    root = profiler.last_session.root_frame() if profiler.last_session else None
    total = root.time if root else 0.0
    stack_ = [root] if root else []
    while stack_:
        frame = stack_.pop()
        stack_.extend(frame.children)
        if frame.total_self_time and not frame.is_synthetic:
            where = f"{frame.file_path_short}:{frame.line_no}"
            key = (frame.function, where)
            own[key] = own.get(key, 0.0) + frame.total_self_time
    top = sorted(own.items(), key=lambda item: -item[1])[:12]
    return [{"function": name, "where": where, "share": seconds / total} for (name, where), seconds in top]


#: The rows that compare the service's pipeline with the floor, one per size each: (what, the timing of
#: `median_seconds` that is compared, the ratio's key in the run, its target, digits of the ratio and the timing).
RATIO_ROWS: tuple[tuple[str, str, str, float, int, int], ...] = (
    ("first listing: build+encode+hash", "service", "ratio_to_floor", TARGET_RATIO, 2, 1),
    ("poll with no change", "unchanged", "unchanged_ratio_to_floor", TARGET_UNCHANGED_RATIO, 3, 2),
    ("poll with one node changed", "one_changed", "one_changed_ratio_to_floor", TARGET_ONE_CHANGE_RATIO, 2, 1),
)


def ratio_rows(
    runs: list[dict[str, Any]], what: str, timing: str, ratio: str, target: float, digits: int, ms_digits: int
) -> list[Row]:
    """One row per size: `what`, its time against the floor's, the ratio and whether it meets `target`."""
    rows = []
    for run in runs:
        seconds = run["median_seconds"]
        deflate = f" (+ deflate {seconds['deflate'] * 1e3:.1f} ms)" if timing == "one_changed" else ""
        rows.append(
            Row(
                f"{what}{deflate}, {run['nodes']:,} nodes: service / floor",
                f"{seconds[timing] * 1e3:.{ms_digits}f} / {seconds['floor'] * 1e3:.1f} ms = {run[ratio]:.{digits}f}x",
                f"<= {target}x",
                run[ratio] <= target,
            )
        )
    return rows


def measure(repeats: int, sizes: tuple[int, ...] = SIZES) -> Section:
    """Time every size; profile the largest when the service's pipeline is over TARGET_RATIO of the floor."""
    base = json.loads((ROOT / "examples" / "cluster-definition.json").read_text())
    runs = [time_size(base, count, repeats) for count in sizes]
    rows = [row for kind in RATIO_ROWS for row in ratio_rows(runs, *kind)]
    for run in runs:
        seconds = run["median_seconds"]
        rows.append(
            Row(
                f"build_nodes alone, {run['nodes']:,} nodes",
                f"{seconds['build_nodes'] * 1e3:.1f} ms = {seconds['build_nodes'] / seconds['floor']:.2f}x floor",
            )
        )
    for run in runs:
        kib = run["compressed_bytes"] / 1024
        rows.append(
            Row(
                f"compressed definition, {run['nodes']:,} nodes",
                f"{kib:,.1f} KiB ({run['compressed_bytes'] / MAX_DEFINITION_BYTES:.0%} of the limit)",
                f"<= {MAX_DEFINITION_BYTES:,} bytes",
                run["compressed_bytes"] <= MAX_DEFINITION_BYTES,
            )
        )
    figures: dict[str, Any] = {"repeats": repeats, "target_ratio": TARGET_RATIO, "sizes": runs}
    worst = max(runs, key=lambda run: run["ratio_to_floor"])
    if worst["ratio_to_floor"] > TARGET_RATIO:
        try:
            path = RESULTS / f"encode_profile_{max(sizes)}.txt"
            hot = profile(base, max(sizes), path)
        except ImportError:
            figures["profile"] = "not run: pyinstrument is not installed (pip install pyinstrument)"
        else:
            report = str(path.relative_to(ROOT))
            figures["profile"] = {"nodes": max(sizes), "report": report, "own_time": hot}
            for entry in hot[:5]:
                rows.append(Row(f"profile: {entry['function']} ({entry['where']})", f"{entry['share']:.0%} own time"))
    return Section("encode", figures, tuple(rows))
