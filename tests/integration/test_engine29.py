"""Today's Docker: the service against a manager that answers as Docker Engine 29 (teststack/engine29.py, a front on
the stack's dockerd 20.10, which Debian 12 has; Engine 29 refuses every API version below 1.44), and against a
daemon swapped under it. What an operator checks: what is in Consul and what the log says."""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.encoding import deflate
from neon_cm.keys import DEFINITION_KEY
from tests.integration.conftest import MANAGER, address
from tests.integration.test_bad_input import quick
from tests.integration.test_definition_pipeline import BASE, PUBLISHED, read_definition, seed_base
from tests.service import Service
from tests.waiting import wait_until

ENGINE_29 = r"\[INFO\] \[module:swarm-watcher\] speaking Docker API 1\.52 \(the daemon speaks up to 1\.52; this service"
ENGINE_20 = r"\[INFO\] \[module:swarm-watcher\] speaking Docker API 1\.41 \(the daemon speaks up to 1\.41; this service"
TOO_OLD = (
    "client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer"
    " version"
)


@pytest.fixture
def engine29(real_stack: dict[str, Any]) -> Iterator[str]:
    """manager-1 presented as an Engine 29: the front's DOCKER_HOST. Stopped after the test."""
    yield stack.engine29_start(MANAGER)
    stack.engine29_stop(MANAGER)


def ask(docker_host: str, method: str, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a unix-socket DOCKER_HOST: status, headers, body."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(docker_host.removeprefix("unix://"))
    connection = http.client.HTTPConnection("localhost")
    connection.sock = sock
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        sock.close()


def label_in_consul(kv: consul.Consul, node: str, key: str) -> str | None:
    """The value of `node`'s custom label `key` in the definition in Consul (None: not there)."""
    definition, _, _, _ = read_definition(kv)
    return definition.get("Nodes", {}).get(node, {}).get("Labels", {}).get("Custom", {}).get(key)


def test_the_front_answers_as_engine_29_does(engine29: str) -> None:
    """The front is only as good as its likeness: the ping's headers, /version's range, the exact refusal of 1.41,
    and the node listing on a version Engine 29 speaks."""
    status, headers, body = ask(engine29, "GET", "/_ping")
    assert (200, b"OK", "1.52", "active/manager") == (status, body, headers["Api-Version"], headers["Swarm"])
    assert {"Docker-Experimental", "Ostype"} <= set(headers.keys())
    status, headers, body = ask(engine29, "HEAD", "/_ping")
    assert (200, b"", "1.52") == (status, body, headers["Api-Version"])
    status, _, body = ask(engine29, "GET", "/version")
    version = json.loads(body)
    assert (200, "1.52", "1.44") == (status, version["ApiVersion"], version["MinAPIVersion"])
    status, _, body = ask(engine29, "GET", "/v1.41/nodes")
    assert (400, {"message": TOO_OLD}) == (status, json.loads(body))
    status, _, body = ask(engine29, "GET", "/v1.52/nodes")
    assert 200 == status and 5 == len(json.loads(body))


def test_the_service_publishes_and_follows_labels_through_engine_29(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    labels: Callable[..., None],
    engine29: str,
) -> None:
    """Against Engine 29: the version chosen is said at INFO, the definition is published, a label change follows;
    no Docker line above INFO."""
    seed_base(kv)
    quick(kv)
    service = start_service(DOCKER_HOST=engine29)
    service.wait_for(ENGINE_29)
    service.wait_for(PUBLISHED)

    labels("worker-1", "io.neon.test.engine", "29")
    wait_until(lambda: label_in_consul(kv, "worker-1", "io.neon.test.engine") == "29", timeout=30)

    assert [] == service.lines(r"\[(WARN|ERROR)\] \[module:(swarm-watcher|node-events)\]")


def test_a_daemon_swapped_under_a_running_service_is_followed(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    labels: Callable[..., None],
    engine29: str,
    real_stack: dict[str, Any],
    tmp_path: Path,
) -> None:
    """DOCKER_HOST is a path whose daemon changes (20.10, then Engine 29, then 20.10 again), as in an Engine upgrade
    or a proxy restarted before another daemon: each change is followed without a restart, a label change reaches
    Consul each time, and the version is said again, with at most one WARN per change."""
    manager = next(node for node in real_stack["nodes"] if node["hostname"] == MANAGER)
    link = tmp_path / "docker.sock"

    def point_at(docker_host: str) -> None:
        new = tmp_path / "docker.sock.new"
        new.unlink(missing_ok=True)
        os.symlink(docker_host.removeprefix("unix://"), new)
        os.replace(new, link)  # atomic: every connection reaches one daemon or the other

    point_at(manager["docker_host"])
    seed_base(kv)
    quick(kv)
    service = start_service(DOCKER_HOST=f"unix://{link}")
    service.wait_for(ENGINE_20)
    service.wait_for(PUBLISHED)

    for value, docker_host, said in [("a", engine29, ENGINE_29), ("b", manager["docker_host"], ENGINE_20)]:
        mark = service.mark()
        point_at(docker_host)
        labels("worker-2", "io.neon.test.swap", value)
        wait_until(lambda: label_in_consul(kv, "worker-2", "io.neon.test.swap") == value, timeout=30)  # noqa: B023
        service.wait_for(said, after=mark)
        warns = service.lines(r"\[WARN\]", after=mark)
        assert len(warns) <= 1, warns
    assert [] == service.lines(r"\[ERROR\]")
    assert service.process.poll() is None


def test_docker_refusing_every_listing_from_start_leaves_no_vault_unwatched(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    with_keys: dict[str, str],
    engine29: str,
) -> None:
    """Pinned to a version Engine 29 refuses, the service never lists a node: the managers the stored definition
    names are watched instead (one WARN), a restarted Vault among them is reported sealed and unsealed."""
    managers = ("manager-1", "manager-2", "manager-3")
    nodes = {
        name: {"Name": name, "PrivateAddress": address(name), "Role": "manager", "IsManager": True} for name in managers
    }
    kv.kv.put(DEFINITION_KEY, deflate(json.dumps({**BASE, "Nodes": nodes}).encode()))
    service = start_service(DOCKER_API_VERSION="1.41", DOCKER_HOST=engine29, **with_keys)
    service.wait_for(r"\[ERROR\] \[module:swarm-watcher\] cannot list the Swarm's nodes through Docker")
    service.wait_for(
        r"\[WARN\] \[module:vault-fleet\] no node listing from Docker since start: monitoring the Vaults of the"
        r" managers the stored cluster definition names \(manager-1, manager-2, manager-3\)"
    )
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    mark = service.mark()
    stack.vault_restart(1)
    service.wait_for(r"\[ERROR\] \[module:vault-monitor:manager-2\] Vault on manager-2 .* is sealed", after=mark)
    service.wait_for(r"unsealed the Vault on manager-2 ", after=mark)
    wait_until(lambda: not stack.vault_seal_status(1)["sealed"], timeout=30)

    assert TOO_OLD in service.lines(r"cannot list the Swarm's nodes")[0]
    assert 1 == len(service.lines(r"no node listing from Docker since start"))
