"""A Unix socket in front of a manager's docker.sock that relays every byte until told to hang: from then on it
answers nothing (requests in flight and new connections wait forever), as a manager whose dockerd is paused. For
the handover's integration test and benchmark (issue 28); the Swarm itself is left untouched."""

from __future__ import annotations

import contextlib
import select
import socket
import tempfile
import threading
from pathlib import Path


class HangingDocker:
    """`url` is a DOCKER_HOST for the service; `hang()` makes it stop answering; `close()` ends it."""

    def __init__(self, upstream: str) -> None:
        """`upstream`: the manager's DOCKER_HOST (`unix:///.../docker.sock`)."""
        self.upstream = upstream.removeprefix("unix://")
        self.folder = Path(tempfile.mkdtemp(prefix="neon-docker-", dir="/tmp"))  # a socket path has 107 bytes at most
        self.path = self.folder / "docker.sock"
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(64)
        self.hung = threading.Event()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def hang(self) -> None:
        self.hung.set()

    def close(self) -> None:
        self.closed.set()
        with self.lock:
            for sock in [self.server, *self.sockets]:
                with contextlib.suppress(OSError):
                    sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
            self.folder.rmdir()

    def keep(self, sock: socket.socket) -> bool:
        """Keep `sock` for close(); one made after close() (a connection accepted as it closed) is closed at once:
        whether it was kept. (A socket left open is a ResourceWarning in whichever later test collects it.)"""
        with self.lock:
            if self.closed.is_set():
                with contextlib.suppress(OSError):
                    sock.close()
                return False
            self.sockets.append(sock)
            return True

    def accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.keep(client):
                return
            if not self.hung.is_set():  # a connection made while hung is held open and never read
                threading.Thread(target=self.relay, args=(client,), daemon=True).start()

    def relay(self, client: socket.socket) -> None:
        daemon = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if not self.keep(daemon):
            return
        try:
            daemon.connect(self.upstream)
            peers = {client: daemon, daemon: client}
            while not self.closed.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.2)
                if self.hung.is_set():
                    self.closed.wait()  # hold both ends open, move nothing: the client waits out its timeout
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            if not self.hung.is_set():
                for sock in (client, daemon):
                    with contextlib.suppress(OSError):
                        sock.close()
