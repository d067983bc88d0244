"""Settings for the whole suite, and the stack each pytest-xdist worker uses."""

import fcntl
import io
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import pykka
import pytest
from hypothesis import settings

import teststack
from actors.logger import Log, LogSink
from messages.log import Level

# Hypothesis' default 200 ms deadline per example is a timing threshold: on a shared 2-core machine running
# the integration stack it fails examples that are merely slow. Correctness is what the properties check.
settings.register_profile("neon-cm", deadline=None)
settings.load_profile("neon-cm")


_DEPLOYS = pytest.StashKey[bool]()
#: Each test's time (setup, call and teardown, seconds) on a recent run, the ones over a second: the order of the run
#: under pytest-xdist (`worksteal_chunks`). `--record-durations tests/durations.json` writes it again.
DURATIONS = Path(__file__).with_name("durations.json")
#: Set by the controller for its workers: "1" when the images of this checkout are in the cache already.
_IMAGES_CACHED = "NEON_CM_IMAGES_CACHED"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, worker gwK works on a stack of its own, slot BASE + K + 1, BASE being
    $NEON_CM_STACK_SLOT_BASE, else $NEON_CM_STACK_SLOT, else 0 (tests change labels, Consul keys and Vault seals:
    two workers on one stack would see each other's changes); a plain run keeps the slot it was given (0 by
    default). Set in the environment before any test module is imported, so
    that the teststack package and every subprocess (services, the CLI, scripts/demo) use that slot too."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker and getattr(config.option, "testrunuid", "") is None:
        config.option.testrunuid = uuid.uuid4().hex  # xdist's own default, chosen here so the controller knows it
    if not worker:  # the workers inherit it: each orders the collection by it, and all must order it alike
        os.environ[_IMAGES_CACHED] = "1" if teststack.images_in_cache() else "0"
    if worker.startswith("gw"):
        base = int(os.environ.get("NEON_CM_STACK_SLOT_BASE") or os.environ.get("NEON_CM_STACK_SLOT") or "0")
        os.environ["NEON_CM_STACK_SLOT"] = str(base + int(worker[2:]) + 1)


T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        metavar="FILE",
        help="write each test's time (setup + call + teardown, the ones of a second or more) as JSON to FILE",
    )


def chunk_sizes(count: int, workers: int) -> list[int]:
    """How many of `count` tests pytest-xdist's worksteal scheduler hands each of `workers` idle workers at the start:
    consecutive chunks of the collection, each the rest divided by the workers left."""
    sizes = []
    for index in range(workers):
        sizes.append(count // (workers - index))
        count -= sizes[-1]
    return sizes


def worksteal_chunks(
    items: Sequence[T], workers: int, estimate: Callable[[T], float], group: Callable[[T], Hashable]
) -> list[list[T]]:
    """The tests as one chunk per worker, each the size worksteal hands out (chunk_sizes) and about the same total
    time: longest first over the chunks (a group's tests, those sharing a costly module-scoped fixture, as one), each
    into the chunk of least time that has room, so each worker starts on its long ones and a worker that ends early
    steals short ones from another's tail, not a long one at the end."""
    units: dict[Hashable, list[T]] = {}
    for item in items:
        units.setdefault(group(item), []).append(item)
    sizes = chunk_sizes(len(items), workers)
    chunks: list[list[T]] = [[] for _ in sizes]
    load = [0.0] * len(sizes)
    for unit in sorted(units.values(), key=lambda unit: -sum(map(estimate, unit))):
        room = [index for index, size in enumerate(sizes) if len(chunks[index]) + len(unit) <= size]
        for part in [unit] if room else [[item] for item in unit]:
            room = room or [index for index, size in enumerate(sizes) if len(chunks[index]) < size]
            index = min(room, key=lambda index: load[index])
            chunks[index].extend(part)
            load[index] += sum(map(estimate, part))
            room = []
    return chunks


def _group(item: pytest.Item) -> Hashable:
    """A module's tests that share a module-scoped fixture of its own (a 3-server Consul, an ACL Consul) go together."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    shared = any(defs[-1].scope == "module" for defs in definitions.values() if defs)
    return item.nodeid.split("::")[0] if shared else item.nodeid


def _estimates(items: list[pytest.Item]) -> Callable[[pytest.Item], float]:
    """A test's recorded time; one not recorded (under a second, or new) counts a second if it is an integration
    test, a tenth otherwise."""
    try:
        recorded: dict[str, float] = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        recorded = {}
    return lambda item: recorded.get(item.nodeid, 1.0 if item.get_closest_marker("integration") else 0.1)


@pytest.hookimpl(trylast=True)  # after -m and -k deselected theirs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist's worksteal, every worker orders the collection the same way: one chunk per worker of
    about the same recorded time, longest first in each. When the images are not in the cache yet, the tests that
    deploy them come last in each chunk instead: the first worker builds them before its first test."""
    deploys = [item for item in items if "deploy_images" in getattr(item, "fixturenames", ())]
    config.stash[_DEPLOYS] = bool(deploys)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or "0")
    if workers < 2 or config.getoption("dist", "no") != "worksteal":
        items.sort(key=lambda item: item in deploys)  # stable: each file's order stays
        return
    ordered = []
    for chunk in worksteal_chunks(items, workers, _estimates(items), _group):
        if os.environ.get(_IMAGES_CACHED) != "1":
            chunk.sort(key=lambda item: item in deploys)
        ordered += chunk
    items[:] = ordered


#: Each test's phases added up, in the controller (or a run without workers), for --record-durations.
_recorded: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        _recorded[report.nodeid] = _recorded.get(report.nodeid, 0.0) + report.duration


@pytest.fixture(scope="session", autouse=True)
def images_built_first(request: pytest.FixtureRequest) -> Iterator[None]:
    """When the session deploys the images, the first worker (or a run without workers) builds them before its
    first test, whatever that test is, while the other workers run theirs: always the same slot's manager-1,
    which keeps Docker's build cache from its last build (the workers' stacks stay up between runs), so a build
    takes about a minute there. Not in the background beside this worker's own tests: some restart manager-1's
    dockerd, which would break the build. The deploying tests come last and find the images in the cache."""
    if not request.config.stash.get(_DEPLOYS, False) or os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
        yield
        return
    with teststack.exclusive():
        was_up, _ = teststack.status()
        teststack.up()
        teststack.images_cached()
    yield
    if not was_up and os.environ.get("NEON_CM_KEEP_STACK") != "1":  # as real_stack would have (it found it up)
        with teststack.exclusive():
            teststack.down()


def serial_locks(run: str) -> Path:
    """The stem of a run's two lock files (`.turnstile`, `.gate`), in the temp folder."""
    return Path(tempfile.gettempdir()) / f"neon-cm-{run}"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (not a worker) removes the run's lock files once every worker has ended, and writes the tests'
    times for --record-durations."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    run = getattr(session.config.option, "testrunuid", None)
    if run:
        for suffix in (".turnstile", ".gate"):
            serial_locks(run).with_suffix(suffix).unlink(missing_ok=True)
    record = session.config.getoption("record_durations")
    if record:
        durations = {nodeid: round(seconds, 1) for nodeid, seconds in sorted(_recorded.items()) if seconds >= 1}
        Path(record).write_text(json.dumps(durations, indent=0) + "\n")


@pytest.fixture
def log() -> Iterator[Log]:
    """A Log whose lines go nowhere, for tests that start actors themselves; every actor is stopped after the
    test."""
    sink = LogSink(Level.DEBUG, stream=io.StringIO())
    sink.start()
    yield Log("test", sink)
    pykka.ActorRegistry.stop_all()


@pytest.fixture(autouse=True)
def alone_when_serial(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under pytest-xdist, a test marked `serial` runs with no other test running on any worker; the others run
    side by side. Two file locks shared by the run's workers: every test passes the turnstile and holds the
    gate shared; a serial test holds the turnstile (no new test starts) and the gate exclusive (the running ones
    have ended)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        yield
        return
    serial = request.node.get_closest_marker("serial") is not None
    locks = serial_locks(run)
    with locks.with_suffix(".turnstile").open("a") as turnstile, locks.with_suffix(".gate").open("a") as gate:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(gate, fcntl.LOCK_EX if serial else fcntl.LOCK_SH)
        if not serial:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)
            fcntl.flock(turnstile, fcntl.LOCK_UN)
