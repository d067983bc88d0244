"""The Vault gateway turns every answer a server or proxy can give into an outcome (a real HTTP server in the
test process answers as told)."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gateways.vault import VaultGateway
from messages.vault import VaultState
from neon_cm.credentials import Secret
from neon_cm.environment import TlsSettings
from neon_cm.vault import (
    Garbage,
    HealthRole,
    NotSent,
    Observation,
    Rejected,
    RemovedFromCluster,
    SealStatus,
    Unreachable,
    UnreachableKind,
)
from tests.tls_certs import CertificateAuthority

SHARE = "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8="

Answer = tuple[int, str, bytes]
"""Status, Content-Type, body."""


class Server(ThreadingHTTPServer):
    answers: dict[str, Answer]
    bodies: list[bytes]


class Handler(BaseHTTPRequestHandler):
    server: Server

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(self.rfile.read(length))
        status, kind, body = self.server.answers[self.path.split("?")[0]]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def vault() -> Iterator[Server]:
    server = Server(("127.0.0.1", 0), Handler)
    server.answers, server.bodies = {}, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def gateway(server: Server) -> VaultGateway:
    return VaultGateway(f"http://127.0.0.1:{server.server_address[1]}", TlsSettings())


JSON = "application/json"
SEALED = b'{"type":"shamir","initialized":true,"sealed":true,"t":2,"n":3,"progress":1,"nonce":"abc","version":"2.7.2"}'


@pytest.mark.parametrize("body", [b"null", b"[]", b'"Service Unavailable"', b"42", b"true"])
def test_an_error_status_with_a_json_body_that_is_not_an_object_is_garbage(vault: Server, body: bytes) -> None:
    """Defect 4: 503 with Content-Type application/json and `null`, `[]` or a string made hvac raise
    AttributeError (it reads `.get` on the body), which crashed the monitor and the Unsealer. Now: unexpected."""
    for path in ("/v1/sys/seal-status", "/v1/sys/unseal", "/v1/sys/health"):
        vault.answers[path] = (503, JSON, body)
    node = gateway(vault)

    assert VaultState.UNEXPECTED == node.probe().state
    assert isinstance(node.seal_status(), Garbage)
    assert isinstance(node.submit_share(Secret(SHARE)), Garbage)
    assert isinstance(node.reset(), Garbage)


def test_the_words_of_an_answer_never_hold_the_body() -> None:
    """What a garbage answer is called: its status and the JSON's kind, not what it says."""
    assert "seal-status answered HTTP 503 (JSON null)" == Garbage("seal-status answered HTTP 503 (JSON null)").detail


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        ((503, JSON, b"null"), "seal-status answered HTTP 503 (JSON null)"),
        ((404, JSON, b'{"errors":[]}'), "seal-status answered HTTP 404 (JSON an object)"),
        ((500, JSON, b'{"errors":["storage failed"]}'), "seal-status answered HTTP 500: storage failed"),
        ((200, "text/html", b"<html>proxy</html>"),
         "/v1/sys/seal-status answered HTTP 200 with a body that is not JSON (text/html)"),
        ((200, JSON, b'{"sealed":"no"}'),
         "HTTP 200 but the body has no boolean `initialized` and `sealed`: not a seal-status"),
        ((200, JSON, b"[1]"), "HTTP 200 but the body is JSON an array, not a seal-status object"),
        ((502, "text/plain", b""), "seal-status answered HTTP 502 (JSON null)"),
    ],
)  # fmt: skip
def test_what_is_not_a_seal_status_says_what_came(vault: Server, answer: Answer, detail: str) -> None:
    """Each kind of wrong answer is `unexpected` with words saying what came."""
    vault.answers["/v1/sys/seal-status"] = answer

    assert Observation(VaultState.UNEXPECTED, detail) == gateway(vault).probe()


def test_a_seal_status_with_fields_it_does_not_know_is_read(vault: Server) -> None:
    """Unknown fields (type, version, commit_date...) are ignored."""
    vault.answers["/v1/sys/seal-status"] = (200, JSON, SEALED)

    assert SealStatus(True, True, 2, 1, "abc") == gateway(vault).seal_status()
    assert Observation(VaultState.SEALED, "1/2 unseal keys submitted", True, "shamir") == gateway(vault).probe()


@pytest.mark.parametrize(
    ("answer", "role"),
    [((200, b'{"standby":false}'), "active"), ((200, b'{"standby":true}'), "standby"),
     ((429, b'{"standby":true}'), "standby")],
)  # fmt: skip
def test_an_unsealed_vault_is_active_or_standby(vault: Server, answer: tuple[int, bytes], role: str) -> None:
    """Health tells the role; 429 means standby (here, never rate limiting)."""
    vault.answers["/v1/sys/seal-status"] = (200, JSON, b'{"initialized":true,"sealed":false,"t":2,"progress":0}')
    vault.answers["/v1/sys/health"] = (answer[0], JSON, answer[1])

    assert HealthRole(role) == gateway(vault).health()
    assert Observation(VaultState.UNSEALED, role, seal_type="shamir") == gateway(vault).probe()


#: Vault 1.19's health bodies (OpenBao 2.7 has neither code: recorded from Vault's sys_health.go and API docs).
REMOVED_HEALTH = (
    b'{"initialized":true,"sealed":false,"standby":true,"removed_from_cluster":true,'
    b'"replication_performance_mode":"disabled","replication_dr_mode":"disabled","version":"1.19.0"}'
)
HA_UNHEALTHY_HEALTH = (
    b'{"initialized":true,"sealed":false,"standby":true,"ha_connection_healthy":false,'
    b'"last_request_forwarding_heartbeat_ms":31000,"version":"1.19.0"}'
)
UNSEALED_STATUS = b'{"type":"shamir","initialized":true,"sealed":false,"t":2,"progress":0,"nonce":""}'


def test_health_530_is_a_node_removed_from_its_cluster(vault: Server) -> None:
    """Issue 19: Vault 1.19 answers 530 for a node removed from its raft cluster (before sealed, whatever
    `standbyok`): the state `removed`, its own words, and no share may go to it."""
    vault.answers["/v1/sys/seal-status"] = (200, JSON, UNSEALED_STATUS)
    vault.answers["/v1/sys/health"] = (530, JSON, REMOVED_HEALTH)

    assert RemovedFromCluster() == gateway(vault).health()
    expected = Observation(
        VaultState.REMOVED,
        "removed from its raft cluster: not unsealing it; re-join or replace the node",
        False,
        "shamir",
    )
    assert expected == gateway(vault).probe()


def test_health_474_is_a_standby_that_cannot_reach_the_active_node(vault: Server) -> None:
    """Issue 19: Vault 1.19 answers 474 for a standby whose requests to the active node fail: the state
    `disconnected` with its own words, not `unexpected`."""
    vault.answers["/v1/sys/seal-status"] = (200, JSON, UNSEALED_STATUS)
    vault.answers["/v1/sys/health"] = (474, JSON, HA_UNHEALTHY_HEALTH)

    assert HealthRole("standby", reaches_active=False) == gateway(vault).health()
    expected = Observation(VaultState.DISCONNECTED, "standby cannot reach the active node (health 474)", True, "shamir")
    assert expected == gateway(vault).probe()


def test_an_auto_sealed_vault_unsealed_says_its_seal_beside_its_role(vault: Server) -> None:
    """Issue 19: unsealed with an auto seal, the detail says so next to active or standby."""
    vault.answers["/v1/sys/seal-status"] = (
        200,
        JSON,
        b'{"type":"static","initialized":true,"sealed":false,"t":1,"progress":0,"recovery_seal":true}',
    )
    vault.answers["/v1/sys/health"] = (200, JSON, b'{"standby":false}')

    assert Observation(VaultState.UNSEALED, "active, auto seal static", True, "static") == gateway(vault).probe()


def test_a_refused_share_is_rejected_with_vaults_words_never_the_share(vault: Server) -> None:
    """400 with errors: Rejected with Vault's words; a proxy echoing the share has it taken out."""
    vault.answers["/v1/sys/unseal"] = (400, JSON, b'{"errors":["invalid key: ' + SHARE.encode() + b'"]}')

    assert Rejected("invalid key: <share>") == gateway(vault).submit_share(Secret(SHARE))
    assert [b'{"key": "' + SHARE.encode() + b'"}'] == vault.bodies


def test_deeply_nested_json_is_garbage_not_a_crash(vault: Server) -> None:
    """Issue 26, defect 4: JSON nested 100,000 deep made the JSON reader raise RecursionError through a gateway
    that promises never to raise (the monitors crashed, no Vault was reported). Now: unexpected, for every call."""
    nested = (JSON, b"[" * 100_000 + b"]" * 100_000)
    for path in ("/v1/sys/seal-status", "/v1/sys/unseal", "/v1/sys/health"):
        vault.answers[path] = (200, *nested)
    node = gateway(vault)

    assert (
        Observation(VaultState.UNEXPECTED, "/v1/sys/seal-status answered HTTP 200 with JSON nested too deep to read")
        == node.probe()
    )
    assert isinstance(node.submit_share(Secret(SHARE)), Garbage)
    assert isinstance(node.reset(), Garbage)


@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 502, 503])
@pytest.mark.parametrize(
    "echo",
    [SHARE, urllib.parse.quote(SHARE, safe=""), SHARE.replace("=", "%3d"), base64.b64decode(SHARE).hex()],
)
def test_no_answer_to_a_share_holds_the_share_in_any_form(vault: Server, status: int, echo: str) -> None:
    """Issue 26, defect 7: a proxy's 502 echoing the request kept the share in the outcome (only 400 and 500 were
    scrubbed), and the URL-encoded form was never masked. Every answer to a share is scrubbed, in every form."""
    body = json.dumps({"errors": [f"bad gateway: PUT /v1/sys/unseal?key={echo} failed"]}).encode()
    vault.answers["/v1/sys/unseal"] = (status, JSON, body)

    outcome = gateway(vault).submit_share(Secret(SHARE))

    assert "<share>" in repr(outcome)
    for form in (SHARE, urllib.parse.quote(SHARE, safe=""), base64.b64decode(SHARE).hex()):
        assert form.lower() not in repr(outcome).lower()


def test_a_share_and_a_reset_answered_with_a_seal_status(vault: Server) -> None:
    """200: the seal status after the call."""
    vault.answers["/v1/sys/unseal"] = (200, JSON, SEALED)

    assert SealStatus(True, True, 2, 1, "abc") == gateway(vault).submit_share(Secret(SHARE))
    assert SealStatus(True, True, 2, 1, "abc") == gateway(vault).reset()
    assert b'{"reset": true}' == vault.bodies[-1]


def test_nothing_listening_and_no_answer_are_unreachable() -> None:
    """Refused: cannot connect; accepted but never answered: no answer within the 3 s read timeout."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = VaultGateway(f"http://127.0.0.1:{port}", TlsSettings()).seal_status()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hung = VaultGateway(f"http://127.0.0.1:{silent.getsockname()[1]}", TlsSettings()).seal_status()

    assert isinstance(refused, Unreachable) and UnreachableKind.CONNECT == refused.kind
    assert "[Errno 111] Connection refused" in refused.reason
    assert Unreachable(UnreachableKind.TIMEOUT, "no answer within 3 s") == hung


def test_a_server_that_closes_without_answering_is_not_said_to_refuse_the_connection() -> None:
    """Operator tryout 2026-12-07: a Vault restarted as it was polled was `unreachable: cannot connect: the server
    closed the connection without answering`; it had taken the connection. The detail says what happened."""
    with socket.socket() as closing:
        closing.bind(("127.0.0.1", 0))
        closing.listen()

        def close_each() -> None:
            for _ in range(3):  # the probe, and any retry of it
                try:
                    connection, _ = closing.accept()
                except OSError:
                    return
                connection.recv(65536)
                connection.close()

        closer = threading.Thread(target=close_each, daemon=True)
        closer.start()
        dropped = VaultGateway(f"http://127.0.0.1:{closing.getsockname()[1]}", TlsSettings()).seal_status()
        closing.shutdown(socket.SHUT_RDWR)  # wakes its accept(), so no thread of this test outlives it
        closer.join(timeout=5)

    assert not closer.is_alive()
    assert Unreachable(UnreachableKind.CONNECT, "the server closed the connection without answering") == dropped


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b'{"type":"static","initialized":true,"sealed":true,"t":1,"progress":0,"recovery_seal":true,"commit_date":"x"}',
         Observation(VaultState.SEALED, "auto seal static: Vault unseals itself; check its seal backend", False,
                     "static")),
        (b'{"type":"transit","initialized":true,"sealed":true,"t":1,"progress":0,"build_date":"2025-01-01"}',
         Observation(VaultState.SEALED, "auto seal transit: Vault unseals itself; check its seal backend", False,
                     "transit")),
        (b'{"type":"shamir","initialized":true,"sealed":true,"t":3,"progress":0,"removed_from_cluster":true}',
         Observation(VaultState.REMOVED, "removed from its raft cluster: not unsealing it; re-join or replace the node",
                     False, "shamir")),
        (b'{"type":"shamir","initialized":true,"sealed":true,"t":3,"progress":1,"nonce":"n","new_field":[1]}',
         Observation(VaultState.SEALED, "1/3 unseal keys submitted", True, "shamir")),
    ],
)  # fmt: skip
def test_seal_type_and_removal_are_read(vault: Server, body: bytes, found: Observation) -> None:
    """Issue 19: an auto seal (type not shamir, or a recovery seal) and a node removed from its cluster are sealed
    Vaults no share may go to; unknown fields are ignored; Vault's build_date and OpenBao's commit_date are read."""
    vault.answers["/v1/sys/seal-status"] = (200, JSON, body)

    assert found == gateway(vault).probe()
    status = gateway(vault).seal_status()
    assert isinstance(status, SealStatus) and ("x" if b"commit_date" in body else "") in status.built


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # verify=False is asked for here
def test_vault_cacert_wins_over_a_ca_bundle_from_the_environment(
    vault: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE (set on many machines) replaces a requests session's own CA: VAULT_CACERT was ignored
    and verification failed. The gateway gives its TLS settings with every request (found by test_vault_tls)."""
    ca = CertificateAuthority(tmp_path)
    cert, key = ca.issue("vault", san="IP:127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    vault.socket = context.wrap_socket(vault.socket, server_side=True)
    vault.answers["/v1/sys/seal-status"] = (200, JSON, SEALED)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    url = f"https://127.0.0.1:{vault.server_address[1]}"

    assert isinstance(VaultGateway(url, TlsSettings(verify=str(ca.cert))).seal_status(), SealStatus)
    assert isinstance(VaultGateway(url, TlsSettings(verify=False)).seal_status(), SealStatus)


def test_a_client_certificate_that_cannot_be_read_matters_only_over_https(vault: Server) -> None:
    """Issue 21 item 11: a missing VAULT_CLIENT_CERT made every http:// Vault unreachable, though no TLS is used."""
    vault.answers["/v1/sys/seal-status"] = (200, JSON, SEALED)
    tls = TlsSettings(cert=("/nonexistent/client.pem", "/nonexistent/client.key"))

    plain = VaultGateway(f"http://127.0.0.1:{vault.server_address[1]}", tls).seal_status()
    secure = VaultGateway(f"https://127.0.0.1:{vault.server_address[1]}", tls).seal_status()

    assert isinstance(plain, SealStatus)
    assert isinstance(secure, Unreachable) and "/nonexistent/client.pem" in secure.reason


@contextlib.contextmanager
def slow_handshake_vault(tmp_path: Path) -> Iterator[tuple[VaultGateway, list[bytes]]]:
    """A TLS Vault whose handshake takes 1 s, keeping every byte it then receives, and the gateway that reaches it;
    the Vault's thread is joined when the block ends."""
    ca = CertificateAuthority(tmp_path)
    cert, key = ca.issue("vault", san="IP:127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def slow_vault() -> None:
        connection, _ = listener.accept()
        time.sleep(1.0)  # a slow handshake: the deadline passes, or the attempt is cancelled, meanwhile
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.settimeout(2.0)
            try:
                while chunk := tls.recv(65536):
                    received.append(chunk)
            except OSError:
                pass

    server = threading.Thread(target=slow_vault, daemon=True)
    server.start()
    try:
        yield VaultGateway(f"https://127.0.0.1:{listener.getsockname()[1]}", TlsSettings(verify=str(ca.cert))), received
    finally:
        server.join(timeout=10)
        listener.close()


def test_a_share_whose_deadline_passes_during_a_slow_handshake_is_never_sent(tmp_path: Path) -> None:
    """Issue 26, defect 2: the deadline was checked before the request, but TCP connect and the TLS handshake may
    take up to the 2 s connect timeout, so a share could reach Vault 1.8 s after it (measured). Now the share is
    written only once the connection is up, if its deadline has not come by then: here the handshake takes 1 s and
    the deadline is 0.3 s away, so Vault receives no share."""
    with slow_handshake_vault(tmp_path) as (node, received):
        answer = node.submit_share(Secret(SHARE), not_after=time.monotonic() + 0.3)

    assert NotSent("the lease's deadline came before the share could go out") == answer
    assert SHARE.encode() not in b"".join(received)


def test_a_share_cancelled_during_a_slow_handshake_is_never_sent(tmp_path: Path) -> None:
    """The attempt cancelled while the connection is being made (its instance stopped leading: Leadership waits for
    the Unsealer to have cancelled, then releases the lock, and a standby takes it within 0.5 s): the share's deadline
    is still to come, but it is not written once connected (the sim's `holder stops mid-attempt`, seeds 6, 18, 65,
    104: a share received 0.6-1.2 s after the standby took the lock). Here the handshake takes 1 s and the attempt is
    cancelled 0.3 s into it, so Vault receives no share."""
    cancelled = threading.Event()
    with slow_handshake_vault(tmp_path) as (node, received):
        threading.Timer(0.3, cancelled.set).start()
        answer = node.submit_share(Secret(SHARE), not_after=time.monotonic() + 60, cancelled=cancelled.is_set)

    assert NotSent("the attempt was cancelled before the share could go out") == answer
    assert SHARE.encode() not in b"".join(received)


def test_a_share_within_its_deadline_is_sent_once_connected(vault: Server) -> None:
    """A share with time left goes out as ever (its body written once connected), and Vault reads it."""
    vault.answers["/v1/sys/unseal"] = (200, JSON, SEALED)

    answer = gateway(vault).submit_share(Secret(SHARE), not_after=time.monotonic() + 60)

    assert SealStatus(True, True, 2, 1, "abc") == answer
    assert [b'{"key": "' + SHARE.encode() + b'"}'] == vault.bodies
