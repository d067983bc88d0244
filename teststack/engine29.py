"""A front that presents one of the stack's dockerd 20.10 daemons as a Docker Engine 29, for the tests of the API
version negotiation (Debian 12's archive has no newer dockerd).

It listens on a unix socket of its own beside the daemon's and answers as Engine 29.1 does (Docker's Engine 29
release notes and API reference; /work/shared/stack.md has what was seen):
- `GET`/`HEAD /_ping` (unversioned or versioned): `OK` with `Api-Version: 1.52` and the daemon's own `Swarm`,
  `Docker-Experimental` and `Ostype` headers;
- `GET /version`: the daemon's answer with `ApiVersion` 1.52, `MinAPIVersion` 1.44 and `Version` 29.1.2;
- a path on a version below 1.44: 400 `client version 1.41 is too old. Minimum supported API version is 1.44,
  please upgrade your client to a newer version`; above 1.52: 400 `client version 1.60 is too new. Maximum
  supported API version is 1.52`;
- everything else is forwarded to the 20.10 daemon, a path's version rewritten to 1.41 (the node listing and the
  node events are the same there), one request per connection.

Run: `python -m teststack.engine29 <listen socket> <daemon socket>` (teststack.engine29_start does it for a node).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import socketserver
import sys
import threading
from pathlib import Path
from typing import Any

from .processes import pid_alive, spawn, stop_pids, wait_until
from .state import StackError, load, state_dir

ENGINE_VERSION = "29.1.2"
NEWEST = (1, 52)
OLDEST = (1, 44)
#: The daemon behind the front speaks this (Engine 20.10).
BACKEND_API = "1.41"
_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)?$")
_LONGEST_HEAD = 64 << 10


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def too_old_message(asked: str) -> str:
    return (
        f"client version {asked} is too old. Minimum supported API version is {_text(OLDEST)}, please upgrade your"
        " client to a newer version"
    )


def too_new_message(asked: str) -> str:
    return f"client version {asked} is too new. Maximum supported API version is {_text(NEWEST)}"


class Front(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen: str, backend: str) -> None:
        self.backend = backend
        super().__init__(listen, Handler)


class Handler(socketserver.BaseRequestHandler):
    server: Front

    def handle(self) -> None:
        client: socket.socket = self.request
        head, rest = _read_head(client)
        if head is None:
            return
        lines = head.split(b"\r\n")
        try:
            method, target, _ = lines[0].decode("latin-1").split(" ", 2)
        except ValueError:
            _answer(client, 400, {"message": "malformed request line"})
            return
        path, _, query = target.partition("?")
        versioned = _VERSIONED.match(path)
        rest_of_path = path
        if versioned:
            asked = (int(versioned.group(1)), int(versioned.group(2)))
            rest_of_path = versioned.group(3) or "/"
            if asked < OLDEST:
                _answer(client, 400, {"message": too_old_message(_text(asked))})
                return
            if asked > NEWEST:
                _answer(client, 400, {"message": too_new_message(_text(asked))})
                return
        if rest_of_path == "/_ping" and method in ("GET", "HEAD"):
            self.ping(client, method)
        elif rest_of_path == "/version" and method == "GET":
            self.version(client)
        else:
            forwarded = f"/v{BACKEND_API}{rest_of_path}" if versioned else path
            self.forward(client, method, forwarded + (f"?{query}" if query else ""), lines[1:], rest)

    def _backend(self, path: str) -> http.client.HTTPResponse:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(self.server.backend)
        connection = http.client.HTTPConnection("localhost")
        connection.sock = sock
        connection.request("GET", path)
        return connection.getresponse()

    def ping(self, client: socket.socket, method: str) -> None:
        response = self._backend("/_ping")
        response.read()
        # Engine 20.10's ping has no Swarm header (API 1.42 added it): its /info says what Engine 29 would.
        info = self._backend(f"/v{BACKEND_API}/info")
        swarm = json.loads(info.read()).get("Swarm") or {}
        state = swarm.get("LocalNodeState") or "inactive"
        if state == "active":
            state += "/manager" if swarm.get("ControlAvailable") else "/worker"
        headers = {
            "Api-Version": _text(NEWEST),
            "Builder-Version": "2",
            "Cache-Control": "no-cache, no-store, must-revalidate",
            "Content-Type": "text/plain; charset=utf-8",
            "Docker-Experimental": response.headers.get("Docker-Experimental", "false"),
            "Ostype": response.headers.get("Ostype", "linux"),
            "Pragma": "no-cache",
            "Server": f"Docker/{ENGINE_VERSION} (linux)",
            "Swarm": state,
        }
        _send(client, 200, headers, b"OK", head_only=method == "HEAD")

    def version(self, client: socket.socket) -> None:
        response = self._backend(f"/v{BACKEND_API}/version")
        body: dict[str, Any] = json.loads(response.read())
        body.update(Version=ENGINE_VERSION, ApiVersion=_text(NEWEST), MinAPIVersion=_text(OLDEST))
        for component in body.get("Components") or []:
            if component.get("Name") == "Engine":
                component["Version"] = ENGINE_VERSION
                component.setdefault("Details", {}).update(ApiVersion=_text(NEWEST), MinAPIVersion=_text(OLDEST))
        _answer(client, 200, body)

    def forward(self, client: socket.socket, method: str, path: str, header_lines: list[bytes], rest: bytes) -> None:
        kept = [line for line in header_lines if line and not line.lower().startswith(b"connection:")]
        head = b"\r\n".join([f"{method} {path} HTTP/1.1".encode("latin-1"), *kept, b"Connection: close", b"", b""])
        backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            backend.connect(self.server.backend)
        except OSError:
            _answer(client, 502, {"message": "the daemon behind the Engine 29 front does not answer"})
            backend.close()
            return
        backend.sendall(head + rest)
        upstream = threading.Thread(target=_pump, args=(client, backend), daemon=True)
        upstream.start()
        _pump(backend, client)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy `source` to `sink` until either ends; then shut both down (which ends the other direction too)."""
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    for sock in (source, sink):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk or len(data) > _LONGEST_HEAD:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _send(sock: socket.socket, status: int, headers: dict[str, str], body: bytes, head_only: bool = False) -> None:
    reason = http.client.responses.get(status, "")
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items())]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    sock.sendall("\r\n".join(lines).encode("latin-1") + (b"" if head_only else body))


def _answer(sock: socket.socket, status: int, body: Any) -> None:
    _send(sock, status, {"Content-Type": "application/json", "Api-Version": _text(NEWEST)}, json.dumps(body).encode())


# ---------------------------------------------------------------- the stack's side


def _node(name: str, path: str | None) -> dict[str, Any]:
    for node in load(path)["nodes"]:
        if node["hostname"] == name:
            return dict(node)
    raise StackError(f"no docker node named {name!r}")


def engine29_socket(name: str = "manager-1", path: str | None = None) -> str:
    """Where the front of node `name` listens (a unix socket beside the node's own)."""
    return os.path.join(state_dir(path), "engine29", f"{name}.sock")


def engine29_start(name: str = "manager-1", path: str | None = None) -> str:
    """Start the Engine 29 front of node `name` (if it is not running); its DOCKER_HOST (`unix://...`)."""
    listen = engine29_socket(name, path)
    pid_file = listen + ".pid"
    if os.path.exists(pid_file) and pid_alive(int(Path(pid_file).read_text().strip() or 0)):
        return f"unix://{listen}"
    os.makedirs(os.path.dirname(listen), exist_ok=True)
    if os.path.exists(listen):
        os.unlink(listen)
    backend = _node(name, path)["docker_host"][len("unix://") :]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    log = listen + ".log"
    pid = spawn([sys.executable, "-m", "teststack.engine29", listen, backend], log, cwd=root)
    with open(pid_file, "w") as out:
        out.write(str(pid))
    wait_until(lambda: _pinged(listen), 20, f"the Engine 29 front of {name}", log, pid)
    return f"unix://{listen}"


def engine29_stop(name: str = "manager-1", path: str | None = None) -> None:
    """Stop the Engine 29 front of node `name`, if it runs."""
    listen = engine29_socket(name, path)
    pid_file = listen + ".pid"
    if os.path.exists(pid_file):
        text = Path(pid_file).read_text().strip()
        if text:
            stop_pids([int(text)], timeout=5)
        os.unlink(pid_file)
    if os.path.exists(listen):
        os.unlink(listen)


def _pinged(listen: str) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect(listen)
        connection = http.client.HTTPConnection("localhost")
        connection.sock = sock
        connection.request("GET", "/_ping")
        response = connection.getresponse()
        return response.status == 200 and response.getheader("Api-Version") == _text(NEWEST)
    finally:
        sock.close()


def main(argv: list[str]) -> int:
    listen, backend = argv
    if os.path.exists(listen):
        os.unlink(listen)
    server = Front(listen, backend)
    os.chmod(listen, 0o666)  # the stack's Docker proxy container connects to it as its own user
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
