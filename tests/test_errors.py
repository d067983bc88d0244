"""Short, stable error descriptions, and clients built from the environment."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from gateways.vault import VaultGateway
from neon_cm.clients import consul_client
from neon_cm.environment import TlsSettings, consul_address, consul_token, parse_consul_address, parse_tls
from neon_cm.errors import describe


def test_connection_error_is_reduced_to_the_os_error() -> None:
    """requests' nested text, with object addresses that change per attempt, becomes the errno part."""
    text = (
        "HTTPConnectionPool(host='127.0.0.1', port=8500): Max retries exceeded with url: /v1/kv/x (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f12ab>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"
    )

    assert "ConnectionError: [Errno 111] Connection refused" == describe(ConnectionError(text))


def test_other_errors_keep_their_text_without_addresses() -> None:
    """Anything else keeps its message; only object addresses go."""

    assert "ValueError: bad <thing>" == describe(ValueError("bad <thing at 0xdeadbeef>"))


def test_an_ipv6_consul_address_builds_a_valid_url() -> None:
    """CONSUL_HTTP_ADDR=[::1]:8500: the client's URL keeps the brackets."""
    client = consul_client({"CONSUL_HTTP_ADDR": "[::1]:8500"})

    assert "http://[::1]:8500" == client.http.base_uri
    assert "http://[::1]:8500" == str(parse_consul_address("http://[::1]:8500"))


def test_vault_clients_never_send_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """hvac would pick up VAULT_TOKEN (or ~/.vault-token) and send it to every manager; only unauthenticated
    endpoints are used, so no request carries a token. Shown against a real HTTP server in this process."""
    monkeypatch.setenv("VAULT_TOKEN", "s.not-for-these-endpoints")
    seen: list[str | None] = []

    class SealStatus(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Vault-Token"))
            body = b'{"initialized":true,"sealed":true,"t":2,"n":3,"progress":0,"nonce":""}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), SealStatus)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        state = VaultGateway(url, TlsSettings()).probe().state
    finally:
        server.shutdown()
        server.server_close()

    assert "sealed" == state.value
    assert [None] == seen


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
    with pytest.raises(ValueError, match=r"CONSUL_HTTP_TOKEN_FILE=/nope cannot be read \(FileNotFoundError\)"):
        consul_token({"CONSUL_HTTP_TOKEN_FILE": "/nope"}, read)


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
