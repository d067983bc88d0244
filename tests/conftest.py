"""Settings for the whole suite, and the stack each pytest-xdist worker uses."""

import fcntl
import io
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

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


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, worker gwK works on a stack of its own, slot $NEON_CM_STACK_SLOT + K + 1 (tests change
    labels, Consul keys and Vault seals: two workers on one stack would see each other's changes); a plain run
    keeps the slot it was given (0 by default). Set in the environment before any test module is imported, so
    that the teststack package and every subprocess (services, the CLI, scripts/demo) use that slot too."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker and getattr(config.option, "testrunuid", "") is None:
        config.option.testrunuid = uuid.uuid4().hex  # xdist's own default, chosen here so the controller knows it
    if worker.startswith("gw"):
        base = int(os.environ.get("NEON_CM_STACK_SLOT") or "0")
        os.environ["NEON_CM_STACK_SLOT"] = str(base + int(worker[2:]) + 1)


_DEPLOYS = pytest.StashKey[bool]()


@pytest.hookimpl(trylast=True)  # after -m and -k deselected theirs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[_DEPLOYS] = any("deploy_images" in getattr(item, "fixturenames", ()) for item in items)


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
    """The controller (not a worker) removes the run's lock files once every worker has ended."""
    run = getattr(session.config.option, "testrunuid", None)
    if run and not os.environ.get("PYTEST_XDIST_WORKER"):
        for suffix in (".turnstile", ".gate"):
            serial_locks(run).with_suffix(suffix).unlink(missing_ok=True)


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
