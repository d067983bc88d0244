"""Short, stable error descriptions, and clients built from the environment."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from neon_cm.clients import consul_client, vault_client
from neon_cm.environment import parse_consul_address
from neon_cm.errors import describe
from neon_cm.vault_probe import probe


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
        observed = probe(vault_client(url, True), "manager-1", url)
    finally:
        server.shutdown()
        server.server_close()

    assert "sealed" == observed.state.value
    assert [None] == seen
