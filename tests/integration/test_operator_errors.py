"""What an operator sees when something is wrong: one line in words for the CLI, one line (and a reminder) for the
service, no traceback, no password from a URL, the real cause named (issue 21).

Every test but one runs against a real Consul of this module's own (ACLs on, the master token in the environment),
so it never changes the shared stack's Consul: what involves the Swarm or the Vaults only reads them (node listings
through a manager's Docker, seal-status of its OpenBao), asking for `real_stack` only so that the stack is up. The
test of stack.py's vault-stop and vault-start holds it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import teststack as stack
from gateways.errors import PLAIN_HTTP, UNKNOWN_TOKEN
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY, SETTINGS_PREFIX
from tests.consul_server import ConsulServer
from tests.integration.conftest import Cli, address
from tests.integration.test_cli import BASE, err, failed_with, out, put_file, rows
from tests.integration.test_metrics import health_command
from tests.prometheus_server import free_port
from tests.service import ROOT, Service

MANAGER_2 = 1
COMMANDS = [
    ["definition", "get"],
    ["definition", "put", "FILE"],
    ["settings", "get"],
    ["settings", "set", "node_poll_seconds", "5"],
    ["vault", "auto-unlock"],
    ["vault", "auto-unlock", "off"],
    ["vault", "status"],
]
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture
def own_env(acl_consul: ConsulServer, tmp_path: Path) -> dict[str, str]:
    """An operator's environment for that Consul (neon/ cleared), with a Docker socket that does not exist."""
    acl_consul.api("DELETE", "/v1/kv/neon/?recurse")
    return {
        "CONSUL_HTTP_ADDR": acl_consul.http_url,
        "CONSUL_HTTP_TOKEN": acl_consul.master,
        "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock",
    }


@pytest.fixture
def own_cli(own_env: dict[str, str]) -> Cli:
    """`python -m cli ARGS` against this module's Consul; keywords override the environment."""

    def run(*args: str, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            env={**os.environ, **own_env, **env},
            cwd=ROOT,
            input=stdin,
            capture_output=True,
            timeout=60,
        )

    return run


@pytest.fixture
def own_service(own_env: dict[str, str]) -> Iterator[Callable[..., Service]]:
    """Start services against this module's Consul (keywords override the environment); each is stopped after
    the test, and must have exited 0 with nothing on stderr."""
    started: list[Service] = []

    def start(**overrides: str) -> Service:
        service = Service({**own_env, "LOG_LEVEL": "DEBUG", **overrides})
        started.append(service)
        return service

    yield start
    for service in started:
        code, _ = service.stop()
        assert (0, []) == (code, service.stderr), "\n".join(service.stdout + service.stderr)


def run_all(cli: Cli, commands: list[tuple[list[str], dict[str, str]]]) -> list[subprocess.CompletedProcess[bytes]]:
    """Run CLI commands (arguments, environment) side by side: each is a separate process."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda command: cli(*command[0], **command[1]), commands))


def https(consul_url: str) -> str:
    """A plain-HTTP Consul addressed as https://."""
    return consul_url.replace("http://", "https://")


# --------------------------------------------------------------------------- item 1: one error path


def test_every_command_with_each_bad_tls_path_is_one_line(
    acl_consul: ConsulServer, own_cli: Cli, tmp_path: Path
) -> None:
    """CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT/KEY naming a missing file or a directory: every command
    (vault status too: it checks Consul before it asks Docker) says which variable and what is wrong in one
    `error:` line and exits 1; no traceback (each printed about 25 lines before)."""
    pem = tmp_path / "key.pem"
    pem.write_text("never read")
    missing = str(tmp_path / "nonexist" / "ca.pem")
    bad = [
        ({"CONSUL_CACERT": missing}, f"CONSUL_CACERT={missing} does not exist"),
        ({"CONSUL_CACERT": str(tmp_path)}, f"CONSUL_CACERT={tmp_path} is a directory, not a PEM file"),
        ({"CONSUL_CAPATH": missing}, f"CONSUL_CAPATH={missing} does not exist"),
        (
            {"CONSUL_CLIENT_CERT": missing, "CONSUL_CLIENT_KEY": str(pem)},
            f"CONSUL_CLIENT_CERT={missing} does not exist",
        ),
        ({"CONSUL_CLIENT_CERT": str(pem), "CONSUL_CLIENT_KEY": missing}, f"CONSUL_CLIENT_KEY={missing} does not exist"),
    ]
    definition = str(put_file(tmp_path, BASE))
    runs = [
        (
            [definition if arg == "FILE" else arg for arg in command],
            {"CONSUL_HTTP_ADDR": https(acl_consul.http_url), **env},
        )
        for command in COMMANDS
        for env, _ in bad
    ]

    results = run_all(own_cli, runs)

    expected = [
        f"neon-cluster-manager: error: {says}: TLS to Consul cannot be set up" for _ in COMMANDS for _, says in bad
    ]
    assert expected == [failed_with(result, "") for result in results]
    assert [] == [result for result in results if TRACEBACK in err(result) or result.stdout]


def test_https_to_the_plain_http_consul_says_so(
    acl_consul: ConsulServer, own_cli: Cli, tmp_path: Path, own_service: Callable[..., Service]
) -> None:
    """An https:// address on Consul's plain-HTTP port: the CLI and the service say the server answered plain
    HTTP (the CLI printed urllib3's whole `HTTPSConnectionPool(... WRONG_VERSION_NUMBER)`)."""
    definition = str(put_file(tmp_path, BASE))
    address = https(acl_consul.http_url)
    runs = [([definition if arg == "FILE" else arg for arg in command], {"CONSUL_HTTP_ADDR": address})
            for command in COMMANDS]  # fmt: skip

    results = run_all(own_cli, runs)
    service = own_service(CONSUL_HTTP_ADDR=address)
    logged = service.wait_for(rf"\[ERROR\] \[module:settings\] .*{re.escape(PLAIN_HTTP)}")

    assert [f"neon-cluster-manager: error: cannot reach Consul at {address}: {PLAIN_HTTP}"] * len(COMMANDS) == [
        failed_with(result, "") for result in results
    ]
    assert "WRONG_VERSION_NUMBER" not in logged[0]


def test_odd_paths_given_to_the_cli_are_one_line_and_never_hang(own_cli: Cli, tmp_path: Path) -> None:
    """`--cache c1.json/x` with c1.json a file (a NotADirectoryError traceback before); a FIFO given to `definition
    put` and as CONSUL_HTTP_TOKEN_FILE (the CLI hung with no output); /dev/zero as the token file (read forever)."""
    cli = own_cli
    assert 0 == cli("definition", "put", str(put_file(tmp_path, BASE))).returncode
    (tmp_path / "c1.json").write_text("{}")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    cache = cli("definition", "get", "--cache", str(tmp_path / "c1.json" / "x"))
    put = cli("definition", "put", str(fifo))
    token_fifo = cli("settings", "get", CONSUL_HTTP_TOKEN_FILE=str(fifo))
    token_zero = cli("settings", "get", CONSUL_HTTP_TOKEN_FILE="/dev/zero")
    token_folder = cli("settings", "get", CONSUL_HTTP_TOKEN_FILE=str(tmp_path))

    failed_with(
        cache, rf"cannot use the cache: cannot create .*/c1\.json/x: {tmp_path}/c1\.json is a file, not a folder$"
    )
    failed_with(put, rf"cannot read {fifo}: {fifo} is a named pipe nobody writes to, not a regular file$")
    failed_with(
        token_fifo,
        r"CONSUL_HTTP_TOKEN_FILE=.*/fifo cannot be read: .* is a named pipe nobody writes to, not a regular file$",
    )
    failed_with(token_zero, r"CONSUL_HTTP_TOKEN_FILE=/dev/zero cannot be read: /dev/zero is a character device, ")
    failed_with(token_folder, rf"CONSUL_HTTP_TOKEN_FILE={tmp_path} cannot be read: {tmp_path} is a directory, ")


# --------------------------------------------------------------------------- items 4, 10, 11: the Vault's URL


def docker_host(real_stack: dict[str, Any], hostname: str) -> str:
    """The DOCKER_HOST of one of the stack's nodes (the stack is only read: nothing is changed). The test asks for
    `real_stack` so that the stack is up: read from its state file alone, a worker whose first test this was found
    the daemons of a stack left down (`Connection refused`, a fresh clone beside the long run)."""
    return str(next(node for node in real_stack["nodes"] if node["hostname"] == hostname)["docker_host"])


def test_vault_url_templates_an_operator_might_write(
    acl_consul: ConsulServer,
    own_cli: Cli,
    own_service: Callable[..., Service],
    tmp_path: Path,
    real_stack: dict[str, Any],
) -> None:
    """A template with user:password@ is refused by `settings set` (password not echoed) and, stored anyway, by
    the service (one WARN, password hidden, the default applies); with a client certificate that does not exist,
    http:// Vaults are still reached (they were all `unreachable`), https:// ones not; an https:// template on
    Vault's plain-HTTP port says the server answered plain HTTP in `vault status` (the service's words are the
    same function's: test_errors)."""
    secret = "s3cret-pw"
    with_password = f"http://admin:{secret}@{{addr}}:8200"
    manager = {"DOCKER_HOST": docker_host(real_stack, "manager-1")}
    refused = own_cli("settings", "set", "vault_url_template", with_password)
    glued = own_cli("settings", "set", "vault_url_template", "http://{addr}{hostname}:8200")
    path = own_cli("settings", "set", "vault_url_template", "http://{addr}:8200/v1")
    assert None is acl_consul.get(SETTINGS_PREFIX + "vault_url_template")
    acl_consul.put(SETTINGS_PREFIX + "vault_url_template", with_password.encode())
    acl_consul.put(SETTINGS_PREFIX + "vault_poll_seconds", b"0.5")
    missing = str(tmp_path / "missing.pem")

    service = own_service(**manager, VAULT_CLIENT_CERT=missing, VAULT_CLIENT_KEY=missing)
    warned = service.wait_for(r"\[WARN\] .*vault_url_template=")
    mark = service.mark()
    acl_consul.put(SETTINGS_PREFIX + "vault_url_template", b"http://{addr}:8200")
    service.wait_for(rf"\[INFO\] .*Vault on manager-1 \(http://{address('manager-1')}:8200\) is unsealed", after=mark)
    mark = service.mark()
    assert 0 == own_cli("settings", "set", "vault_url_template", "https://{addr}:8200").returncode
    unreachable = service.wait_for(r"\[ERROR\] .*Vault on manager-1 .* is unreachable", after=mark)
    status = own_cli("vault", "status", **manager)  # no client certificate named: the listener's own answer

    line = failed_with(refused, r"refused \(a user name or password \(user:password@\) is never sent to Vault")
    assert "'http://<hidden>@{addr}:8200'" in line and secret not in line
    failed_with(glued, r"refused \(\{addr\}\{hostname\} run two values together")
    failed_with(path, r"refused \(a path \(/v1\) has no place in a Vault's address")
    assert "'http://<hidden>@{addr}:8200' rejected (a user name or password" in warned[0]
    assert [] == service.lines(re.escape(secret))
    assert f"client certificate (CLIENT_CERT) {missing} does not exist" in unreachable[0], "https: it is looked for"
    assert [f"https://{address('manager-1')}:8200", "unreachable", PLAIN_HTTP] == rows(status)["manager-1"]


# --------------------------------------------------------------------------- item 5: a token Consul does not know


def test_an_unknown_token_is_said_to_be_unknown_not_a_policy_problem(
    acl_consul: ConsulServer, own_cli: Cli, own_service: Callable[..., Service]
) -> None:
    """A token Consul does not know (403 `ACL not found`) is said to be wrong or expired, by the CLI and the
    service; it was `the Consul token's ACL policy does not allow it`, sending the operator to edit a policy.
    (`settings set` refused for rights names the key: test_consul_acl's read-only CLI test.)"""
    unknown = "00000000-0000-4000-8000-000000000000"

    get = own_cli("settings", "get", CONSUL_HTTP_TOKEN=unknown)
    service = own_service(CONSUL_HTTP_TOKEN=unknown)
    logged = service.wait_for(r"\[ERROR\] \[module:settings\] cannot read settings")

    assert (
        f"neon-cluster-manager: error: Consul at {acl_consul.http_url} refused reading "
        f"neon/services/neon-cluster-manager/*: {UNKNOWN_TOKEN}"
    ) == failed_with(get, "")
    assert UNKNOWN_TOKEN in logged[0]
    assert [] == service.lines(r"policy does not allow|" + unknown)


# --------------------------------------------------------------------------- items 7, 8, 12: health and metrics


def test_health_is_said_once_fails_at_once_after_a_stop_and_answers_head(
    acl_consul: ConsulServer, own_service: Callable[..., Service], tmp_path: Path
) -> None:
    """No node listing for many health verdicts (every 5 s, the seconds growing): one ERROR, not one per verdict;
    /metrics and /health answer HEAD (501 before); a stored `5` is logged `5`; once the service stopped,
    `health` fails at once (it said `healthy` for up to 30 s)."""
    port = free_port()
    health_file = tmp_path / "health"
    acl_consul.put(SETTINGS_PREFIX + "node_poll_seconds", b"0.5")
    acl_consul.put(SETTINGS_PREFIX + "vault_poll_seconds", b"5")
    service = own_service(METRICS_PORT=str(port), NEON_CM_HEALTH_FILE=str(health_file))
    service.wait_for(r"settings: node_poll_seconds=0\.5 vault_poll_seconds=5 ")
    service.wait_for(r"\[ERROR\] \[module:metrics\] unhealthy: no successful node listing")
    deadline = time.monotonic() + 30
    while not re.search(r"since the start [1-9]\d+ s ago", health_command(health_file).stderr):  # 10 s and more
        assert time.monotonic() < deadline, health_command(health_file).stderr
        time.sleep(0.5)
    heads = []
    for path in ("/metrics", "/health"):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                heads.append((response.status, response.read()))
        except urllib.error.HTTPError as error:
            heads.append((error.code, error.read()))

    code, _ = service.stop()
    after_stop = health_command(health_file)

    assert 1 == len(service.lines(r"\[ERROR\] \[module:metrics\] unhealthy")), service.lines(r"module:metrics")
    assert [(200, b""), (503, b"")] == heads
    assert 0 == code
    assert 1 == after_stop.returncode
    assert after_stop.stderr.startswith("neon-cluster-manager: error: unhealthy: the service stopped at ")


def test_vault_status_through_a_worker_says_it_is_no_manager(own_cli: Cli, real_stack: dict[str, Any]) -> None:
    """DOCKER_HOST on a worker: `vault status` says the node is not a manager (it said `cannot reach Docker`)."""
    worker = docker_host(real_stack, "worker-1")

    line = failed_with(own_cli("vault", "status", DOCKER_HOST=worker), "")

    assert (
        f"neon-cluster-manager: error: Docker at {worker} is not a Swarm manager (a worker, or a "
        "daemon in no Swarm); point DOCKER_HOST at a manager's Docker"
    ) == line


def test_stack_py_stops_and_starts_one_openbao(vault: dict[str, Any], cli: Cli) -> None:
    """`stack.py vault-stop 2` leaves manager-2's OpenBao stopped (unreachable), `vault-start 2` brings it back
    sealed; the other two stay unsealed."""
    script = [sys.executable, str(ROOT / "scripts" / "stack.py")]

    stopped = subprocess.run([*script, "vault-stop", "2"], capture_output=True, timeout=120)
    while_stopped = cli("vault", "status")
    started = subprocess.run([*script, "vault-start", "2"], capture_output=True, timeout=120)
    after = cli("vault", "status")

    assert (0, 0) == (stopped.returncode, started.returncode), stopped.stderr + started.stderr
    assert "unreachable" == rows(while_stopped)["manager-2"][1]
    assert ("sealed", "unsealed") == (rows(after)["manager-2"][1], rows(after)["manager-3"][1])
    assert stack.load()["vault"]["nodes"][MANAGER_2]["pid"]


# --------------------------------------------------------------------------- item 9: switches


def test_the_auto_unseal_switch_is_read_as_the_service_reads_it(acl_consul: ConsulServer, own_cli: Cli) -> None:
    """A stored `true\\n` is shown quoted on one line (it printed a raw newline); `yes` reads as true, with a note."""
    acl_consul.put(DISABLE_AUTO_UNSEAL_KEY, b"true\n")
    newline = own_cli("vault", "auto-unlock")
    acl_consul.put(DISABLE_AUTO_UNSEAL_KEY, b"yes")
    yes = own_cli("vault", "auto-unlock")

    assert ("auto-unseal is off (neon/cluster/disable-auto-unseal='true\\n')\n", "") == (out(newline), err(newline))
    assert "auto-unseal is off (neon/cluster/disable-auto-unseal=yes)\n" == out(yes)
    assert f"neon-cluster-manager: {DISABLE_AUTO_UNSEAL_KEY}='yes' read as true\n" == err(yes)
