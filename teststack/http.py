"""HTTP to the stack's servers: JSON over loopback TCP (Consul, OpenBao), the Docker Engine API over a unix socket."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from typing import Any

from .state import StackError

# Everything here is on loopback: never go through an http(s)_proxy from the environment.
# The harness only observes its own test servers; a Vault node restarted over HTTPS by a TLS test
# has a certificate from the test's own CA, which the harness need not trust.
_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl._create_unverified_context())
)


def json_request(
    method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """HTTP request returning (status, parsed JSON or text); 4xx/5xx do not raise."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text.strip() else None
    except ValueError:
        return status, text


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, sock_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._sock_path = sock_path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self._sock_path)
        except BaseException:
            s.close()
            raise
        self.sock = s


def _docker_request(method: str, sock_path: str, path: str, timeout: float) -> tuple[int, str]:
    """One Docker Engine API request over a unix socket: (status, body text)."""
    conn = _UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def docker_get(sock_path: str, path: str, timeout: float = 5.0) -> Any:
    """GET a Docker Engine API path over a unix socket; return parsed JSON (raise on non-2xx)."""
    status, raw = _docker_request("GET", sock_path, path, timeout)
    if status >= 300:
        raise RuntimeError(f"GET {path} -> {status}: {raw.strip()}")
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def docker_delete(sock_path: str, path: str, timeout: float = 10.0) -> None:
    """DELETE a Docker Engine API path over a unix socket (404 is fine); raise on other errors."""
    status, raw = _docker_request("DELETE", sock_path, path, timeout)
    if status >= 300 and status != 404:
        raise StackError(f"DELETE {path} -> {status}: {raw.strip()}")
