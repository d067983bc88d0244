"""The Docker gateway against the real Swarm: each answer a daemon gives as a typed outcome, and a hung daemon
that holds no thread or socket of ours after a stop."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest

from actors.base import Directory, linked
from actors.logger import Log, LogSink
from actors.node_events import NodeEvents
from messages.log import Level
from neon_cm.clients import docker_api
from tests.integration.conftest import MANAGER, stack


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.02)


def open_sockets() -> int:
    """Sockets this process holds open (/proc/self/fd)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue  # closed while listing
    return count


def stream_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "node-events" and thread.is_alive()]


@pytest.fixture
def hung_manager(real_stack: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A manager's dockerd (not the Raft leader, not manager-1) stopped with SIGSTOP: its socket accepts
    connections and never answers. SIGCONT afterwards."""
    listing = stack.docker(MANAGER, "node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}")
    followers = [line.split()[0] for line in listing.splitlines() if line.strip().endswith("Reachable")]
    name = next(hostname for hostname in sorted(followers) if hostname != MANAGER)
    node = next(node for node in stack.load()["nodes"] if node["hostname"] == name)
    os.kill(node["pid"], signal.SIGSTOP)
    try:
        yield node
    finally:
        os.kill(node["pid"], signal.SIGCONT)


@pytest.fixture
def log() -> Iterator[Log]:
    sink = LogSink(Level.DEBUG, stream=io.StringIO())
    sink.start()
    yield Log("test", sink)
    pykka.ActorRegistry.stop_all()


def test_node_events_restarted_against_a_hung_daemon_leave_no_thread_or_socket(
    hung_manager: dict[str, Any], log: Log
) -> None:
    """Defect 9: NodeEvents started and stopped five times against a SIGSTOPped dockerd; each stop closes the
    connection still waiting for the daemon's answer, so no stream thread and no socket is left (within 3 s,
    well under the gateway's 10 s answer timeout, so the stop did it, not the timeout)."""
    sockets = open_sockets()
    for _ in range(5):
        before = open_sockets()
        with linked(None, Directory()):
            ref = NodeEvents.start(docker_api({"DOCKER_HOST": hung_manager["docker_host"]}), log)
        wait_until(lambda: open_sockets() > before, 5, "the stream's connection to the hung daemon")  # noqa: B023
        ref.stop()

    wait_until(lambda: not stream_threads(), 3, "every stream thread ended")
    wait_until(lambda: open_sockets() == sockets, 3, "every stream socket closed")
