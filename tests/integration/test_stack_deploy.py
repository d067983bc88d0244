"""deploy/neon-cluster-manager.yml on the test Swarm with the `docker stack deploy` of docs/deployment.md: the
service's two replicas on two managers behind the read-only Docker proxy publish, unseal, follow node events through
the proxy, cannot do anything else to Docker; the page's secret rotation is one deploy that a second deploy keeps;
and `docker stack rm` stops both services cleanly."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.credentials import parse_credentials_json
from neon_cm.keys import SETTINGS_PREFIX
from tests.deploy_docs import documented_block, documented_command, documented_commands
from tests.integration.conftest import unseal_key_forms
from tests.integration.test_definition_pipeline import read_definition, seed_base
from tests.integration.test_deployment import (
    DOCKER_PACE,
    published_hash,
    secret_create,
    service_tasks,
    task_hostname,
    unseal_keys,
)
from tests.prometheus_server import Prometheus, documented_config, free_port
from tests.service import ROOT
from tests.waiting import wait_until

DEPLOY = documented_command("stack", "docker", "stack", "deploy")
REMOVE = documented_command("stack-rm", "docker", "stack", "rm")
STACK = DEPLOY[-1]
SECRETS = [command[3] for command in documented_commands("stack") if command[:3] == ["docker", "secret", "create"]]
ROTATION = documented_block("rotate")
ROTATED = [command[3] for command in documented_commands("rotate") if command[:3] == ["docker", "secret", "create"]]
#: What the rotation block exports: the variables every later deploy must have.
ROTATED_NAMES = dict(
    word.split("=", 1) for command in documented_commands("rotate") if command[0] == "export" for word in command[1:]
)
SERVICE = f"{STACK}_neon-cluster-manager"
PROXY = f"{STACK}_docker-proxy"
VOLUME = f"{STACK}_docker-proxy"
NAMESPACE = "com.docker.stack.namespace"
#: A log line's timestamp (UTC).
LOGGED = re.compile(r"^\[(\d{4}-\d\d-\d\dT[^]]+)\] ")
#: Longer than the proxy's default client and server timeouts (10 s, deploy/docker-proxy/haproxy.cfg).
IDLE_SECONDS = 15

#: Run inside the service's container with its own Python and Docker SDK, through DOCKER_HOST (the proxy): what
#: a compromised service would try. Prints {call: HTTP status}.
PROBE = """
import json, os, docker
client = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="1.41", timeout=10)
node = client.nodes()[0]
def status(call):
    try:
        call()
        return 200
    except docker.errors.APIError as error:
        return error.status_code
print(json.dumps({
    "GET /nodes": status(client.nodes),
    "POST /containers/create": status(lambda: client.create_container("neon-docker-proxy:latest")),
    "POST /nodes/<id>/update": status(
        lambda: client.update_node(node["ID"], node["Version"]["Index"], node["Spec"])
    ),
    "GET /secrets": status(client.secrets),
    # until=1 (1970): answered at once, should the proxy let it through.
    "GET /events (all types)": status(
        lambda: client._raise_for_status(client._get(client._url("/events"), params={"until": "1"}))
    ),
    "GET /v1.40/nodes": status(lambda: client._raise_for_status(client._get(client.base_url + "/v1.40/nodes"))),
}))
"""


def managers(state: dict[str, Any]) -> list[str]:
    return [node["hostname"] for node in state["nodes"] if node["role"] == "manager"]


class Stack:
    """The stack deployed with docs/deployment.md's commands, and what an operator reads about it."""

    def __init__(self, state: dict[str, Any], docker: Callable[..., str]) -> None:
        self.state = state
        self.docker = docker

    def shell_env(self, **exported: str) -> dict[str, str]:
        """The deploying shell's environment, with the variables the page names: manager-1's Docker, the stack's
        Consul, the socket of whichever manager runs a task (each test manager has its own), and `exported`."""
        manager = self.state["nodes"][0]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "NEON_CM_"))}
        env.update(
            DOCKER_HOST=manager["docker_host"],
            CONSUL_HTTP_ADDR=self.state["consul"]["http_addr"],
            DOCKER_SOCKET=os.path.join(self.state["state_dir"], "docker", "{{.Node.Hostname}}", "docker.sock"),
        )
        env.update(exported)
        return env

    def deploy(self, **exported: str) -> None:
        """The page's `docker stack deploy`, from the repository's root, in the deploying shell (`shell_env`)."""
        cli = stack.load()["binaries"]["docker_cli"]
        env = self.shell_env(**exported)
        result = subprocess.run([cli, *DEPLOY[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert 0 == result.returncode, result.stderr

    def run_block(self, block: str, folder: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """A shell block of the page run by bash -e as an operator would: in `folder`, holding `files` and the
        repository's deploy/ folder, with the test Swarm's docker CLI first on PATH."""
        cli = Path(stack.load()["binaries"]["docker_cli"])
        (folder / "bin").mkdir()
        (folder / "bin" / "docker").symlink_to(cli)
        (folder / "deploy").symlink_to(ROOT / "deploy")
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        env = self.shell_env()
        env["PATH"] = f"{folder / 'bin'}:{env.get('PATH', '')}"
        return subprocess.run(
            ["bash", "-e", "-c", block], cwd=folder, env=env, capture_output=True, text=True, timeout=900
        )

    def secrets(self, service: str = SERVICE) -> list[str]:
        """The names of the secrets the service's spec holds."""
        spec = json.loads(self.docker("service", "inspect", service))[0]["Spec"]
        return sorted(secret["SecretName"] for secret in spec["TaskTemplate"]["ContainerSpec"].get("Secrets", []))

    def tasks(self, service: str) -> list[dict[str, Any]]:
        """`docker inspect` of the service's tasks."""
        return service_tasks(self.docker, service)

    def running(self, service: str) -> list[dict[str, Any]]:
        return [task for task in self.tasks(service) if task["Status"]["State"] == "running"]

    def hostname(self, task: dict[str, Any]) -> str:
        return task_hostname(self.docker, task)

    def container(self, task: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(the manager running the task, `docker inspect` of its container there)."""
        host = self.hostname(task)
        container_id = task["Status"]["ContainerStatus"]["ContainerID"]
        return host, json.loads(stack.docker(host, "inspect", container_id))[0]

    def logs(self, service: str = SERVICE) -> list[str]:
        """`docker logs` of each of the service's task containers, on the manager running it, in task order
        (`docker service logs` on these daemons now and then leaves out a task's first lines)."""
        cli = stack.load()["binaries"]["docker_cli"]
        lines: list[str] = []
        for task in sorted(self.tasks(service), key=lambda task: task["CreatedAt"]):
            container_id = task["Status"].get("ContainerStatus", {}).get("ContainerID")
            if not container_id:
                continue
            node = next(node for node in self.state["nodes"] if node["hostname"] == self.hostname(task))
            result = subprocess.run(
                [cli, "-H", node["docker_host"], "logs", container_id],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                check=False,
            )
            lines.extend(line.rstrip() for line in result.stdout.splitlines())
        return lines

    def containers(self) -> dict[str, list[str]]:
        """The stack's containers on each manager, running or not."""
        label = f"label=com.docker.stack.namespace={STACK}"
        return {name: stack.docker(name, "ps", "-aq", "--filter", label).split() for name in managers(self.state)}

    def remove(self) -> tuple[int, dict[str, str], dict[str, list[str]]]:
        """The page's `docker stack rm`, watching every manager for the stack's running containers dying: (the
        command's exit code, {container: its exit code from Docker's `die` event} of the containers that were running,
        {container: its log lines from the command on} of the service's). The watchers read Docker's events from
        before the command on (`--since`), so none is missed however late a watcher starts following."""
        cli = stack.load()["binaries"]["docker_cli"]
        hosts = {node["hostname"]: node["docker_host"] for node in self.state["nodes"]}
        running = {
            (name, cid): stack.docker(name, "inspect", "--format", "{{.Name}}", cid).strip().lstrip("/")
            for name, ids in self.containers().items()
            for cid in ids
            if stack.docker(name, "inspect", "--format", "{{.State.Running}}", cid).strip() == "true"
        }
        since = f"{time.time() - 0.5:.3f}"
        watchers = [
            subprocess.Popen(
                [cli, "-H", hosts[name], "events", "--since", since, "--filter", f"label={NAMESPACE}={STACK}",
                 "--filter", "event=die", "--format", "{{json .}}"],
                stdout=subprocess.PIPE, text=True,
            )
            for name in sorted({name for name, _ in running})
        ]  # fmt: skip
        followers = {
            container: subprocess.Popen(
                [cli, "-H", hosts[name], "logs", "--follow", "--since", since, cid],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            for (name, cid), container in running.items() if container.startswith(SERVICE + ".")
        }  # fmt: skip
        exits: dict[str, str] = {}
        try:
            result = subprocess.run([cli, "-H", hosts["manager-1"], *REMOVE[1:]], capture_output=True, text=True)
            deadline = time.monotonic() + 60
            streams = [watcher.stdout for watcher in watchers if watcher.stdout is not None]
            while len(exits) < len(running) and time.monotonic() < deadline:
                readable, _, _ = select.select(streams, [], [], 1)
                for stream in readable:
                    event = json.loads(stream.readline())
                    if any(event["id"].startswith(cid) for _, cid in running):
                        exits[event["Actor"]["Attributes"]["name"]] = event["Actor"]["Attributes"].get("exitCode")
        finally:
            for watcher in watchers:
                watcher.kill()
                watcher.communicate()
            last_lines = {}
            for container, follower in followers.items():
                try:
                    last_lines[container] = follower.communicate(timeout=10)[0].splitlines()
                except subprocess.TimeoutExpired:
                    follower.kill()
                    last_lines[container] = follower.communicate()[0].splitlines()
        for container in running.values():
            exits.setdefault(container, "no die event within 60 s")
        return result.returncode, exits, last_lines

    def clean(self) -> None:
        """Remove whatever of the stack is left, then its volume on every manager."""
        if any(line.startswith(f"{STACK} ") for line in self.docker("stack", "ls").splitlines()):
            self.docker(*REMOVE[1:])
        wait_until(
            lambda: not any(self.containers().values()),
            60,
            f"the containers of {STACK} to be removed",
            interval=DOCKER_PACE,
        )
        for name in managers(self.state):
            if stack.docker(name, "volume", "ls", "-q", "--filter", f"name={VOLUME}").split():
                stack.docker(name, "volume", "rm", VOLUME)


@pytest.fixture
def deployed(
    real_stack: dict[str, Any],
    deploy_images: list[str],
    kv: consul.Consul,
    vault: dict[str, Any],
    docker_cli: Callable[..., str],
) -> Iterator[Stack]:
    """The page's two secrets (the unseal keys, and a Consul token: the stack's Consul has no ACLs, so any UUID)
    and a base definition in Consul; whatever is left of the stack is removed after the test, then the secrets."""
    for name, value in zip(SECRETS, (unseal_keys(vault), str(uuid.uuid4())), strict=True):
        secret_create(docker_cli, name, value)
    seed_base(kv)
    deployment = Stack(real_stack, docker_cli)
    try:
        yield deployment
    finally:
        try:
            deployment.clean()
        finally:
            left = set(docker_cli("secret", "ls", "--format", "{{.Name}}").split()) & {*SECRETS, *ROTATED}
            if left:
                docker_cli("secret", "rm", *sorted(left))


def test_the_stack_publishes_unseals_follows_node_events_through_the_proxy_and_stack_rm_stops_it_cleanly(
    deployed: Stack, kv: consul.Consul, labels: Callable[..., None], tmp_path: Path
) -> None:
    """One `docker stack deploy` of deploy/neon-cluster-manager.yml (with NEON_CM_METRICS_PORT), checked as an operator
    would, then `docker stack rm`:

    - one proxy on each manager, the service's two replicas on two managers, one active and one standing by; it reads
      both secrets, publishes the definition and unseals a restarted Vault. With the node poll at an hour, a label
      change reaches Consul through the node event stream, which the proxy carries; it still does after the stream
      stayed idle longer than the proxy's default timeouts, with no reconnection;
    - a real Prometheus (Debian's 2.42) run with docs/operations.md's prometheus.yml, discovering the Swarm through
      manager-1's Docker, scrapes every manager at that port under the job the alert rules select. The test Swarm's
      managers share this machine's network, so the two replicas ask for one port: the one that cannot have it says
      `degraded` with the reason in `health` (and passes the health check), the other `healthy`;
    - from inside the service's container (uid 10001, no extra group, no Docker socket mounted), through the proxy:
      creating a container, updating a node, listing secrets, reading every event type and another API version are
      refused with 403, while the node listing works;
    - `docker stack rm` exits 0 and every container of the stack (the service's two, the three proxies) exits 0."""
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "3600")  # only the event stream brings a change in time
    port = free_port()
    started = time.monotonic()
    deployed.deploy(NEON_CM_METRICS_PORT=str(port))
    first = wait_until(
        lambda: published_hash(kv), 90, "the first definition in Consul", lambda: deployed.logs(), interval=DOCKER_PACE
    )
    print(f"docker stack deploy to the first definition in Consul: {time.monotonic() - started:.1f} s")
    proxies: list[dict[str, Any]] = wait_until(
        lambda: tasks if len(tasks := deployed.running(PROXY)) == 3 else None,
        60,
        "a proxy on every manager",
        interval=DOCKER_PACE,
    )
    stack.vault_restart(1)
    wait_until(
        lambda: not stack.vault_seal_status(1)["sealed"],
        30,
        "manager-2's restarted Vault to be unsealed",
        interval=DOCKER_PACE,
    )
    wait_until(
        lambda: any("GET /v1.41/events?" in line and " 200 " in line for line in deployed.logs(PROXY)),
        30,
        "the proxy to log the service's event stream (at its response headers: `option logasap`)",
        interval=DOCKER_PACE,
    )
    idle_from = datetime.now(UTC)
    idle_since = time.monotonic()
    # While the event stream stays idle: Prometheus discovers the managers and scrapes them (not through the proxy).
    prometheus = Prometheus([], tmp_path, documented_config(deployed.state["nodes"][0]["docker_host"], port))
    try:
        up = wait_until(
            lambda: found if len(found := prometheus.query('up{job="neon-cluster-manager"}')) == 3 else None,
            60,
            "a target for each of the three managers",
        )
        scraped = wait_until(
            lambda: prometheus.query('neon_cm_healthy{job="neon-cluster-manager"} == 1') or None,
            60,
            "a scrape of the service's metrics",
        )
    finally:
        prometheus.stop()
    # The event stream stays idle longer than the proxy's default timeouts.
    time.sleep(max(0.0, IDLE_SECONDS - (time.monotonic() - idle_since)))
    labels("worker-1", "io.neon.compute.cores", "8")
    wait_until(
        lambda: published_hash(kv) != first,
        30,
        "a new definition after a label change",
        deployed.logs,
        interval=DOCKER_PACE,
    )
    definition, _, _, _ = read_definition(kv)
    replicas = wait_until(  # `running` once its first health check passed (30 s after its start)
        lambda: tasks if len(tasks := deployed.running(SERVICE)) == 2 else None,
        120,
        "two replicas running",
        interval=DOCKER_PACE,
    )
    lines = deployed.logs()
    proxy_hosts = sorted(deployed.hostname(task) for task in proxies)
    replica_hosts = {deployed.hostname(task) for task in replicas}
    proxy_lines = deployed.logs(PROXY)
    verdicts = []
    for task in replicas:
        host, container = deployed.container(task)
        result = subprocess.run(
            [stack.load()["binaries"]["docker_cli"], "-H", node_host(deployed, host), "exec", container["Id"],
             "neon-cluster-manager", "health"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        verdicts.append((result.returncode, result.stdout.strip()))
    host, container = deployed.container(replicas[0])
    probe = stack.docker(host, "exec", container["Id"], "python", "-c", PROBE)
    socket_inside = stack.docker(
        host, "exec", container["Id"], "python", "-c", "import os; print(os.path.exists('/var/run/docker.sock'))"
    )
    mounts = sorted((mount["Type"], mount["Destination"]) for mount in container["Mounts"])
    exit_code, exits, last_lines = deployed.remove()

    assert ["manager-1", "manager-2", "manager-3"] == proxy_hosts
    assert 2 == len(replica_hosts), "two replicas, on two managers"
    assert 1 == len([line for line in lines if re.search(r"this instance \(.*\) is active", line)])
    assert any("standing by: " in line for line in lines)
    assert 8 == definition["Nodes"]["worker-1"]["Labels"]["ComputeCores"]
    assert any("auto-unseal enabled: 3 keys, threshold 2" in line for line in lines)
    assert any("Vault on manager-2" in line and "is unsealed" in line for line in lines)
    # A task's lines since the stream went idle (the log holds each task's lines in turn: an index is no mark).
    idle = [line for line in lines if LOGGED.match(line) and logged_at(line) >= idle_from]
    assert [] == [line for line in idle if "node-events" in line or "node events:" in line], "the event stream was cut"
    assert [] == [line for line in proxy_lines if "GET /v1.41/nodes" in line], "a successful listing is not logged"
    assert [] == [line for line in lines if any(key in line for key in unseal_key_forms(deployed.state))]

    assert ["manager-1", "manager-2", "manager-3"] == sorted(sample["metric"]["instance"] for sample in up)
    assert scraped
    assert [
        (0, f"degraded: /metrics and /health are not served: port {port} is taken (Address already in use)"),
        (0, "healthy"),
    ] == sorted(verdicts)

    assert {
        "GET /nodes": 200,
        "POST /containers/create": 403,
        "POST /nodes/<id>/update": 403,
        "GET /secrets": 403,
        "GET /events (all types)": 403,
        "GET /v1.40/nodes": 403,
    } == json.loads(probe)
    assert "False" == socket_inside.strip()
    assert [("volume", "/run/neon-docker-proxy")] == [m for m in mounts if not m[1].startswith("/run/secrets/")]
    assert ("10001:10001", []) == (container["Config"]["User"], container["HostConfig"].get("GroupAdd") or [])

    assert 0 == exit_code
    assert [SERVICE, SERVICE, PROXY, PROXY, PROXY] == sorted(
        (container.split(".")[0] for container in exits), reverse=True
    ), exits
    assert {container: "0" for container in exits} == exits, last_lines


#: Run inside the service's container: each (method, path) through DOCKER_HOST (the proxy), raw, on every API version
#: around the ones the service speaks. Prints {"METHOD path": HTTP status}.
PROBE_PATHS = """
import http.client, json, os, socket, sys
def status(method, path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(os.environ["DOCKER_HOST"].removeprefix("unix://"))
    connection = http.client.HTTPConnection("localhost")
    connection.sock = sock
    connection.request(method, path)  # no body: HAProxy answers a denied request at once and closes
    answer = connection.getresponse().status
    sock.close()
    return answer
print(json.dumps({f"{m} {p}": status(m, p) for m, p in json.loads(sys.argv[1])}))
"""


def test_on_engine_29_the_stack_publishes_follows_labels_and_the_proxy_refuses_the_rest(
    deployed: Stack, kv: consul.Consul, labels: Callable[..., None]
) -> None:
    """Every manager presented as a Docker Engine 29 (teststack/engine29.py), the proxies in front of the fronts: the
    service negotiates 1.52 through the proxy (said at INFO), publishes, and follows a label change by the event
    stream. From inside its container, the proxy lets the ping, /version and the node paths through on the versions
    the service speaks (Engine 29 itself refuses 1.41), and refuses everything else on every version."""
    fronts = [stack.engine29_start(name) for name in managers(deployed.state)]
    try:
        kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "3600")  # only the event stream brings a change in time
        front_dir = os.path.dirname(fronts[0].removeprefix("unix://"))
        deployed.deploy(DOCKER_SOCKET=os.path.join(front_dir, "{{.Node.Hostname}}.sock"))
        first = wait_until(
            lambda: published_hash(kv), 90, "the first definition", lambda: deployed.logs(), interval=DOCKER_PACE
        )
        labels("worker-2", "io.neon.compute.cores", "6")
        wait_until(lambda: published_hash(kv) != first, 30, "a new definition", deployed.logs, interval=DOCKER_PACE)
        running = wait_until(lambda: deployed.running(SERVICE), 60, "a running task", interval=DOCKER_PACE)
        host, container = deployed.container(running[0])
        asked = [("GET", "/_ping"), ("HEAD", "/_ping"), ("GET", "/version"), ("POST", "/_ping")]
        for version in ("1.40", "1.41", "1.44", "1.52", "1.55", "1.56"):
            asked += [("GET", f"/v{version}/nodes"), ("POST", f"/v{version}/containers/create")]
            asked += [("GET", f"/v{version}/secrets"), ("POST", f"/v{version}/nodes/x/update?version=1")]
        probe = json.loads(stack.docker(host, "exec", container["Id"], "python", "-c", PROBE_PATHS, json.dumps(asked)))
        lines = deployed.logs()
    finally:
        deployed.clean()
        for name in managers(deployed.state):
            stack.engine29_stop(name)

    definition, _, _, _ = read_definition(kv)
    assert 6 == definition["Nodes"]["worker-2"]["Labels"]["ComputeCores"]
    assert any("speaking Docker API 1.52 (the daemon speaks up to 1.52" in line for line in lines), lines
    passed = {request for request, status in probe.items() if status != 403}
    assert {
        "GET /_ping",
        "HEAD /_ping",
        "GET /version",
        "GET /v1.41/nodes",  # the proxy lets it through, and Engine 29 refuses it (400)
        "GET /v1.44/nodes",
        "GET /v1.52/nodes",
        "GET /v1.55/nodes",  # likewise: newer than Engine 29.1
    } == passed, probe
    assert (400, 200, 200, 400) == tuple(probe[f"GET /v{v}/nodes"] for v in ("1.41", "1.44", "1.52", "1.55"))


def test_the_pages_rotation_of_both_secrets_is_one_deploy_and_survives_the_next_deploy(
    deployed: Stack, kv: consul.Consul, vault: dict[str, Any], tmp_path: Path
) -> None:
    """docs/deployment.md's rotation block, run by bash as written: new secrets under new names, one `docker stack
    deploy` naming them (a rolling update of both replicas), a wait for it to complete, the old secrets removed. The
    new tasks' start lines show the new key set's fingerprint (the old tasks' the old one), and `vault status` in a
    new task's container says the same; a second deploy with the variables still exported changes nothing (the
    same secrets, the same tasks). The new set (two of the three keys) still unseals a restarted Vault."""
    old = parse_credentials_json(unseal_keys(vault), "old")
    new_keys = json.dumps({"UnsealKeys": vault["keys_base64"][:2], "KeyThreshold": vault["threshold"]})
    new = parse_credentials_json(new_keys, "new")
    deployed.deploy()
    wait_until(
        lambda: len(deployed.running(SERVICE)) == 2 and published_hash(kv),
        120,
        "two replicas and the first definition",
        deployed.logs,
        interval=DOCKER_PACE,
    )

    rotation = deployed.run_block(
        ROTATION, tmp_path, {"vault-credentials.json": new_keys, "consul-token.txt": str(uuid.uuid4())}
    )
    assert 0 == rotation.returncode, rotation.stderr
    rotated_tasks = sorted(task["ID"] for task in deployed.running(SERVICE))
    container_host, container = deployed.container(deployed.running(SERVICE)[0])
    status = stack.docker(container_host, "exec", container["Id"], "neon-cluster-manager", "vault", "status")
    template = task_template(deployed)
    deployed.deploy(**ROTATED_NAMES)  # the next deploy, from the shell that keeps the variables
    # The tasks' spec unchanged: Swarm starts no update (it replaces a task only when its spec changed).
    assert template == task_template(deployed)
    stack.vault_restart(1)
    wait_until(lambda: not stack.vault_seal_status(1)["sealed"], 60, "manager-2's Vault unsealed by the new keys")
    lines = deployed.logs()
    starts = [line.split("auto-unseal enabled: ")[1] for line in lines if "auto-unseal enabled: " in line]

    assert sorted(ROTATED) == deployed.secrets()
    assert sorted(ROTATED_NAMES.values()) == sorted(ROTATED)
    assert [] == [name for name in docker_secret_names(deployed) if name in SECRETS]
    assert rotated_tasks == sorted(task["ID"] for task in deployed.running(SERVICE))
    assert 2 == len({deployed.hostname(task) for task in deployed.running(SERVICE)})
    assert old.fingerprint() != new.fingerprint()
    assert [old.describe()] * 2 + [new.describe()] * 2 == starts, "the old tasks' lines first, then the new"
    assert f"unseal keys here: {new.describe()}" in status
    assert [] == [line for line in lines if any(key in line for key in unseal_key_forms(deployed.state))]


def logged_at(line: str) -> datetime:
    match = LOGGED.match(line)
    assert match is not None, line
    return datetime.fromisoformat(match.group(1))


def task_template(deployed: Stack) -> dict[str, Any]:
    """The service's task template, as `docker service inspect` shows it."""
    return dict(json.loads(deployed.docker("service", "inspect", SERVICE))[0]["Spec"]["TaskTemplate"])


def docker_secret_names(deployed: Stack) -> list[str]:
    return deployed.docker("secret", "ls", "--format", "{{.Name}}").split()


def node_host(deployed: Stack, hostname: str) -> str:
    """The docker_host of the test Swarm's node `hostname`."""
    return next(node["docker_host"] for node in deployed.state["nodes"] if node["hostname"] == hostname)
