"""The Docker gateway against the real Swarm: each answer a daemon gives as a typed outcome, and a hung daemon
that holds no thread or socket of ours after a stop."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import teststack as stack
from actors.base import Directory, linked
from actors.logger import Log
from actors.node_events import NodeEvents
from gateways.docker import DockerGateway
from messages.docker import (
    DockerGarbage,
    DockerUnreachable,
    NodeEvent,
    NodesListed,
    NotAManager,
    StreamClosed,
    StreamOutcome,
)
from tests.integration.conftest import MANAGER
from tests.waiting import wait_until


def open_sockets() -> set[str]:
    """The sockets this process holds open (/proc/self/fd), by inode: a new one is told apart from one that
    closed meanwhile, where a count could stay the same."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed while listing
        if target.startswith("socket:"):
            found.add(target)
    return found


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
            ref = NodeEvents.start(DockerGateway(hung_manager["docker_host"]), log)
        wait_until(lambda: bool(open_sockets() - before), 5, "the stream's connection to the hung daemon")  # noqa: B023
        ref.stop()

    wait_until(lambda: not stream_threads(), 3, "every stream thread ended")
    wait_until(lambda: not open_sockets() - sockets, 3, "every stream socket closed")


def node(state: dict[str, Any], hostname: str) -> dict[str, Any]:
    return next(node for node in state["nodes"] if node["hostname"] == hostname)


def test_a_manager_lists_the_swarm(real_stack: dict[str, Any]) -> None:
    """GET /nodes on a manager: the five nodes of the stack, typed."""
    outcome = DockerGateway(node(real_stack, MANAGER)["docker_host"]).nodes()

    assert isinstance(outcome, NodesListed)
    expected = {"manager-1", "manager-2", "manager-3", "worker-1", "worker-2"}
    assert expected == {swarm_node.hostname for swarm_node in outcome.nodes}


def test_a_worker_is_not_a_manager(real_stack: dict[str, Any]) -> None:
    """A worker's socket answers GET /nodes with 503 "This node is not a swarm manager": not a manager."""
    outcome = DockerGateway(node(real_stack, "worker-1")["docker_host"]).nodes()

    assert isinstance(outcome, NotAManager)
    assert "This node is not a swarm manager" in outcome.reason


def test_no_daemon_is_unreachable(tmp_path: Any) -> None:
    """A socket path nobody listens on: unreachable, for the listing and for the stream."""
    gateway = DockerGateway(f"unix://{tmp_path}/docker.sock")

    assert isinstance(gateway.nodes(), DockerUnreachable)
    assert isinstance(gateway.node_events().follow(lambda: None, lambda _: None), DockerUnreachable)


def test_a_hung_daemon_is_unreachable_after_the_timeout(hung_manager: dict[str, Any]) -> None:
    """A SIGSTOPped dockerd: both calls give up after the gateway's timeout, as unreachable."""
    gateway = DockerGateway(hung_manager["docker_host"], timeout=0.5)
    started = time.monotonic()

    assert isinstance(gateway.nodes(), DockerUnreachable)
    outcome = gateway.node_events().follow(lambda: None, lambda _: None)
    assert isinstance(outcome, DockerUnreachable)
    assert "no answer within 0.5 s" in outcome.reason
    assert time.monotonic() - started < 5


def test_the_stream_tells_a_label_change_and_closes_at_once(
    real_stack: dict[str, Any], labels: Callable[..., None]
) -> None:
    """A label added while the stream is followed arrives as an update event of that node; close() ends it."""
    stream = DockerGateway(node(real_stack, MANAGER)["docker_host"]).node_events()
    connected = threading.Event()
    events: list[NodeEvent] = []
    outcome: list[StreamOutcome] = []
    thread = threading.Thread(target=lambda: outcome.append(stream.follow(connected.set, events.append)))
    thread.start()
    try:
        assert connected.wait(10)
        labels("worker-2", "gateway.test", "1")
        wait_until(lambda: bool(events), 10, "a node event")
    finally:
        stream.close()
        thread.join(5)
    worker_id = stack.docker(MANAGER, "node", "inspect", "--format", "{{.ID}}", "worker-2").strip()

    assert NodeEvent("update", worker_id) == events[0]
    assert [StreamClosed()] == outcome


def test_a_stream_closed_before_it_follows_never_connects(real_stack: dict[str, Any]) -> None:
    """close() before follow(): follow returns StreamClosed without a connection."""
    stream = DockerGateway(node(real_stack, MANAGER)["docker_host"]).node_events()
    stream.close()

    assert StreamClosed() == stream.follow(lambda: None, lambda _: None)


class Garbage(BaseHTTPRequestHandler):
    """Something in Docker's place that answers 200 with what no daemon sends."""

    def do_GET(self) -> None:
        body = b"[1, 2]" if "/nodes" in self.path else b"this is no event\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_garbage_is_garbage() -> None:
    """A node list of numbers and an event line that is not JSON: garbage, nothing raised."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gateway = DockerGateway(f"tcp://127.0.0.1:{server.server_address[1]}")

        assert isinstance(gateway.nodes(), DockerGarbage)
        assert isinstance(gateway.node_events().follow(lambda: None, lambda _: None), DockerGarbage)
    finally:
        server.shutdown()
        server.server_close()
