"""Short, stable error descriptions, and clients built from the environment."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import consul
import pytest
import requests

from gateways.consul import consul_client
from gateways.errors import ACL_ADVICE, PLAIN_HTTP, UNKNOWN_TOKEN, describe
from gateways.files import read_text
from gateways.vault import VaultGateway
from neon_cm.environment import (
    TlsSettings,
    consul_access,
    consul_address,
    consul_token,
    parse_consul_address,
    parse_tls,
)


def test_connection_error_is_reduced_to_the_os_error() -> None:
    """requests' nested text, with object addresses that change per attempt, becomes the errno part."""
    text = (
        "HTTPConnectionPool(host='127.0.0.1', port=8500): Max retries exceeded with url: /v1/kv/x (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f12ab>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"
    )

    assert "ConnectionError: [Errno 111] Connection refused" == describe(ConnectionError(text))


def test_a_reset_connection_is_reduced_to_the_os_error() -> None:
    """`('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))`, what a Consul stopping
    mid-request gives, reads like every other connection error."""
    error = ConnectionError("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))")

    assert "ConnectionError: [Errno 104] Connection reset by peer" == describe(error)


def test_a_timeout_and_a_dropped_connection_are_said_in_words() -> None:
    """A hung Consul (SIGSTOP) and one killed mid-request, as the service met them: short words, no pool text."""
    timeout = requests.ReadTimeout(
        "HTTPConnectionPool(host='127.0.0.1', port=48337): Read timed out. (read timeout=1.0)"
    )
    dropped = ConnectionError(
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"
    )

    assert "ReadTimeout: no answer within 1 s" == describe(timeout)
    assert "ConnectionError: the server closed the connection without answering" == describe(dropped)


def test_a_missing_certificate_file_is_named_in_words() -> None:
    """requests' `Could not find a suitable TLS CA certificate bundle, invalid path: ...` says which file is missing."""
    error = OSError("Could not find a suitable TLS CA certificate bundle, invalid path: /nonexist/ca.pem")

    assert "OSError: the CA bundle (CACERT) /nonexist/ca.pem does not exist" == describe(error)


def test_other_errors_keep_their_text_without_addresses() -> None:
    """Anything else keeps its message; only object addresses go."""

    assert "ValueError: bad <thing>" == describe(ValueError("bad <thing at 0xdeadbeef>"))


def test_an_ipv6_consul_address_builds_a_valid_url() -> None:
    """CONSUL_HTTP_ADDR=[::1]:8500: the client's URL keeps the brackets."""
    client = consul_client(consul_access({"CONSUL_HTTP_ADDR": "[::1]:8500"}, read_text))

    assert "http://[::1]:8500" == client.http.base_uri
    assert "http://[::1]:8500" == str(parse_consul_address("http://[::1]:8500"))


class SealStatusAnswer(BaseHTTPRequestHandler):
    """A sealed Vault's seal-status, whatever is asked; the token of each request is kept in `tokens`."""

    tokens: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        self.tokens.append(self.headers.get("X-Vault-Token"))
        body = b'{"initialized":true,"sealed":true,"t":2,"n":3,"progress":0,"nonce":""}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_vault_clients_never_send_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """hvac would pick up VAULT_TOKEN (or ~/.vault-token) and send it to every manager; only unauthenticated
    endpoints are used, so no request carries a token. Shown against a real HTTP server in this process."""
    monkeypatch.setenv("VAULT_TOKEN", "s.not-for-these-endpoints")
    SealStatusAnswer.tokens.clear()

    server = HTTPServer(("127.0.0.1", 0), SealStatusAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        state = VaultGateway(url, TlsSettings()).probe().state
    finally:
        server.shutdown()
        server.server_close()

    assert "sealed" == state.value
    assert [None] == SealStatusAnswer.tokens


def test_token_file_wins_and_is_stripped_and_never_quoted() -> None:
    """CONSUL_HTTP_TOKEN_FILE is read (BOM and newline stripped) and wins; an empty or unreadable file is an
    error naming the file, never its content."""
    files = {"/run/secrets/t": "\ufefftok-1\n", "/empty": " \n"}

    def read(path: str) -> str:
        if path not in files:
            raise FileNotFoundError(path)
        return files[path]

    assert "tok-1" == consul_token({"CONSUL_HTTP_TOKEN_FILE": "/run/secrets/t", "CONSUL_HTTP_TOKEN": "x"}, read)
    assert "x" == consul_token({"CONSUL_HTTP_TOKEN": "x"}, read)
    assert None is consul_token({}, read)
    with pytest.raises(ValueError, match="CONSUL_HTTP_TOKEN_FILE=/empty is empty"):
        consul_token({"CONSUL_HTTP_TOKEN_FILE": "/empty"}, read)
    with pytest.raises(ValueError, match=r"^CONSUL_HTTP_TOKEN_FILE=/nope cannot be read: No such file or directory$"):
        consul_token({"CONSUL_HTTP_TOKEN_FILE": "/nope"}, read)


def test_a_token_file_that_holds_anything_but_one_token_is_refused_unread() -> None:
    """/etc/shadow as CONSUL_HTTP_TOKEN_FILE went into a header, and requests' refusal echoed all of it in the
    CLI's error line: a file of several lines, or with spaces or control characters, is refused without a word
    of its content."""
    files = {"/etc/shadow": "root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n", "/environ": "A=1\x00B=2"}

    refusals = []
    for path in files:
        with pytest.raises(ValueError) as refused:
            consul_token({"CONSUL_HTTP_TOKEN_FILE": path}, files.__getitem__)
        refusals.append(str(refused.value))
    with pytest.raises(ValueError) as spaced:
        consul_token({"CONSUL_HTTP_TOKEN": "two words"}, files.__getitem__)

    assert [
        "CONSUL_HTTP_TOKEN_FILE=/etc/shadow holds 2 lines, not one token (a UUID); is it the right file?",
        "CONSUL_HTTP_TOKEN_FILE=/environ holds spaces, control or non-ASCII characters, not one token (a UUID); is it "
        "the right file?",
    ] == refusals
    assert "two" not in str(spaced.value) and "root" not in " ".join(refusals)
    assert str(spaced.value).endswith("not one token (a UUID); check the value given")  # no file was named


def test_tls_variables_follow_each_tool(tmp_path: Path) -> None:
    """Consul's and Vault's own variable names; verification off is each tool's switch, with a warning; a
    certificate without its key is a warning; CONSUL_HTTP_SSL makes a bare address https."""
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    vault_env = {"VAULT_CAPATH": str(tmp_path), "VAULT_CLIENT_CERT": str(cert), "VAULT_CLIENT_KEY": str(key),
                 "VAULT_TLS_SERVER_NAME": "vault.cluster"}  # fmt: skip

    assert (TlsSettings(str(tmp_path), (str(cert), str(key)), "vault.cluster"), ()) == parse_tls(vault_env, "VAULT")
    assert False is parse_tls({"CONSUL_HTTP_SSL_VERIFY": "false"}, "CONSUL")[0].verify
    assert True is parse_tls({"VAULT_SKIP_VERIFY": "false"}, "VAULT")[0].verify
    assert ("CONSUL_CLIENT_CERT is set without CONSUL_CLIENT_KEY: no client certificate is presented",) == parse_tls(
        {"CONSUL_CLIENT_CERT": str(cert)}, "CONSUL"
    )[1]
    assert "https://consul:443" == str(consul_address({"CONSUL_HTTP_ADDR": "consul", "CONSUL_HTTP_SSL": "true"}))


def test_an_unknown_token_is_not_called_a_policy_problem() -> None:
    """403 `ACL not found` means Consul does not know the token: that, not the policy, is what to fix."""
    unknown = consul.ACLPermissionDenied("ACL not found")
    denied = consul.ACLPermissionDenied("Permission denied")

    assert UNKNOWN_TOKEN == describe(unknown)
    assert "wrong, expired or deleted" in describe(unknown) and "policy" not in describe(unknown)
    assert f"permission denied (403): {ACL_ADVICE}" == describe(denied)


def test_https_to_a_plain_http_server_says_so() -> None:
    """An https:// URL on a port that speaks plain HTTP (OpenSSL's WRONG_VERSION_NUMBER) is named as that."""
    text = (
        "HTTPSConnectionPool(host='127.0.0.1', port=8500): Max retries exceeded with url: /v1/kv/x (Caused by "
        "SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)')))"
    )

    assert PLAIN_HTTP == describe(requests.exceptions.SSLError(text))
    assert "the server answered plain HTTP: use http:// or check the port" == PLAIN_HTTP


def test_a_missing_client_certificate_does_not_break_a_plain_http_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VAULT_CLIENT_CERT naming a missing file made every http:// Vault `unreachable` (requests looks for the
    files whatever the scheme, and hvac reads the variable itself): only https:// requests carry the certificate.
    Against a real server here."""
    server = HTTPServer(("127.0.0.1", 0), SealStatusAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tls = TlsSettings(True, (str(tmp_path / "missing.pem"), str(tmp_path / "missing.key")))
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        observed = VaultGateway(url, tls).probe()
        consul_client(
            consul_access(
                {
                    "CONSUL_HTTP_ADDR": url,
                    "CONSUL_CLIENT_CERT": str(tmp_path / "c"),
                    "CONSUL_CLIENT_KEY": str(tmp_path / "k"),
                },
                read_text,
            )
        ).http.session.get(url)
    finally:
        server.shutdown()
        server.server_close()

    assert ("sealed", "0/2 unseal keys submitted") == (observed.state.value, observed.detail)


def test_a_vault_probed_over_https_on_a_plain_http_port_says_so() -> None:
    """The monitor's probe of an https:// URL on a plain-HTTP listener: unreachable, the server answered plain
    HTTP (it said `TLS handshake failed: [SSL: WRONG_VERSION_NUMBER] ...`). Against a real server here."""
    server = HTTPServer(("127.0.0.1", 0), SealStatusAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        observed = VaultGateway(url, TlsSettings()).probe()
    finally:
        server.shutdown()
        server.server_close()

    assert ("unreachable", PLAIN_HTTP) == (observed.state.value, observed.detail)
