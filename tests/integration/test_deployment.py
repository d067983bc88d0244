"""The image built by scripts/image, deployed on the test Swarm with the `docker service create` command of
docs/deployment.md (read from there, so the page and the test cannot drift), and checked from outside the way an
operator would: Consul, `docker service logs`, `docker inspect`, `docker service ps`."""

from __future__ import annotations

import itertools
import json
import os
import re
import select
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.keys import HASH_KEY
from tests.deploy_docs import documented_command
from tests.integration.conftest import MANAGER, unseal_key_forms
from tests.integration.test_definition_pipeline import read_definition, seed_base
from tests.service import LOG_LINE
from tests.waiting import wait_until

#: Seconds between tries of a condition that runs `docker` commands (each one a process).
DOCKER_PACE = 0.25
ACTIVE = re.compile(r"this instance \(.*\) is active")
STANDBY = "standing by: "
#: Health checks every 2 s instead of 30 s, so that a test sees `healthy` and `unhealthy` in seconds; the check
#: itself is the Dockerfile's (`neon-cluster-manager health`).
FAST_HEALTH = (
    "--health-interval",
    "2s",
    "--health-timeout",
    "5s",
    "--health-retries",
    "2",
    "--health-start-period",
    "5s",
)


#: docs/deployment.md's `docker service create` command, its secret and its service's name.
SERVICE_CREATE = documented_command("service-create", "docker", "service", "create")
SECRET = documented_command("service-create", "docker", "secret", "create")[3]
SERVICE = SERVICE_CREATE[SERVICE_CREATE.index("--name") + 1]
#: The image reference the page shows (it must exist on every manager: scripts/stack.py image loads it there).
IMAGE = SERVICE_CREATE[-1]


def service_tasks(docker: Callable[..., str], service: str) -> list[dict[str, Any]]:
    """`docker inspect` of a Swarm service's tasks, the old ones too (through `docker`, the CLI on a manager)."""
    for _ in range(5):  # Swarm may prune an old task between the listing and the inspection
        ids = docker("service", "ps", "--quiet", "--no-trunc", service).split()
        try:
            return json.loads(docker("inspect", "--type", "task", *ids)) if ids else []
        except stack.StackError as error:
            if "No such object" not in str(error):
                raise
    pytest.fail(f"the tasks of {service} keep changing")


def unseal_keys(vault: dict[str, Any]) -> str:
    """The stack's unseal keys as the Docker secret holds them: the JSON `VAULT_CREDENTIALS_FILE` reads."""
    return json.dumps({"UnsealKeys": vault["keys_base64"], "KeyThreshold": vault["threshold"]})


def secret_create(docker: Callable[..., str], name: str, value: str) -> None:
    """`docker secret create NAME FILE`, from a file written for it, as an operator creates one."""
    with tempfile.NamedTemporaryFile("w", suffix=".secret") as secret_file:
        secret_file.write(value)
        secret_file.flush()
        docker("secret", "create", name, secret_file.name)


def task_hostname(docker: Callable[..., str], task: dict[str, Any]) -> str:
    """The hostname of the node a task was given to."""
    return docker("node", "inspect", "--format", "{{.Description.Hostname}}", task["NodeID"]).strip()


@pytest.fixture
def image(deploy_images: list[str]) -> str:
    """The image reference docs/deployment.md shows, on every manager (the session's images: conftest's
    deploy_images)."""
    return IMAGE


class Deployment:
    """The service deployed with `docker service create`, and what an operator reads about it."""

    def __init__(self, state: dict[str, Any], docker: Callable[..., str]) -> None:
        self.state = state
        self.docker = docker
        self.nodes = {node["hostname"]: node for node in state["nodes"]}

    def create(self, image: str, *extra: str) -> None:
        """docs/deployment.md's `docker service create` with the stack's Consul, `--network host` (the test Swarm has
        no bridge), the socket of whichever manager runs the task (each test manager has its own) and its group, the
        `extra` options, and `image` (the documented one unless a test updates to another)."""
        sockets = os.path.join(self.state["state_dir"], "docker", "{{.Node.Hostname}}", "docker.sock")
        gid = os.stat(self.nodes[MANAGER]["docker_host"][len("unix://") :]).st_gid
        here = {
            "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock": (
                f"type=bind,source={sockets},target=/var/run/docker.sock"
            ),
            "$(stat -c %g /var/run/docker.sock)": str(gid),
            "CONSUL_HTTP_ADDR=<consul-host>:8500": f"CONSUL_HTTP_ADDR={self.state['consul']['http_addr']}",
        }
        *options, _ = SERVICE_CREATE[3:]
        options = [here.get(word, word) for word in options]
        self.docker("service", "create", "--detach", *options, "--network", "host", *extra, image)

    def tasks(self) -> list[dict[str, Any]]:
        """`docker inspect` of the service's tasks, the old ones too."""
        if SERVICE not in self.docker("service", "ls", "--format", "{{.Name}}").split():
            return []
        return service_tasks(self.docker, SERVICE)

    def running(self) -> list[dict[str, Any]]:
        return [task for task in self.tasks() if task["Status"]["State"] == "running"]

    def hostname(self, task: dict[str, Any]) -> str:
        return task_hostname(self.docker, task)

    def container(self, task: dict[str, Any]) -> dict[str, Any]:
        """`docker inspect` of the task's container, on the manager that runs it."""
        container_id = task["Status"]["ContainerStatus"]["ContainerID"]
        return json.loads(stack.docker(self.hostname(task), "inspect", container_id))[0]

    def logs(self) -> dict[str, list[str]]:
        """`docker service logs`, by task ID: the log lines alone, without Docker's prefix."""
        raw = self.docker("service", "logs", "--no-trunc", "--no-resolve", SERVICE)
        by_task: dict[str, list[str]] = {}
        for line in raw.splitlines():
            prefix, _, text = line.partition(" | ")
            task_id = prefix.split("@")[0].rsplit(".", 1)[-1].strip()
            by_task.setdefault(task_id, []).append(text.rstrip())
        return by_task

    def wait_running(self, count: int = 1, image: str = "", timeout: float = 60) -> list[dict[str, Any]]:
        """Wait until exactly `count` tasks run (of `image`, if given); return them."""

        def ready() -> list[dict[str, Any]] | None:
            tasks = self.running()
            of_image = [task for task in tasks if task["Spec"]["ContainerSpec"]["Image"].startswith(image)]
            return tasks if len(tasks) == len(of_image) == count else None

        what = f"{count} running task(s) of {image or 'the service'}"
        return wait_until(ready, timeout, what, self.story, interval=DOCKER_PACE)

    def story(self) -> str:
        """What an operator reads when an update goes wrong: each task's state and error, then each task's last
        log lines."""
        columns = "{{.ID}} {{.Image}} {{.Node}} {{.CurrentState}} {{.Error}}"
        tasks = self.docker("service", "ps", "--no-trunc", "--format", columns, SERVICE)
        logs = [f"{task}: {line}" for task, lines in self.logs().items() for line in lines[-15:]]
        return "\n".join(["docker service ps:", tasks, "docker service logs (the last 15 lines of each task):", *logs])

    def remove(self) -> None:
        """`docker service rm`, then wait until no container of it is left on any manager."""
        if SERVICE not in self.docker("service", "ls", "--format", "{{.Name}}").split():
            return
        self.docker("service", "rm", SERVICE)
        managers = [node["hostname"] for node in self.state["nodes"] if node["role"] == "manager"]

        def gone() -> bool:
            label = f"label=com.docker.swarm.service.name={SERVICE}"
            return not any(stack.docker(name, "ps", "-aq", "--filter", label).split() for name in managers)

        wait_until(gone, 60, f"the containers of {SERVICE} to be removed", interval=DOCKER_PACE)


@pytest.fixture
def deployment(
    real_stack: dict[str, Any], image: str, kv: consul.Consul, vault: dict[str, Any], docker_cli: Callable[..., str]
) -> Iterator[Deployment]:
    """The unseal keys as a Docker secret and a base definition in Consul; the service is removed after the test
    (always: a leftover instance would compete for the lock in the next test), then the secret."""
    secret_create(docker_cli, SECRET, unseal_keys(vault))
    seed_base(kv)
    deployed = Deployment(real_stack, docker_cli)
    try:
        yield deployed
    finally:
        try:
            logs = deployed.logs() if deployed.tasks() else {}
        finally:
            deployed.remove()
            docker_cli("secret", "rm", SECRET)
    leaked = [line for lines in logs.values() for line in lines if any(k in line for k in unseal_key_forms(real_stack))]
    assert [] == leaked, "an unseal key appeared in the log"


def published_hash(kv: consul.Consul) -> str | None:
    _, item = kv.kv.get(HASH_KEY)
    return item["Value"].decode() if item else None


def log_time(line: str) -> datetime:
    return datetime.fromisoformat(line[1 : line.index("]")])


def active_spans(logs: dict[str, list[str]]) -> list[tuple[datetime, datetime | None, str]]:
    """(became active, stopped being active or None, task) from each task's log."""
    spans: list[tuple[datetime, datetime | None, str]] = []
    for task, lines in logs.items():
        start = None
        for line in lines:
            if ACTIVE.search(line):
                start = log_time(line)
            elif start and ("no longer active" in line or "[module:main] stopping" in line):
                spans.append((start, log_time(line), task))
                start = None
        if start:
            spans.append((start, None, task))
    return sorted(spans, key=lambda span: span[0])


def remove_and_watch(deployment: Deployment, task: dict[str, Any]) -> tuple[str, float, list[str]]:
    """`docker service rm`, watching the task's container on its manager: (its exit code from Docker's `die`
    event, seconds from the command to that event, its last log lines)."""
    node = deployment.nodes[deployment.hostname(task)]
    container_id = task["Status"]["ContainerStatus"]["ContainerID"]
    cli = stack.load()["binaries"]["docker_cli"]
    watch = [cli, "-H", node["docker_host"]]
    died = subprocess.Popen(
        [*watch, "events", "--filter", f"container={container_id}", "--filter", "event=die", "--format", "{{json .}}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    logs = subprocess.Popen(
        [*watch, "logs", "--follow", "--tail", "0", container_id], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(0.5)  # both are following
        removed = time.monotonic()
        deployment.docker("service", "rm", SERVICE)
        assert died.stdout is not None
        readable, _, _ = select.select([died.stdout], [], [], 30)
        event = json.loads(died.stdout.readline()) if readable else {}
        exited_after = time.monotonic() - removed
        last_lines = logs.communicate(timeout=30)[0].splitlines()
    finally:
        for process in (died, logs):
            process.kill()
            process.communicate()

    return event.get("Actor", {}).get("Attributes", {}).get("exitCode", repr(event)), exited_after, last_lines


def test_deployed_service_publishes_unseals_logs_and_stops_cleanly(
    deployment: Deployment, image: str, kv: consul.Consul, labels: Callable[..., None]
) -> None:
    """Deployed as README says, the task runs on a manager as uid 10001 under tini, reads the unseal keys from
    the Docker secret, publishes the definition, follows a label change, unseals a restarted Vault, turns
    `healthy`, and `docker service logs` shows the spec's log lines. `docker service rm`: Swarm's SIGTERM reaches
    the service through tini, and the container exits 0 well within the 10 s stop grace period, its last log
    line saying it stopped."""
    deployment.create(image, *FAST_HEALTH)
    (task,) = deployment.wait_running()
    first = wait_until(lambda: published_hash(kv), 60, "the first definition in Consul", interval=DOCKER_PACE)

    labels("worker-1", "io.neon.compute.cores", "8")
    wait_until(lambda: published_hash(kv) != first, 30, "a new definition after a label change", interval=DOCKER_PACE)
    stack.vault_restart(1)
    wait_until(
        lambda: not stack.vault_seal_status(1)["sealed"],
        30,
        "manager-2's restarted Vault to be unsealed",
        interval=DOCKER_PACE,
    )
    container = deployment.container(task)
    health = wait_until(
        lambda: (s := deployment.container(task)["State"]["Health"]["Status"]) != "starting" and s,
        30,
        "a health verdict",
        interval=DOCKER_PACE,
    )
    logs = deployment.logs()
    lines = [line for task_lines in logs.values() for line in task_lines]
    definition, _, _, _ = read_definition(kv)
    processes = stack.docker(deployment.hostname(task), "top", container["Id"], "-o", "pid,user,args")
    exit_code, seconds, last_lines = remove_and_watch(deployment, task)

    assert "manager" == json.loads(deployment.docker("node", "inspect", task["NodeID"]))[0]["Spec"]["Role"]
    assert ("10001:10001", "healthy") == (container["Config"]["User"], health)
    assert 8 == definition["Nodes"]["worker-1"]["Labels"]["ComputeCores"]
    assert "/usr/bin/tini -- neon-cluster-manager" in processes
    assert [] == [line for line in lines if not LOG_LINE.match(line)]
    assert any("auto-unseal enabled: 3 keys, threshold 2" in line for line in lines)
    assert any("Vault on manager-2" in line and "is unsealed" in line for line in lines)
    assert [] == [line for line in lines if any(key in line for key in unseal_key_forms(deployment.state))]
    assert ("0", True) == (exit_code, seconds < 10), f"exit {exit_code} {seconds:.1f} s after `docker service rm`"
    assert last_lines[-1].endswith("[module:main] stopped"), last_lines[-3:]


def test_unhealthy_task_is_replaced_by_swarm(deployment: Deployment, image: str) -> None:
    """With Docker unreachable from inside the container, `neon-cluster-manager health` turns the task
    `unhealthy` after three node-poll intervals; Docker stops it (SIGTERM, so it exits 0) and Swarm starts a new
    task in its place."""
    # Swarm waits --restart-delay (5 s unless given) before it starts the new task.
    deployment.create(
        image, *FAST_HEALTH, "--restart-delay", "1s", "--env", "DOCKER_HOST=unix:///nonexistent/docker.sock"
    )
    deployment.wait_running()

    def replaced() -> tuple[dict[str, Any], dict[str, Any]] | None:
        tasks = deployment.tasks()
        ended = [task for task in tasks if task["DesiredState"] == "shutdown" and task["Status"]["State"] != "running"]
        running = [task for task in tasks if task["Status"]["State"] == "running"]
        return (ended[-1], running[0]) if ended and running else None

    ended, _ = wait_until(
        replaced,
        90,
        "Swarm to replace an unhealthy task",
        lambda: [t["Status"] for t in deployment.tasks()],
        interval=DOCKER_PACE,
    )
    # Docker stops an unhealthy task with its stop signal: the service exits 0, and Swarm starts another.
    health = deployment.container(ended)["State"]["Health"]

    failures = [check["Output"] for check in health["Log"] if check["ExitCode"] == 1]

    assert "unhealthy" == health["Status"]
    # The failures that made it unhealthy; a check that ran while Docker stopped it may say it stopped (under load).
    listing = "neon-cluster-manager: error: unhealthy: no successful node listing"
    stopped = "neon-cluster-manager: error: unhealthy: the service stopped at "
    assert any(output.startswith(listing) for output in failures), failures
    assert all(output.startswith((listing, stopped)) for output in failures), failures


def test_two_replicas_one_active_and_rolling_update_keeps_one_active(
    deployment: Deployment, image: str, kv: consul.Consul, labels: Callable[..., None]
) -> None:
    """`docker service scale =2`: one task active, the other standing by. A rolling `docker service update
    --image` to a second tag, with a label change and a Vault restart during it: never two active at once, the
    label reaches Consul, every Vault ends unsealed."""
    second = image + "-update"
    stack.image_tag(image, second)
    try:
        # Swarm watches each updated task --update-monitor long (5 s unless given) before it updates the next.
        deployment.create(image, *FAST_HEALTH, "--update-monitor", "1s")
        deployment.wait_running()
        wait_until(lambda: published_hash(kv), 60, "the first definition in Consul", interval=DOCKER_PACE)
        deployment.docker("service", "scale", "--detach", f"{SERVICE}=2")
        deployment.wait_running(2)

        def one_active_one_standby() -> dict[str, list[str]]:
            logs = deployment.logs()
            roles = sorted(
                "active" if any(ACTIVE.search(line) for line in lines) else "standby"
                for lines in logs.values()
                if any(ACTIVE.search(line) or STANDBY in line for line in lines)
            )
            return logs if ["active", "standby"] == roles else {}

        wait_until(one_active_one_standby, 30, "one task active and one standing by", interval=DOCKER_PACE)

        failed: list[str] = []

        def update_image() -> None:
            try:
                deployment.docker("service", "update", "--image", second, SERVICE)
            except stack.StackError as error:
                failed.append(str(error))

        update = threading.Thread(target=update_image, daemon=True)
        update.start()
        labels("worker-2", "io.neon.compute.cores", "4")
        stack.vault_restart(2)
        update.join(timeout=180)
        assert [] == failed, deployment.story()
        tasks = deployment.wait_running(2, image=second)
        wait_until(
            lambda: read_definition(kv)[0]["Nodes"]["worker-2"]["Labels"].get("ComputeCores") == 4 or None,
            30,
            "the label changed during the update in Consul",
            interval=DOCKER_PACE,
        )
        wait_until(
            lambda: not any(stack.vault_seal_status(i)["sealed"] for i in range(3)),
            30,
            "every Vault unsealed",
            interval=DOCKER_PACE,
        )
        spans = active_spans(deployment.logs())
        overlaps = [(a, b) for a, b in itertools.pairwise(spans) if a[1] is None or a[1] > b[0]]

        assert 2 == len(tasks)
        assert len(spans) >= 2, spans
        assert [] == overlaps
        assert 1 == sum(1 for span in spans if span[1] is None)
    finally:
        deployment.remove()
        stack.image_remove(second)
