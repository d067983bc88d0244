"""What an operator touches, on the real stack: the files it names, the settings, the words, and what the log says."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import consul
import pytest

from neon_cm.keys import DEFINITION_KEY, SETTINGS_PREFIX
from tests.http_relay import relay
from tests.integration.conftest import Cli
from tests.integration.test_cli import err, failed_with, out, put_file, stored
from tests.integration.test_definition_pipeline import BASE, PUBLISHED, fast_polls, read_definition, seed_base
from tests.integration.test_metrics import free_port, health_command, scrape, wait_for_metric
from tests.service import ROOT, Service
from tests.waiting import wait_until


def device(folder: Path, name: str, major: int, minor: int) -> Path:
    """A real character device node made with mknod in a temp folder (never the machine's own /dev entries)."""
    path = folder / name
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    return path


def still_a_device(path: Path) -> bool:
    return stat.S_ISCHR(path.lstat().st_mode)


# --------------------------------------------------------------------------- item 1: the files it writes


def test_definition_get_never_replaces_a_device_named_as_the_cache(kv: consul.Consul, cli: Cli, tmp_path: Path) -> None:
    """`--cache` naming a device node (a /dev/null made with mknod): one line, exit 1, the device left a device."""
    assert 0 == cli("definition", "put", str(put_file(tmp_path, BASE))).returncode
    null = device(tmp_path, "null", 1, 3)

    result = cli("definition", "get", "--cache", str(null))

    failed_with(result, rf"^neon-cluster-manager: error: cannot use the cache: {null} is a character device, not a ")
    assert b"" == result.stdout
    assert still_a_device(null)


def test_definition_get_writes_a_symlinked_cache_through_to_its_target(
    kv: consul.Consul, cli: Cli, tmp_path: Path
) -> None:
    """A symlinked cache keeps its link; the target gets the definition, and the next get reads it from there."""
    assert 0 == cli("definition", "put", str(put_file(tmp_path, BASE))).returncode
    target = tmp_path / "real" / "definition.json"
    target.parent.mkdir()
    link = tmp_path / "cache.json"
    link.symlink_to(target)

    first = cli("definition", "get", "--cache", str(link))
    second = cli("definition", "get", "--cache", str(link))

    _, json_bytes, digest, _, _ = stored(kv)
    assert (0, 0) == (first.returncode, second.returncode)
    assert (True, json_bytes) == (link.is_symlink(), target.read_bytes())
    assert f"neon-cluster-manager: definition {digest} unchanged; read from the cache {link}\n" == err(second)


def test_the_service_never_replaces_a_device_named_as_its_health_file(
    kv: consul.Consul, start_service: Callable[..., Service], tmp_path: Path
) -> None:
    """NEON_CM_HEALTH_FILE naming a device (a /dev/full made with mknod) is left a device; a symlinked one is
    written through to its target."""
    seed_base(kv)
    full = device(tmp_path, "full", 1, 7)
    target = tmp_path / "health.json"
    link = tmp_path / "health-link"
    link.symlink_to(target)
    on_device = start_service(NEON_CM_HEALTH_FILE=str(full))
    on_device.wait_for(PUBLISHED)  # the active one; the second stands by (and writes its health file too)
    through_link = start_service(NEON_CM_HEALTH_FILE=str(link))

    deadline = time.monotonic() + 20
    while not target.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(6)  # one more health verdict (every 5 s) on both

    assert still_a_device(full)
    assert (True, True) == (link.is_symlink(), json.loads(target.read_bytes())["ok"])
    assert [] == through_link.lines(r"\[ERROR\]")


# --------------------------------------------------------------------------- item 3: settings


def test_a_template_that_builds_no_valid_url_is_a_config_warning_not_an_outage(
    kv: consul.Consul, vault: dict[str, Any], start_service: Callable[..., Service]
) -> None:
    """Port 99999 in Consul: one WARN naming the key and why, the default applies; no Vault reported unreachable
    for a parse error."""
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", "http://{addr}:99999")
    service = start_service()

    service.wait_for(
        r"\[WARN\] .*vault_url_template='http://\{addr\}:99999' rejected \(the port must be a number from 1 to "
        r"65535\); using the default"
    )
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", "http://{addr}:8200")
    service.wait_for(r"Vault on manager-1 .* is unsealed", timeout=30)

    assert [] == service.lines(r"99999.*unreachable|unreachable.*99999")


def test_settings_set_a_huge_value_is_one_short_line(kv: consul.Consul, cli: Cli) -> None:
    """A 120 KB value: refused in one line that shows its start and length, nothing written."""
    result = cli("settings", "set", "vault_url_template", "http://" + "v" * 120_000)

    line = failed_with(result, r"refused \(120007 characters, over the 512 a setting may have\); nothing written$")
    assert len(line) < 300
    assert None is kv.kv.get(SETTINGS_PREFIX + "vault_url_template")[1]


# --------------------------------------------------------------------------- item 4: definition put


def test_definition_put_force_publishes_what_setup_never_writes_with_a_note(
    kv: consul.Consul, cli: Cli, tmp_path: Path
) -> None:
    """`{}` is refused naming what is missing; with --force it is published, and stderr says what it lacks."""
    empty = tmp_path / "empty.json"
    empty.write_text("{}")

    refused = cli("definition", "put", str(empty))
    forced = cli("definition", "put", "--force", str(empty))

    failed_with(refused, r"is not a cluster definition: no Name, Schema, Datacenter")
    definition, _, digest, _, _ = stored(kv)
    assert (0, f"{digest}\n") == (forced.returncode, out(forced))
    assert (
        "neon-cluster-manager: published without what cluster setup writes (--force): no Name, Schema, Datacenter\n"
        == err(forced)
    )
    assert {"Hash": digest} == definition


def test_definition_put_accepts_a_bom(kv: consul.Consul, cli: Cli, tmp_path: Path) -> None:
    """A definition saved by an editor that writes a UTF-8 BOM is published as the same definition."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(BASE).encode())

    result = cli("definition", "put", str(path))

    definition, _, digest, _, _ = stored(kv)
    assert (0, f"{digest}\n") == (result.returncode, out(result))
    assert BASE["Name"] == definition["Name"]


# --------------------------------------------------------------------------- item 5: words


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty; expected the plain JSON"),
        (None, "holds base64 \\(the form VAULT_CREDENTIALS takes\\); the file holds the plain JSON"),
    ],
)
def test_credentials_file_says_what_it_found(
    vault: dict[str, Any],
    start_service: Callable[..., Service],
    service_env: dict[str, str],
    tmp_path: Path,
    content: bytes | None,
    says: str,
) -> None:
    """An empty secret file, or one holding the base64 form: one ERROR saying which and what is expected, and
    `health` says `degraded` with it (it passes: a new task would read the same secret) for as long as it runs, so
    a rotation to an unusable secret does not look healthy."""
    document = json.dumps({"UnsealKeys": vault["keys_base64"], "KeyThreshold": vault["threshold"]}).encode()
    secret = tmp_path / "vault-credentials"
    secret.write_bytes(content if content is not None else base64.b64encode(document))

    service = start_service(VAULT_CREDENTIALS_FILE=str(secret))

    service.wait_for(rf"\[ERROR\] \[module:main\] auto-unseal disabled: VAULT_CREDENTIALS_FILE {secret} {says}")
    service.wait_for(r"Vault on manager-1 .* is unsealed")
    health_file = Path(service_env["NEON_CM_HEALTH_FILE"])

    def said() -> subprocess.CompletedProcess[str] | None:
        result = health_command(health_file)
        return result if result.stdout else None  # nothing until the first health file is written

    verdict = wait_until(said, 15, "a health verdict")
    assert 0 == verdict.returncode
    assert re.match(rf"degraded: auto-unseal is off: the unseal keys given cannot be used \(.*{says}", verdict.stdout)


def test_credentials_file_with_a_bom_unseals(
    kv: consul.Consul, vault: dict[str, Any], start_service: Callable[..., Service], tmp_path: Path
) -> None:
    """A secret file with a UTF-8 BOM is read; the start line says TLS applies to https:// URLs only."""
    document = json.dumps({"UnsealKeys": vault["keys_base64"], "KeyThreshold": vault["threshold"]}).encode()
    secret = tmp_path / "vault-credentials"
    secret.write_bytes(b"\xef\xbb\xbf" + document)

    service = start_service(VAULT_CREDENTIALS_FILE=str(secret))

    service.wait_for(r"\[INFO\] \[module:main\] auto-unseal enabled: ")
    assert service.lines(r"starting: .*Vault TLS \(for https:// URLs\) verified")


def test_sigusr1_dumps_every_thread_at_info(kv: consul.Consul, start_service: Callable[..., Service]) -> None:
    """SIGUSR1 logs a header and each thread's stack at INFO (nothing at FATAL to page anyone); the service goes on."""
    seed_base(kv)
    service = start_service()
    service.wait_for(PUBLISHED)
    mark = service.mark()

    service.process.send_signal(signal.SIGUSR1)

    header = service.wait_for(r"\[INFO\] \[module:main\] thread dump requested \(SIGUSR1\): \d+ threads", after=mark)
    count = int(re.findall(r"(\d+) threads", header[0])[0])
    service.wait_for(r"\[INFO\] \[module:main\] thread \S+ \(\d+\):", count=count, after=mark)
    assert service.lines(r"\[INFO\] \[module:main\] thread MainThread .*neon_cm_main\.py", after=mark)
    assert [] == service.lines(r"\[FATAL\]")
    assert service.process.poll() is None


# --------------------------------------------------------------------------- item 7: what changed


def test_a_publish_says_which_labels_changed(
    kv: consul.Consul, start_service: Callable[..., Service], labels: Callable[..., None]
) -> None:
    """The publish line names the node and the label with its old and new value, not just a new hash."""
    seed_base(kv)
    fast_polls(kv)
    labels("worker-1", "io.neon.compute.cores", "4")
    service = start_service()
    first = service.wait_for(PUBLISHED)[0]
    mark = service.mark()

    labels("worker-1", "io.neon.compute.cores", "8")
    labels("worker-2", "surface.rack", "r1")
    service.wait_for(r"io\.neon\.compute\.cores 4 -> 8", after=mark)
    service.wait_for(r"worker-2: surface\.rack added \(r1\)", after=mark)

    assert re.search(r"\(none before\), \d+ bytes; manager-1 added; manager-2 added; .*worker-2 added", first)


# --------------------------------------------------------------------------- item 8: what README promises


def test_swarm_events_off_converges_through_the_poll_alone(
    kv: consul.Consul, start_service: Callable[..., Service], labels: Callable[..., None]
) -> None:
    """SWARM_EVENTS=off: no event stream runs, and a label change still reaches Consul at the next node poll."""
    seed_base(kv)
    fast_polls(kv, "1")
    service = start_service(SWARM_EVENTS="off")
    service.wait_for(PUBLISHED)

    labels("worker-1", "surface.polled", "yes")
    service.wait_for(r"worker-1: surface\.polled added \(yes\)", timeout=20)
    definition, _, _, _ = read_definition(kv)

    assert "yes" == definition["Nodes"]["worker-1"]["Labels"]["Custom"]["surface.polled"]
    assert service.lines(r"starting: .*node events off \(polling only\)")
    assert [] == service.lines(r"\[module:node-events\]")


class TokenRecorder:
    """A forwarding HTTP proxy in front of the real Consul that records the ACL token of every request."""

    def __init__(self, consul_addr: str) -> None:
        self.tokens: list[tuple[str, str | None]] = []
        """(method and path, token) of every request."""
        host, port = consul_addr.rsplit(":", 1)
        recorder = self

        class Forward(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                token = self.headers.get("X-Consul-Token") or next(iter(query.get("token", [])), None)
                recorder.tokens.append((f"{self.command} {self.path}", token))
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection(host, int(port), timeout=600)
                try:
                    relay(self, upstream, self.path, body or None)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_DELETE = do_POST = forward

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def token_recorder(real_stack: dict[str, Any]) -> Iterator[TokenRecorder]:
    recorder = TokenRecorder(real_stack["consul"]["http_addr"])
    yield recorder
    recorder.close()


def test_consul_http_token_reaches_consul_and_never_the_log(
    kv: consul.Consul, start_service: Callable[..., Service], cli: Cli, token_recorder: TokenRecorder
) -> None:
    """Every request the service and the CLI make to Consul carries CONSUL_HTTP_TOKEN; the log never shows it."""
    token = "9a3e5c1d-6f2b-4c7e-8d1a-surface-token"
    seed_base(kv)
    service = start_service(CONSUL_HTTP_ADDR=token_recorder.address, CONSUL_HTTP_TOKEN=token)
    service.wait_for(PUBLISHED)
    from_service = len(token_recorder.tokens)

    result = cli("settings", "get", CONSUL_HTTP_ADDR=token_recorder.address, CONSUL_HTTP_TOKEN=token)

    assert 0 == result.returncode
    assert from_service >= 3 and len(token_recorder.tokens) > from_service
    assert [] == [request for request, sent in token_recorder.tokens if sent != token]
    assert [] == service.lines(re.escape(token))


def readme_metrics() -> list[str]:
    """The metric names the metrics table of docs/operations.md lists (read at test time, so a rename there is
    followed)."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = text[text.index("| metric | type | what |") :]
    return re.findall(r"^\| `(neon_cm_[a-z_]+)(?:\{[^}]*\})?`", table[: table.index("\n\n")], re.M)


def declared_metrics(port: int) -> set[str]:
    """Metrics /metrics declares (`# TYPE`), with or without samples yet: a labelled counter such as
    neon_cm_actor_restarts_total{actor} has none until something restarts."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    declared = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        declared |= {name, f"{name}_total"} if kind == "counter" else {name}
    return declared


def test_every_metric_readme_lists_is_exported_and_moves(
    kv: consul.Consul,
    vault: dict[str, Any],
    with_keys: dict[str, str],
    start_service: Callable[..., Service],
    labels: Callable[..., None],
    tmp_path: Path,
) -> None:
    """Each metric README lists is in /metrics; polls, publishes, unchanged listings, failures and the publish
    time move when the Swarm or Consul gives them cause."""
    listed = readme_metrics()
    port = free_port()
    seed_base(kv)
    service = start_service(METRICS_PORT=str(port), NEON_CM_HEALTH_FILE=str(tmp_path / "health"), **with_keys)
    service.wait_for(PUBLISHED)
    wait_for_metric(port, 'neon_cm_vault_state{node="manager-1",state="unsealed"}', lambda value: value == 1)
    wait_for_metric(port, "neon_cm_healthy", lambda value: value == 1)
    before = scrape(port)

    labels("worker-1", "surface.metrics", "1")
    service.wait_for(r"worker-1: surface\.metrics added")
    wait_for_metric(
        port, "neon_cm_definition_unchanged_total", lambda value: value > before["neon_cm_definition_unchanged_total"]
    )
    kv.kv.delete(DEFINITION_KEY)  # no base definition: a publish failure at every listing
    wait_for_metric(port, "neon_cm_definition_publish_failures_total", lambda value: value >= 1)
    after = scrape(port)
    exported = {name.split("{")[0] for name in after} | declared_metrics(port)

    assert 12 <= len(listed)
    assert [] == [name for name in listed if name not in exported]
    for name in (
        "neon_cm_node_listings_total",
        "neon_cm_definition_publishes_total",
        "neon_cm_definition_unchanged_total",
    ):
        assert after[name] > before[name], name
    assert (
        after["neon_cm_definition_last_publish_timestamp_seconds"]
        > before["neon_cm_definition_last_publish_timestamp_seconds"]
    )
    assert (1, 1) == (after["neon_cm_active"], after["neon_cm_healthy"])
    assert 0 == after['neon_cm_vault_unseal_failures_total{node="manager-1"}']


def test_node_poll_failures_move_when_docker_cannot_be_listed(
    kv: consul.Consul, start_service: Callable[..., Service], tmp_path: Path
) -> None:
    """The one metric the Swarm's good health never moves: each failed listing counts, none succeeds."""
    port = free_port()
    fast_polls(kv, "0.5")
    service = start_service(METRICS_PORT=str(port), DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    service.wait_for(r"serving /metrics and /health on port")

    failures = wait_for_metric(port, "neon_cm_node_listing_failures_total", lambda value: value >= 2)

    assert failures >= 2
    assert 0 == scrape(port)["neon_cm_node_listings_total"]


# --------------------------------------------------------------------------- item 2: metrics and health fail loudly


def test_a_metrics_port_in_use_is_one_error_degraded_and_served_once_it_is_free(
    kv: consul.Consul, start_service: Callable[..., Service], service_env: dict[str, str]
) -> None:
    """METRICS_PORT already taken (another replica on this host, another program): one ERROR naming the port, not one
    per try; the definition is still published; `health` says degraded with the reason, not healthy. Once the port
    is free (the other replica stopped), the service serves it at its next try and says so: healthy again."""
    seed_base(kv)
    fast_polls(kv)
    health_file = Path(service_env["NEON_CM_HEALTH_FILE"])
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = start_service(METRICS_PORT=str(port))
        service.wait_for(rf"\[ERROR\] \[module:metrics\] cannot serve /metrics and /health on port {port} ")
        service.wait_for(PUBLISHED)
        degraded = wait_until(
            lambda: result if (result := health_command(health_file)).stdout.startswith("degraded") else None,
            30,
            "`health` to say degraded",
        )
        time.sleep(6)  # one more try (every 5 s) while the port is taken: no second ERROR
    service.wait_for(rf"\[INFO\] \[module:metrics\] serving /metrics and /health on port {port}$", timeout=30)
    healthy = wait_until(
        lambda: result if (result := health_command(health_file)).stdout == "healthy\n" else None,
        30,
        "`health` to say healthy once the port is served",
    )

    assert (0, f"degraded: /metrics and /health are not served: port {port} is taken (Address already in use)\n") == (
        degraded.returncode,
        degraded.stdout,
    )
    assert 0 == healthy.returncode
    assert 1 == len(service.lines(r"\[ERROR\] \[module:metrics\] cannot serve"))
    assert 0 == scrape(port)['neon_cm_degraded{reason="metrics_not_served"}']
    assert [] == service.lines(r"\[module:supervisor")


def test_a_health_file_in_a_missing_folder_is_one_error_and_the_service_works_on(
    kv: consul.Consul, start_service: Callable[..., Service], tmp_path: Path
) -> None:
    """NEON_CM_HEALTH_FILE in a folder that does not exist: one ERROR naming the path (not one per 5 s
    refresh); the definition is still published; `health` says it cannot read the file."""
    seed_base(kv)
    fast_polls(kv)
    path = tmp_path / "no-such-folder" / "health"
    service = start_service(NEON_CM_HEALTH_FILE=str(path))
    service.wait_for(rf"\[ERROR\] \[module:metrics\] cannot write the health file {re.escape(str(path))} ")
    service.wait_for(PUBLISHED)
    time.sleep(6)  # one more refresh

    assert 1 == len(service.lines(r"cannot write the health file"))
    assert [] == service.lines(r"\[module:supervisor")


# --------------------------------------------------------------------------- item 6: a stop during start-up


def catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler for `signum` (its SigCgt mask in /proc/<pid>/status)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(line.split()[1] for line in status if line.startswith("SigCgt:"))
    return bool(int(caught, 16) >> (signum - 1) & 1)


@pytest.mark.parametrize(("signum", "delay"), [(signal.SIGINT, 0.15), (signal.SIGTERM, 0.0), (signal.SIGINT, 0.6)])
def test_a_stop_at_any_moment_of_start_up_is_clean(
    kv: consul.Consul, start_service: Callable[..., Service], signum: int, delay: float
) -> None:
    """SIGINT or SIGTERM while the service is still importing its libraries or starting its actors: the
    same clean stop as later (`stopping`, `stopped`, exit 0), never a traceback or an exit by signal. `delay`
    counts from the handlers' installation (SIGTERM's, then SIGINT's), the service's first act: before it, the
    interpreter itself is starting, which takes from 0.1 s to over 0.3 s on a loaded machine, and a signal gets
    its default action (SIGINT: Python's KeyboardInterrupt, which also marks it caught from the start)."""
    service = start_service()
    wait_until(lambda: catches(service.process.pid, signal.SIGTERM), what="the service to catch SIGTERM")
    time.sleep(delay)

    code, _ = service.stop(signum)

    assert 0 == code
    assert [] == service.stderr
    assert service.lines(r"\[INFO\] \[module:main\] stopping$")
    assert service.stdout[-1].endswith("[INFO] [module:main] stopped")
