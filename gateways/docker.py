"""The Docker gateway: every call the service makes to a Docker daemon, each answer turned into a typed outcome.

Both calls speak HTTP over a socket of the gateway's own (http.client), not through the Docker SDK: the SDK
waits for an event stream with no timeout, cannot close one before the daemon answers, and leaves the socket
of a failed connection to the garbage collector.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from messages.docker import (
    DockerGarbage,
    DockerUnreachable,
    ListingOutcome,
    NodeEvent,
    NodesListed,
    NotAManager,
    StreamClosed,
    StreamEnded,
    StreamOutcome,
    StreamQuiet,
)
from messages.swarm import SwarmNode
from neon_cm.clients import DEFAULT_DOCKER_HOST, DOCKER_API_VERSION, REQUEST_TIMEOUT
from neon_cm.errors import describe

#: A node event stream that says nothing this long is reconnected: a hung daemon (SIGSTOPped, deadlocked)
#: looks exactly like a quiet Swarm, and this bounds how long it can hold the stream's thread.
EVENT_READ_TIMEOUT = 60.0
#: No Docker event is anywhere near this long; a longer line is not an event.
LONGEST_EVENT_BYTES = 1 << 20
#: A listing of a few thousand nodes is a few MB; anything far beyond that is not a listing.
LONGEST_LISTING_BYTES = 64 << 20
#: What a worker (or a daemon in no Swarm) answers GET /nodes with, status 503.
NOT_A_MANAGER = "not a swarm manager"
NODE_EVENTS_QUERY = urllib.parse.urlencode({"filters": json.dumps({"type": ["node"]})})


class DockerGateway:
    """One Docker daemon (DOCKER_HOST). `nodes()` lists the Swarm; `node_events()` makes a closable event stream.

    Nothing here raises for anything the daemon (or whatever answers in its place) can do: every answer and
    every failure is an outcome from messages/docker.py.
    """

    def __init__(self, host: str, timeout: float = REQUEST_TIMEOUT, read_timeout: float = EVENT_READ_TIMEOUT) -> None:
        self.host = host
        self.timeout = timeout
        self.read_timeout = read_timeout

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DockerGateway:
        """The gateway for DOCKER_HOST (default: the local socket); no request is made here."""
        return cls(env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST)

    def nodes(self) -> ListingOutcome:
        """GET /nodes: the Swarm's nodes, or why they could not be listed."""
        try:
            address, family, host_header = _address(self.host)
        except ValueError as error:
            return DockerUnreachable(str(error))
        answered = False
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                response = _get(sock, address, host_header, "nodes", self.timeout)
                answered = True
                body = response.read(LONGEST_LISTING_BYTES + 1)
            except TimeoutError:
                return DockerUnreachable("TimeoutError: the listing stalled" if answered else _no_answer(self.timeout))
            except (OSError, http.client.HTTPException) as error:
                return DockerUnreachable(describe(error))
        if response.status != 200:
            return _refusal(response.status, body)
        if len(body) > LONGEST_LISTING_BYTES:
            return DockerGarbage(f"a node listing longer than {LONGEST_LISTING_BYTES} bytes")
        try:
            listed = json.loads(body)
        except ValueError:
            return DockerGarbage(f"the node listing is not JSON: {body[:80]!r}")
        if not isinstance(listed, list) or not all(isinstance(node, dict) for node in listed):
            return DockerGarbage(f"the node listing is a {type(listed).__name__}, not a list of nodes")
        return NodesListed(tuple(SwarmNode.from_docker(node) for node in listed))

    def node_events(self) -> EventStream:
        """A stream of GET /events?filters={"type":["node"]}, not connected yet: `follow` it in a thread of its own,
        `close` it from any other at any moment (before it has connected too)."""
        return EventStream(self.host, self.timeout, self.read_timeout)


class EventStream:
    """One connection to the daemon's node events. The socket is made (and registered for `close`) before it
    connects, so a stop never waits for a hung daemon: `close` shuts it down and `follow` returns at once.

    The Docker SDK's `events()` cannot give this: it waits for the answer with no timeout at all, and the stream
    object that could close it only exists once the daemon has answered.
    """

    def __init__(self, host: str, timeout: float, read_timeout: float) -> None:
        self.host = host
        self.timeout = timeout
        self.read_timeout = read_timeout
        self._lock = threading.Lock()
        self._closed = False
        self._socket: socket.socket | None = None

    def close(self) -> None:
        """Stop the stream from any thread; `follow` then returns StreamClosed. Safe to call more than once."""
        with self._lock:
            self._closed = True
            sock, self._socket = self._socket, None
        if sock is not None:
            _shut(sock)

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def follow(self, connected: Callable[[], None], changed: Callable[[NodeEvent], None]) -> StreamOutcome:
        """Connect, call `connected()` once the daemon has answered 200, then `changed(event)` for each node event,
        until the stream ends, fails, stays quiet for the read timeout, or is closed; why it stopped."""
        try:
            address, family, host_header = _address(self.host)
        except ValueError as error:
            return DockerUnreachable(str(error))
        sock = socket.socket(family, socket.SOCK_STREAM)
        with self._lock:
            if self._closed:
                sock.close()
                return StreamClosed()
            self._socket = sock
        answered = False
        try:
            response = _get(sock, address, host_header, f"events?{NODE_EVENTS_QUERY}", self.timeout)
            answered = True
            if response.status != 200:
                return _refusal(response.status, response.read(LONGEST_EVENT_BYTES))
            connected()
            sock.settimeout(self.read_timeout)
            while True:
                line = response.readline(LONGEST_EVENT_BYTES + 1)
                if not line:
                    return StreamClosed() if self.closed else StreamEnded()
                if line.strip():
                    event = _node_event(line)
                    if isinstance(event, DockerGarbage):
                        return event
                    changed(event)
        except TimeoutError:
            if self.closed:
                return StreamClosed()
            if answered:
                return StreamQuiet(self.read_timeout)
            return DockerUnreachable(_no_answer(self.timeout))
        except (OSError, http.client.HTTPException) as error:
            return StreamClosed() if self.closed else DockerUnreachable(describe(error))
        finally:
            with self._lock:
                self._socket = None
            _shut(sock)


def _get(sock: socket.socket, address: Any, host_header: str, path: str, timeout: float) -> http.client.HTTPResponse:
    """GET /v<api>/<path> on `sock` (ours, so another thread can shut it down at any moment); the answer's head."""
    sock.settimeout(timeout)
    sock.connect(address)
    connection = http.client.HTTPConnection(host_header)
    connection.sock = sock  # http.client uses it and never connects one of its own
    connection.request("GET", f"/v{DOCKER_API_VERSION}/{path}")
    return connection.getresponse()


def _no_answer(timeout: float) -> str:
    return f"TimeoutError: no answer within {timeout:g} s (is the daemon hung?)"


def _shut(sock: socket.socket) -> None:
    """Shut the socket down (which wakes a thread blocked reading it, as a plain close does not) and close it."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected yet, or already shut: closing is all that is left
    sock.close()


def _address(host: str) -> tuple[Any, socket.AddressFamily, str]:
    """(address to connect to, socket family, Host header) for DOCKER_HOST; ValueError for what the stream
    cannot follow."""
    parsed = urllib.parse.urlsplit(host)
    if parsed.scheme == "unix":
        return parsed.path, socket.AF_UNIX, "localhost"
    if parsed.scheme in ("tcp", "http") and parsed.hostname:
        port = parsed.port or 2375
        return (parsed.hostname, port), socket.AF_INET6 if ":" in parsed.hostname else socket.AF_INET, parsed.netloc
    raise ValueError(f"the node event stream follows unix:// and tcp:// daemons only, not {parsed.scheme}://")


def _refusal(status: int, body: bytes) -> DockerUnreachable | NotAManager:
    """The outcome of GET /events answered with an error status."""
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    text = f"HTTP {status}: {message}".strip()
    if status == 503 and NOT_A_MANAGER in message.lower():
        return NotAManager(text)
    return DockerUnreachable(text)


def _node_event(line: bytes) -> NodeEvent | DockerGarbage:
    """One line of the stream as a NodeEvent; garbage when it is not a JSON object (or is far too long)."""
    if len(line) > LONGEST_EVENT_BYTES:
        return DockerGarbage(f"an event line longer than {LONGEST_EVENT_BYTES} bytes")
    try:
        event = json.loads(line)
    except ValueError:
        return DockerGarbage(f"an event line that is not JSON: {line[:80]!r}")
    if not isinstance(event, dict):
        return DockerGarbage(f"an event that is a {type(event).__name__}, not an object")
    actor = event.get("Actor")
    node_id = actor.get("ID", "") if isinstance(actor, dict) else ""
    return NodeEvent(str(event.get("Action", "")), str(node_id))
