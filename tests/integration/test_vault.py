"""Vault seal monitoring and auto-unseal against the real 3-node OpenBao cluster, Swarm and Consul."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import consul
import pytest

import teststack as stack
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY, SETTINGS_PREFIX
from tests.integration.conftest import address, credentials
from tests.integration.test_metrics import health_command
from tests.service import Service

MANAGER_2 = 1  # index of manager-2's OpenBao node in the stack
UNSEALED_BY_SERVICE = r"unsealed the Vault on manager-2 "
MANAGER_2_URL, MANAGER_3_URL = (f"http://{address(name)}:8200" for name in ("manager-2", "manager-3"))
SEALED_ERROR = rf"\[ERROR\] \[module:vault-monitor:manager-2\] Vault on manager-2 \({MANAGER_2_URL}\) is sealed"


def sealed(index: int) -> bool:
    return bool(stack.vault_seal_status(index)["sealed"])


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def test_restarted_node_is_logged_sealed_and_unsealed_automatically(
    start_service: Callable[..., Service], with_keys: dict[str, str]
) -> None:
    """A restarted OpenBao node is sealed: its monitor says so and the service unseals it, and only it."""
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    mark = service.mark()
    stack.vault_restart(MANAGER_2)
    service.wait_for(SEALED_ERROR, after=mark)
    service.wait_for(UNSEALED_BY_SERVICE, after=mark)
    service.wait_for(r"Vault on manager-2 .* is unsealed", after=mark)

    assert not sealed(MANAGER_2)
    assert [] == service.lines(r"unsealed the Vault on manager-[13]")
    assert [] == service.lines(r"\[ERROR\] \[module:vault-monitor:manager-[13]\]")


def test_auto_unseal_switched_off_leaves_it_sealed_until_switched_on(
    start_service: Callable[..., Service], with_keys: dict[str, str], kv: consul.Consul
) -> None:
    """disable-auto-unseal=true: the node stays sealed with ERROR lines; false: unsealed at the next poll."""
    kv.kv.put(DISABLE_AUTO_UNSEAL_KEY, "true")
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    mark = service.mark()
    stack.vault_restart(MANAGER_2)
    service.wait_for(SEALED_ERROR, after=mark)
    service.wait_for(r"auto-unseal is switched off", after=mark)
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-2\] .*: sealed", count=4, after=mark)
    assert sealed(MANAGER_2)
    assert [] == service.lines(UNSEALED_BY_SERVICE)

    kv.kv.put(DISABLE_AUTO_UNSEAL_KEY, "false")
    service.wait_for(UNSEALED_BY_SERVICE, after=mark)

    assert not sealed(MANAGER_2)


def test_without_credentials_sealed_nodes_are_reported_and_nothing_is_submitted(
    start_service: Callable[..., Service], vault: dict[str, Any]
) -> None:
    """No credentials: INFO at start, the sealed node is an ERROR, and no share reaches it."""
    service = start_service()
    service.wait_for(r"\[INFO\] .*auto-unseal disabled: no credentials")
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    mark = service.mark()
    stack.vault_restart(MANAGER_2)
    service.wait_for(SEALED_ERROR, after=mark)
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-2\] .*: sealed", count=4, after=mark)

    status = stack.vault_seal_status(MANAGER_2)
    assert (True, 0) == (status["sealed"], status["progress"])


KEY = base64.b64encode(b"k" * 33).decode()


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("%%% not base64 %%%", "is not base64"),
        (base64.b64encode(b"not json").decode(), "is not JSON"),
        (base64.b64encode(b'{"KeyThreshold": 1}').decode(), "no UnsealKeys list"),
        (credentials([KEY], 0), "must be at least 1"),
        (credentials([KEY], 2), "only 1 distinct unseal key is given"),
        (
            base64.b64encode(f'{{"UnsealKeys": ["{KEY}"], "KeyThreshold": 1, "KeyThreshold": 2}}'.encode()).decode(),
            "KeyThreshold is given 2 times; write it once",
        ),
        (base64.b64encode(b'{"UnsealKeys": [1, 2], "KeyThreshold": 1}').decode(), "is not a non-empty string"),
        ("", None),
    ],
)
def test_malformed_credentials_give_one_clear_error_and_monitoring_goes_on(
    start_service: Callable[..., Service], vault: dict[str, Any], value: str, what: str | None
) -> None:
    """Each malformation: one ERROR naming what is wrong, never the value; the Vaults are still monitored."""
    service = start_service(VAULT_CREDENTIALS=value)

    service.wait_for(r"Vault on manager-3 .* is unsealed")

    if what is None:  # an empty string is no credentials at all
        assert service.lines(r"auto-unseal disabled: no credentials")
    else:
        errors = service.lines(r"\[ERROR\] \[module:main\] auto-unseal disabled")
        assert 1 == len(errors) and what in errors[0]
        assert value not in errors[0]


def test_credentials_file_as_a_docker_secret(
    start_service: Callable[..., Service], vault: dict[str, Any], tmp_path: Any
) -> None:
    """VAULT_CREDENTIALS_FILE holds the plain JSON, as a Docker secret does."""
    secret = tmp_path / "neon-vault-credentials"
    secret.write_text(json.dumps({"UnsealKeys": vault["keys_hex"], "KeyThreshold": 2, "RootToken": "ignored"}))
    service = start_service(VAULT_CREDENTIALS_FILE=str(secret))
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    mark = service.mark()
    stack.vault_restart(MANAGER_2)

    service.wait_for(UNSEALED_BY_SERVICE, after=mark)
    assert service.lines(r"auto-unseal enabled: 3 keys, threshold 2")


def test_wrong_shares_give_at_most_one_error_per_poll_and_no_loop(
    start_service: Callable[..., Service], vault: dict[str, Any]
) -> None:
    """Wrong (well-formed) shares: Vault rejects them, the node stays sealed, one ERROR per poll at most."""
    wrong = [base64.b64encode(bytes([n]) * 33).decode() for n in (1, 2, 3)]
    service = start_service(VAULT_CREDENTIALS=credentials(wrong, 2))
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    mark = service.mark()
    stack.vault_restart(MANAGER_2)
    service.wait_for(r"\[ERROR\] .*manager-2: Vault rejected unseal key", count=2, after=mark)
    time.sleep(2)
    polls = service.lines(r"\[DEBUG\] \[module:vault-monitor:manager-2\] .*: sealed")
    rejections = service.lines(r"manager-2: Vault rejected unseal key")

    assert sealed(MANAGER_2)
    assert len(rejections) <= len(polls)


def test_stack_unseal_of_a_restarted_node_survives_a_wrong_share_slipped_in_before_its_first(
    vault: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The vault fixture's unseal (teststack's) of a node just restarted, when another client's wrong share lands
    between its read of the seal status (no progress: nothing to reset) and its first share, as a service with wrong
    shares still polling does: Vault refuses the combination (`cipher: message authentication failed`); the unseal
    resets the attempt and makes a new one."""
    stack.vault_restart(MANAGER_2)
    url = vault["nodes"][MANAGER_2]["url"]
    real = stack.openbao.json_request
    slipped: list[int] = []

    def with_a_wrong_share_first(method: str, target: str, body: dict[str, Any] | None = None, **options: Any) -> Any:
        if not slipped and target == f"{url}/v1/sys/unseal" and body is not None and "key" in body:
            status, answer = real("PUT", target, {"key": base64.b64encode(bytes([7]) * 33).decode()})
            slipped.append(answer["progress"] if status == 200 else status)
        return real(method, target, body, **options)

    monkeypatch.setattr(stack.openbao, "json_request", with_a_wrong_share_first)
    status = stack.vault_unseal(MANAGER_2)

    assert [1] == slipped, "the wrong share was in the attempt when the unseal gave its first share"
    assert not status["sealed"] and not sealed(MANAGER_2)


def test_partial_attempt_left_by_another_client_is_reset_and_unsealed(
    start_service: Callable[..., Service], with_keys: dict[str, str], vault: dict[str, Any], kv: consul.Consul
) -> None:
    """One share submitted by someone else: the service resets that attempt and unseals the node."""
    kv.kv.put(DISABLE_AUTO_UNSEAL_KEY, "true")
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")
    stack.vault_restart(MANAGER_2)
    url = vault["nodes"][MANAGER_2]["url"]
    stack.json_request("PUT", f"{url}/v1/sys/unseal", {"key": vault["keys_hex"][2]})
    assert 1 == stack.vault_seal_status(MANAGER_2)["progress"]

    mark = service.mark()
    kv.kv.put(DISABLE_AUTO_UNSEAL_KEY, "false")
    service.wait_for(r"partial unseal attempt that is not ours", after=mark)
    service.wait_for(UNSEALED_BY_SERVICE, after=mark)

    assert not sealed(MANAGER_2)


def test_stopped_node_is_unreachable_others_unaffected_and_it_comes_back(
    start_service: Callable[..., Service], with_keys: dict[str, str]
) -> None:
    """A stopped node is `unreachable`; the others keep being polled; restarted, it comes back sealed and unsealed."""
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    mark = service.mark()
    stack.vault_stop(MANAGER_2)
    service.wait_for(r"\[ERROR\] .*Vault on manager-2 .* is unreachable: cannot connect", after=mark)
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-3\] .*: unsealed", count=3, after=mark)
    stack.vault_start(MANAGER_2)
    service.wait_for(SEALED_ERROR, after=mark)
    service.wait_for(UNSEALED_BY_SERVICE, after=mark)

    assert not sealed(MANAGER_2)


def test_a_hung_vault_delays_no_other_monitor(
    start_service: Callable[..., Service], with_keys: dict[str, str], vault: dict[str, Any]
) -> None:
    """A Vault that accepts connections and never answers (SIGSTOP) is `unreachable`; the others are still polled."""
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")
    pid = stack.load()["vault"]["nodes"][MANAGER_2]["pid"]

    mark = service.mark()
    os.kill(pid, signal.SIGSTOP)
    service.wait_for(r"\[ERROR\] .*Vault on manager-2 .* is unreachable: no answer within 3 s$", after=mark)
    hung = service.mark()
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-1\] .*: unsealed", count=4, after=hung)
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-3\] .*: unsealed", count=4, after=hung)
    os.kill(pid, signal.SIGCONT)

    service.wait_for(r"Vault on manager-2 .* is unsealed", after=hung)


def test_monitors_follow_managers_joining_and_leaving(
    start_service: Callable[..., Service], with_keys: dict[str, str], docker_cli: Callable[..., str]
) -> None:
    """Demoting a manager stops its monitor; promoting it again starts one, without a restart.

    Docker takes about 30 s to complete a promotion (the node's manager address appears last).
    """
    service = start_service(**with_keys)
    service.wait_for(rf"monitoring the Vault on manager manager-3 at {MANAGER_3_URL}")

    mark = service.mark()
    docker_cli("node", "demote", "manager-3")
    try:
        service.wait_for(r"no longer monitoring the Vault on manager-3", after=mark)
    finally:
        docker_cli("node", "promote", "manager-3")
    service.wait_for(rf"monitoring the Vault on manager manager-3 at {MANAGER_3_URL}", after=mark, timeout=120)


def test_a_switch_that_is_neither_true_nor_false_is_said_once_and_leaves_auto_unseal_on(
    start_service: Callable[..., Service], with_keys: dict[str, str], kv: consul.Consul
) -> None:
    """disable-auto-unseal=ture (a typo): one WARN naming the value, and the restarted node is unsealed, as
    `missing means false` implies; the WARN is not repeated at the next decision."""
    kv.kv.put(DISABLE_AUTO_UNSEAL_KEY, "ture")
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")

    for _ in range(2):
        mark = service.mark()
        stack.vault_restart(MANAGER_2)
        service.wait_for(UNSEALED_BY_SERVICE, after=mark)

    assert 1 == len(service.lines(r"\[WARN\] \[module:unsealer\] neon/cluster/disable-auto-unseal='ture' is neither"))


class GarbageVault(BaseHTTPRequestHandler):
    """Answers every request with the server's `status` (503 unless set) and `body` (`null`, `[]`, ...), as
    Content-Type application/json."""

    server: Any

    def answer(self) -> None:
        self.send_response(getattr(self.server, "status", 503))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    do_GET = do_PUT = answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def every_vault_unexpected_and_polled(service: Service, words: str) -> None:
    """Each manager's Vault said `unexpected` at ERROR with `words`, then its monitor polling on (3 polls each)."""
    for node in (1, 2, 3):
        service.wait_for(
            rf"\[ERROR\] \[module:vault-monitor:manager-{node}\] Vault on manager-{node} .* is unexpected: {words}"
        )
    mark = service.mark()
    for node in (1, 2, 3):
        service.wait_for(rf"\[DEBUG\] \[module:vault-monitor:manager-{node}\] .*: unexpected", count=3, after=mark)


@pytest.mark.parametrize(("body", "kind"), [(b"null", "null"), (b"[]", "an array"), (b'"no"', "a string")])
def test_a_vault_url_answering_503_with_json_garbage_is_unexpected_at_error_and_nothing_restarts(
    start_service: Callable[..., Service],
    with_keys: dict[str, str],
    kv: consul.Consul,
    tmp_path: Any,
    body: bytes,
    kind: str,
) -> None:
    """Defect 4: every manager's Vault URL points at a server answering 503 `application/json` with `null`, `[]`
    or a string (which made hvac raise AttributeError: the monitors and the Unsealer crashed in a loop). Now each
    Vault is `unexpected` at ERROR, the monitors keep polling, no actor restarts, and health stays ok."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), GarbageVault)
    server.body = body  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    health_file = tmp_path / "health"
    try:
        kv.kv.put(SETTINGS_PREFIX + "vault_url_template", f"http://127.0.0.1:{server.server_address[1]}")
        service = start_service(NEON_CM_HEALTH_FILE=str(health_file), **with_keys)
        every_vault_unexpected_and_polled(service, rf"seal-status answered HTTP 503 \(JSON {kind}\)")
        wait_until(health_file.exists)
        health = health_command(health_file)
    finally:
        server.shutdown()
        server.server_close()

    assert [] == service.lines(r"\[module:supervisor|crashed|Traceback")
    assert 0 == health.returncode, health.stdout + health.stderr


def test_a_vault_url_answering_json_nested_too_deep_is_unexpected_and_the_monitors_go_on(
    start_service: Callable[..., Service], with_keys: dict[str, str], kv: consul.Consul
) -> None:
    """Issue 26, defect 4: every manager's Vault URL answers 200 with JSON nested 100,000 deep, which raised
    RecursionError through the Vault gateway (65 crash lines in 45 s, no Vault reported). Now each Vault is
    `unexpected` at ERROR, its monitor keeps polling, and nothing crashes or restarts."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), GarbageVault)
    server.status, server.body = 200, b"[" * 100_000 + b"]" * 100_000  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        kv.kv.put(SETTINGS_PREFIX + "vault_url_template", f"http://127.0.0.1:{server.server_address[1]}")
        service = start_service(**with_keys)
        every_vault_unexpected_and_polled(service, r"/v1/sys/seal-status answered HTTP 200 with JSON nested too deep")
    finally:
        server.shutdown()
        server.server_close()

    assert [] == service.lines(r"\[module:supervisor|crashed|Traceback|RecursionError")
