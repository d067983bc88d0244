"""Fixtures on the real stack: Consul, a 5-node Docker Swarm and OpenBao, started once per session."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import consul
import pytest

import teststack
from neon_cm.keys import SETTINGS_PREFIX
from tests.consul_server import ConsulServer
from tests.service import ROOT, RUNNING, Service, stop_all
from teststack.processes import pid_alive

MANAGER = "manager-1"


def address(hostname: str) -> str:
    """The loopback address of the stack node `hostname` on this worker's slot (127.0.<slot>.<octet>)."""
    return {name: addr for name, _role, addr in teststack.nodes()}[hostname]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
    # The order of the run is tests/conftest.py's (pytest_collection_modifyitems, after this one).


@pytest.fixture(scope="session")
def real_stack() -> Iterator[dict[str, Any]]:
    """The stack of this worker's slot from the teststack package, held for this session alone: reused when
    already up, else started here and stopped at the end."""
    with teststack.exclusive():
        was_up, _ = teststack.status()
        state = teststack.up()
        yield state
        if not was_up and os.environ.get("NEON_CM_KEEP_STACK") != "1":
            teststack.down()


@pytest.fixture(scope="module")
def acl_consul(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsulServer]:
    """A real Consul agent of the test module's own (ACLs on, default deny) on free loopback ports: one per
    module that asks for it, stopped after the module."""
    server = ConsulServer(tmp_path_factory.mktemp("acl-consul"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def deploy_images(real_stack: dict[str, Any]) -> list[str]:
    """The service's and the Docker proxy's images (their tags, the service's first), built once for every
    parallel worker's stack (teststack.images_cached: by the first worker at its start, see tests/conftest.py)
    and loaded into every manager of this worker's stack under every tag, for every test that deploys them. They
    stay on the managers after the session (the next build replaces them): Docker's build cache is kept with them,
    and removing them costs as much as a build."""
    return teststack.images_build()


@pytest.fixture
def kv(real_stack: dict[str, Any]) -> Iterator[consul.Consul]:
    """A Consul client with the service's keys (neon/) cleared before the test."""
    host, port = real_stack["consul"]["http_addr"].rsplit(":", 1)
    client = consul.Consul(host=host, port=int(port))
    client.kv.delete("neon/", recurse=True)
    yield client


@pytest.fixture
def service_env(real_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment pointing a service at the stack's Consul and manager-1's Docker, its health file in a folder
    of the test's own (the default, /tmp/neon-cluster-manager.health, would be every parallel worker's)."""
    return stack_service_env(real_stack, tmp_path_factory)


def stack_service_env(real_stack: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    manager = next(node for node in real_stack["nodes"] if node["hostname"] == MANAGER)
    return {
        "CONSUL_HTTP_ADDR": real_stack["consul"]["http_addr"],
        "DOCKER_HOST": manager["docker_host"],
        "LOG_LEVEL": "DEBUG",
        "NEON_CM_HEALTH_FILE": str(tmp_path_factory.mktemp("health") / "health"),
    }


@pytest.fixture
def start_service(service_env: dict[str, str]) -> Iterator[Callable[..., Service]]:
    """Start services (env overrides as keywords); each is stopped with SIGTERM after the test."""
    started: list[Service] = []

    def start(**overrides: str) -> Service:
        service = Service({**service_env, **overrides})
        started.append(service)
        return service

    yield start
    stop_cleanly(started)


def stop_cleanly(services: list[Service]) -> None:
    """SIGTERM each service: it exits 0 (unless the test killed it), wrote nothing on stderr, and no unseal key
    appeared in its log, nor a masked one."""
    secrets = unseal_key_forms(teststack.load())
    hung = []
    for service in services:  # all of them, before any verdict: none may go on running into the next test
        try:
            service.stop()
        except AssertionError as error:
            hung.append(str(error))
    assert not hung, "\n\n".join(hung)
    for service in services:
        code = service.process.returncode
        assert 0 == code or service.killed, "\n".join(service.stdout + service.stderr)
        assert [] == service.stderr, "nothing but log lines on stdout in normal operation"
        leaked = [line for line in service.stdout if any(secret in line for secret in secrets)]
        assert [] == leaked, "an unseal key appeared in the log"
        assert [] == service.lines(r"\*\*\*"), "something tried to log an unseal key (the Logger masked it)"


def unseal_key_forms(state: dict[str, Any]) -> set[str]:
    """The stack's unseal keys in base64 and hex: none may ever appear in a log line."""
    return set(state["vault"]["keys_base64"]) | set(state["vault"]["keys_hex"])


@pytest.fixture
def docker_cli(real_stack: dict[str, Any]) -> Callable[..., str]:
    """Run the docker CLI against manager-1, as an operator would."""

    def run(*args: str) -> str:
        return teststack.docker(MANAGER, *args)

    return run


@pytest.fixture
def swarm_nodes(docker_cli: Callable[..., str]) -> Callable[[], list[dict[str, Any]]]:
    """`docker node inspect` of every node."""

    def inspect() -> list[dict[str, Any]]:
        ids = docker_cli("node", "ls", "-q").split()
        return json.loads(docker_cli("node", "inspect", *ids))

    return inspect


@pytest.fixture
def labels(docker_cli: Callable[..., str]) -> Iterator[Callable[..., None]]:
    """Add labels to nodes with `docker node update`; they are removed after the test."""
    added: list[tuple[str, str]] = []

    def add(node: str, key: str, value: str) -> None:
        docker_cli("node", "update", "--label-add", f"{key}={value}", node)
        added.append((node, key))

    yield add
    for node, key in added:
        if key in json.loads(docker_cli("node", "inspect", "--format", "{{json .Spec.Labels}}", node)):
            docker_cli("node", "update", "--label-rm", key, node)


@pytest.fixture
def vault(real_stack: dict[str, Any], kv: consul.Consul) -> Iterator[dict[str, Any]]:
    """The stack's OpenBao cluster with quick polls configured; every node running and unsealed after the test.

    The services started since this fixture was set up (the test's) are stopped first: start_service's teardown
    comes after this one's when the test asked for start_service first, and a service with wrong shares polling a
    node the test restarted would send its shares into the fixture's unseal attempt, which Vault then refuses."""
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "0.5")
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "1")
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", "http://{addr}:8200")
    before = list(RUNNING)
    yield real_stack["vault"]
    stop_all(keep=before)
    state = teststack.load()
    for index, node in enumerate(state["vault"]["nodes"]):
        if pid_alive(node.get("pid")):
            os.kill(node["pid"], signal.SIGCONT)  # a test may have left it stopped (SIGSTOP)
        else:
            if node.get("pid"):  # it died under the test (seen once in CI): say so, with its last lines, and restart it
                sys.stderr.write(f"vault node {index} (pid {node['pid']}) had exited; its log ends:\n")
                sys.stderr.write(log_tail(node) + "\n")
            teststack.vault_start(index)
        teststack.vault_unseal(index)


def log_tail(node: dict[str, Any], lines: int = 20) -> str:
    """The last lines of an OpenBao node's log, or why there are none."""
    try:
        with open(node["log"], errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except (OSError, KeyError) as error:
        return f"(no log: {error})"


@pytest.fixture
def with_keys(vault: dict[str, Any]) -> dict[str, str]:
    """Environment with the cluster's real unseal keys (base64, as `bao operator init` prints them)."""
    return {"VAULT_CREDENTIALS": credentials(vault["keys_base64"], vault["threshold"])}


def credentials(keys: list[str], threshold: int) -> str:
    """VAULT_CREDENTIALS for these keys: base64 of the JSON."""
    return base64.b64encode(json.dumps({"UnsealKeys": keys, "KeyThreshold": threshold}).encode()).decode()


@pytest.fixture
def cli_env(service_env: dict[str, str]) -> dict[str, str]:
    """The stack's Consul and manager-1's Docker, as an operator's shell would have them."""
    return {key: value for key, value in service_env.items() if key not in ("LOG_LEVEL", "NEON_CM_HEALTH_FILE")}


Cli = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    """Run `python -m cli ARGS` (what the console script runs) with `stdin`; other keywords override the env."""

    def run(*args: str, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env={**os.environ, **cli_env, **env},
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            timeout=60,
        )

    return run
