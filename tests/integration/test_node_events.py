"""Event-driven convergence on the real Swarm: node events reach Consul without waiting for a poll."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.keys import HASH_KEY, SETTINGS_PREFIX
from tests.integration.test_definition_pipeline import PUBLISHED, read_definition, seed_base
from tests.service import Service


def started_with_slow_polls(kv: consul.Consul, start_service: Callable[..., Service]) -> Service:
    """A service polling 5 minutes apart (anything that shows up sooner came through the event stream),
    once it has published and its event stream is connected."""
    seed_base(kv)
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "300")
    service = start_service()
    service.wait_for(PUBLISHED)
    service.wait_for(r"node events: connected")
    return service


def test_label_change_reaches_consul_through_events_not_the_poll(
    kv: consul.Consul, start_service: Callable[..., Service], labels: Callable[..., None]
) -> None:
    """With a 300 s poll, a label change is published within seconds: the event path works."""
    service = started_with_slow_polls(kv, start_service)

    mark = service.mark()
    labels("worker-1", "io.neon.compute.cores", "12")
    service.wait_for(PUBLISHED, after=mark, timeout=20)
    definition, _, _, _ = read_definition(kv)

    assert 12 == definition["Nodes"]["worker-1"]["Labels"]["ComputeCores"]
    assert service.lines(r"\[DEBUG\] \[module:node-events\] node event update ")


class HeldEvents:
    """A Unix-socket proxy in front of manager-1's dockerd (at `path`): every request passes; what the daemon sends
    on an event stream (`GET .../events`) is held while `flowing` is clear, then passed on all at once."""

    def __init__(self, folder: Path, upstream: str) -> None:
        self.path = str(folder / "docker.sock")
        self.upstream = upstream
        self.flowing = threading.Event()
        self.flowing.set()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            daemon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            daemon.connect(self.upstream)
            first = client.recv(65536)
            daemon.sendall(first)
            events = b"/events" in first.split(b"\r\n", 1)[0]
            threading.Thread(target=self.pump, args=(client, daemon, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(daemon, client, events), daemon=True).start()

    def pump(self, source: socket.socket, target: socket.socket, held: bool) -> None:
        try:
            while data := source.recv(65536):
                if held:
                    self.flowing.wait()
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                end.close()

    def close(self) -> None:
        self.flowing.set()
        self.listener.close()


@pytest.fixture
def held_events(real_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeldEvents]:
    manager = next(node for node in real_stack["nodes"] if node["hostname"] == "manager-1")
    # A short folder: a Unix socket's path has room for about 100 characters.
    folder = Path(tempfile.mkdtemp(prefix="neon-cm-"))
    proxy = HeldEvents(folder, manager["docker_host"].removeprefix("unix://"))
    yield proxy
    proxy.close()
    shutil.rmtree(folder, ignore_errors=True)


def test_burst_of_label_changes_costs_at_most_two_writes(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    labels: Callable[..., None],
    held_events: HeldEvents,
) -> None:
    """Ten label changes in a row (an operator's loop) are coalesced: at most two definition writes. The burst is
    made, not hoped for: the ten events are held on their way to the service while the changes are made (however
    slowly a loaded machine runs `docker node update`), then reach it together, as from a fast loop (it failed on a
    loaded machine with `assert 5 <= 2`: the updates came wider apart than a burst's 0.15 s)."""
    seed_base(kv)
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "300")
    service = start_service(DOCKER_HOST=f"unix://{held_events.path}")
    service.wait_for(PUBLISHED)
    service.wait_for(r"node events: connected")
    _, _, _, hash_index = read_definition(kv)

    mark = service.mark()
    held_events.flowing.clear()
    for n in range(10):
        labels(["worker-1", "worker-2", "manager-1", "manager-2", "manager-3"][n % 5], f"burst.n{n}", str(n))
    held_events.flowing.set()
    # The write with the burst's last change, logged: nothing after it changes the definition again.
    service.wait_for(PUBLISHED + r".*burst\.n9", after=mark, timeout=20)
    definition, _, _, _ = read_definition(kv)
    writes = len(service.lines(PUBLISHED, after=mark))

    assert 1 <= writes <= 2
    assert "9" == definition["Nodes"]["manager-3"]["Labels"]["Custom"]["burst.n9"]
    assert kv.kv.get(HASH_KEY)[1]["ModifyIndex"] > hash_index


def test_event_stream_survives_a_docker_daemon_restart(
    kv: consul.Consul, start_service: Callable[..., Service], labels: Callable[..., None]
) -> None:
    """The manager's dockerd restarts: one WARN that says what happened without guessing why (the same words when a
    proxy in front of Docker restarts), the stream reconnects, and a later label change still arrives by event."""
    service = started_with_slow_polls(kv, start_service)

    mark = service.mark()
    stack.docker_restart("manager-1")
    service.wait_for(r"node events: connected", after=mark, timeout=60)
    after_restart = service.mark()
    labels("worker-2", "io.neon.physical.power", "ups-b")
    service.wait_for(PUBLISHED, after=after_restart, timeout=20)
    definition, _, _, _ = read_definition(kv)

    assert "ups-b" == definition["Nodes"]["worker-2"]["Labels"]["PhysicalPower"]
    assert service.lines(r"\[WARN\] \[module:node-events\] node events: .*; reconnecting", after=mark)
    assert [] == service.lines(r"daemon restarted\?")
