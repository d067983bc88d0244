"""The Docker gateway: every call the service makes to a Docker daemon, each answer turned into a typed outcome.

Both calls speak HTTP over a socket of the gateway's own (http.client), not through the Docker SDK: the SDK
waits for an event stream with no timeout, cannot close one before the daemon answers, and leaves the socket
of a failed connection to the garbage collector.

The API version is negotiated as the Docker CLI does it (neon_cm/docker_api.py decides): `GET /_ping` (and
`GET /version` when that leaves it open) before the first call, and again whenever the daemon refuses the version
in use with a 400 (an Engine upgraded or downgraded under the service, a proxy restarted in front of another daemon),
or the event stream reconnects after the daemon ended it. The version is shared by every gateway of one process
(`ApiVersions`), so the listing and the event stream agree.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import attrs

from gateways import REQUEST_TIMEOUT, transport
from gateways.errors import describe, reason
from gateways.transport import SocketMaker
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
    StreamRenegotiated,
)
from messages.swarm import SwarmNode
from neon_cm import docker_api
from neon_cm.docker_api import AskVersion, Chosen, NoCommonVersion
from neon_cm.environment import DEFAULT_DOCKER_HOST

#: Told each socket a version negotiation opens; False: the caller was closed meanwhile, give up.
Opened = Callable[[socket.socket], bool]
#: Makes the gateway's sockets: a real one by default, the simulator's (sim/transport.py's SimSocket) in the sim.
Sockets = SocketMaker


def real_socket(family: socket.AddressFamily) -> socket.socket:
    return socket.socket(family, socket.SOCK_STREAM)


#: The version a test or a tool pins when it must name one: the oldest the service speaks (Engine 20.10's newest).
DOCKER_API_VERSION = docker_api.text(docker_api.OLDEST)
#: `GET /_ping` and `GET /version` answer in a few bytes; anything far longer is not their answer.
LONGEST_PING_BYTES = 64 << 10
#: A node event stream that says nothing this long is reconnected: a hung daemon (SIGSTOPped, deadlocked)
#: looks exactly like a quiet Swarm, and this bounds how long it can hold the stream's thread.
EVENT_READ_TIMEOUT = 60.0
#: No Docker event is anywhere near this long; a longer line is not an event.
LONGEST_EVENT_BYTES = 1 << 20
#: A listing of a few thousand nodes is a few MB; anything far beyond that is not a listing.
LONGEST_LISTING_BYTES = 64 << 20
#: What a worker (or a daemon in no Swarm) answers GET /nodes with, status 503.
NOT_A_MANAGER = "not a swarm manager"
#: The socket `unix://` with no path names, as for the Docker CLI and SDK: DOCKER_HOST's default.
DEFAULT_UNIX_SOCKET = urllib.parse.urlsplit(DEFAULT_DOCKER_HOST).path
NODE_EVENTS_QUERY = urllib.parse.urlencode({"filters": json.dumps({"type": ["node"]})})


class ApiVersions:
    """The API version this process speaks to its daemon: pinned (DOCKER_API_VERSION), or negotiated on first use
    and again after `forget`. Shared by the gateways of one process; safe from any thread."""

    def __init__(self, pin: Chosen | None = None) -> None:
        self.pin = pin
        self._lock = threading.Lock()
        self._chosen: Chosen | None = pin

    def current(self) -> Chosen | None:
        with self._lock:
            return self._chosen

    def settle(self, chosen: Chosen) -> None:
        with self._lock:
            self._chosen = chosen

    def forget(self, version: Chosen | None = None) -> None:
        """Negotiate again before the next call (only if `version` is still the one in use, when given); a pin
        stays."""
        with self._lock:
            if self.pin is None and (version is None or self._chosen == version):
                self._chosen = None


class DockerGateway:
    """One Docker daemon (DOCKER_HOST). `nodes()` lists the Swarm; `node_events()` makes a closable event stream.

    Nothing here raises for anything the daemon (or whatever answers in its place) can do: every answer and
    every failure is an outcome from messages/docker.py.
    """

    def __init__(
        self,
        host: str,
        timeout: float = REQUEST_TIMEOUT,
        read_timeout: float = EVENT_READ_TIMEOUT,
        versions: ApiVersions | None = None,
        sockets: Sockets | None = None,
    ) -> None:
        self.host = host
        self.timeout = timeout
        self.read_timeout = read_timeout
        self.versions = versions if versions is not None else ApiVersions()
        self.sockets = sockets or transport.sockets_for("docker", host) or real_socket
        """Real sockets, unless given (a test's) or the installed transport factory's (gateways/transport.py)."""

    def nodes(self) -> ListingOutcome:
        """GET /nodes: the Swarm's nodes, or why they could not be listed. A version the daemon refuses is negotiated
        again and the listing made once more."""
        chosen = self.version()
        if not isinstance(chosen, Chosen):
            return chosen
        outcome = self._list(chosen)
        if isinstance(outcome, VersionRefused):
            again = self.renegotiate(chosen, outcome.message)
            if not isinstance(again, Chosen):
                return again
            outcome = self._list(again)
            if isinstance(outcome, VersionRefused):
                self.versions.forget(again)
                return DockerUnreachable(outcome.text)
            chosen = again
        if isinstance(outcome, NodesListed):
            return attrs.evolve(outcome, api_version=docker_api.text(chosen.version), api_note=chosen.how)
        return outcome

    def _list(self, chosen: Chosen) -> ListingOutcome | VersionRefused:
        answer = self._ask(f"{chosen.path_prefix}/nodes", LONGEST_LISTING_BYTES, stalled="the listing stalled")
        if isinstance(answer, DockerUnreachable):
            return answer
        status, _, body = answer
        if status != 200:
            return _refusal(status, body)
        listed = _json(body, LONGEST_LISTING_BYTES, "a node listing")
        if isinstance(listed, DockerGarbage):
            return listed
        if not isinstance(listed, list) or not all(isinstance(node, dict) for node in listed):
            return DockerGarbage(f"the node listing is a {type(listed).__name__}, not a list of nodes")
        return NodesListed(tuple(SwarmNode.from_docker(node) for node in listed))

    def version(self, opened: Opened | None = None) -> Chosen | DockerUnreachable:
        """The version in use, negotiated now if there is none (DockerUnreachable when the daemon cannot be asked,
        or shares no version with the service). `opened` is told each socket the negotiation opens (an event stream
        registers it, so that its `close` ends a negotiation with a hung daemon too); False from it: give up."""
        chosen = self.versions.current()
        if chosen is not None:
            return chosen
        decided = self._negotiate(opened)
        if isinstance(decided, Chosen):
            self.versions.settle(decided)
        return decided

    def renegotiate(self, refused: Chosen, message: str, opened: Opened | None = None) -> Chosen | DockerUnreachable:
        """The daemon refused `refused` (its 400 `message`): negotiate again; if that picks the same version (a
        daemon or proxy that does not answer the ping), the bound the 400 names."""
        if self.versions.pin is not None:
            pin = docker_api.text(refused.version)
            return DockerUnreachable(f"HTTP 400: {message} (DOCKER_API_VERSION pins {pin})")
        self.versions.forget(refused)
        decided = self.version(opened)
        if isinstance(decided, Chosen) and decided.version == refused.version:
            bounded = docker_api.after_refusal(message, refused)
            if bounded is None:
                return DockerUnreachable(f"HTTP 400: {message}")
            if isinstance(bounded, NoCommonVersion):
                return DockerUnreachable(bounded.reason)
            self.versions.settle(bounded)
            return bounded
        return decided

    def _negotiate(self, opened: Opened | None) -> Chosen | DockerUnreachable:
        ping = self._ask("/_ping", LONGEST_PING_BYTES, opened)
        if isinstance(ping, DockerUnreachable):
            return ping
        status, headers, _ = ping
        decided = docker_api.after_ping(headers.get("API-Version") if status == 200 else None)
        if isinstance(decided, AskVersion):
            answer = self._ask("/version", LONGEST_PING_BYTES, opened)
            body: Any = None
            if not isinstance(answer, DockerUnreachable) and answer[0] == 200:
                body = _json(answer[2], LONGEST_PING_BYTES, "a version answer")
            decided = docker_api.after_version(decided, body)
        if isinstance(decided, NoCommonVersion):
            return DockerUnreachable(decided.reason)
        return decided

    def _ask(
        self, path: str, longest: int, opened: Opened | None = None, stalled: str = "the answer stalled"
    ) -> tuple[int, http.client.HTTPMessage, bytes] | DockerUnreachable:
        """GET `path`: status, headers and (up to `longest` + 1 bytes of) body; DockerUnreachable when the daemon
        cannot be asked, does not answer in time, or stalls in the middle of its answer (`stalled` says so)."""
        try:
            address, family, host_header = _address(self.host)
        except ValueError as error:
            return DockerUnreachable(str(error))
        answered = False
        with self.sockets(family) as sock:
            if opened is not None and not opened(sock):
                return DockerUnreachable("closed before the API version was negotiated")
            try:
                response = _get(sock, address, host_header, path, self.timeout)
                answered = True
                body = response.read(longest + 1)
            except TimeoutError:
                return DockerUnreachable(f"TimeoutError: {stalled}" if answered else _no_answer(self.timeout))
            except (OSError, http.client.HTTPException) as error:
                return DockerUnreachable(describe(error), reason(error))
        return response.status, response.headers, body

    def node_events(self) -> EventStream:
        """A stream of GET /events?filters={"type":["node"]}, not connected yet: `follow` it in a thread of its own,
        `close` it from any other at any moment (before it has connected too)."""
        return EventStream(self, self.timeout, self.read_timeout)


@attrs.frozen
class VersionRefused:
    """The daemon answered 400 `client version X is too old/new`: the version in use is outside its range."""

    message: str

    @property
    def text(self) -> str:
        return f"HTTP 400: {self.message}"


class EventStream:
    """One connection to the daemon's node events. The socket is made (and registered for `close`) before it
    connects, so a stop never waits for a hung daemon: `close` shuts it down and `follow` returns at once.

    The Docker SDK's `events()` cannot give this: it waits for the answer with no timeout at all, and the stream
    object that could close it only exists once the daemon has answered.
    """

    def __init__(self, gateway: DockerGateway, timeout: float, read_timeout: float) -> None:
        self.gateway = gateway
        self.host = gateway.host
        self.timeout = timeout
        self.read_timeout = read_timeout
        self._lock = threading.Lock()
        self._closed = False
        self._socket: socket.socket | None = None
        self._negotiating: socket.socket | None = None
        """The socket of a version negotiation under way, shut down by `close` too."""

    def close(self) -> None:
        """Stop the stream from any thread; `follow` then returns StreamClosed. Safe to call more than once."""
        with self._lock:
            self._closed = True
            sock, self._socket = self._socket, None
            negotiating, self._negotiating = self._negotiating, None
        for open_socket in (sock, negotiating):
            if open_socket is not None:
                _shut(open_socket)

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def _opened(self, sock: socket.socket) -> bool:
        """Register a socket of the version negotiation for `close` (False, and nothing registered, once closed)."""
        with self._lock:
            if self._closed:
                return False
            self._negotiating = sock
            return True

    def follow(self, connected: Callable[[], None], changed: Callable[[NodeEvent], None]) -> StreamOutcome:
        """Connect, call `connected()` once the daemon has answered 200, then `changed(event)` for each node event,
        until the stream ends, fails, stays quiet for the read timeout, or is closed; why it stopped."""
        try:
            address, family, host_header = _address(self.host)
        except ValueError as error:
            return DockerUnreachable(str(error))
        sock = self.gateway.sockets(family)
        with self._lock:
            if self._closed:
                sock.close()
                return StreamClosed()
            self._socket = sock
        answered = False
        try:
            chosen = self.gateway.version(self._opened)
            if not isinstance(chosen, Chosen):
                return StreamClosed() if self.closed else chosen
            path = f"{chosen.path_prefix}/events?{NODE_EVENTS_QUERY}"
            response = _get(sock, address, host_header, path, self.timeout)
            answered = True
            if response.status != 200:
                refused = _refusal(response.status, response.read(LONGEST_EVENT_BYTES))
                if isinstance(refused, VersionRefused):
                    # The next connection negotiates again (NodeEvents reconnects at once after this one).
                    again = self.gateway.renegotiate(chosen, refused.message, self._opened)
                    return again if isinstance(again, DockerUnreachable) else StreamRenegotiated(refused.text)
                return refused
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
                self._socket = self._negotiating = None
            _shut(sock)


def _get(sock: socket.socket, address: Any, host_header: str, path: str, timeout: float) -> http.client.HTTPResponse:
    """GET `path` on `sock` (ours, so another thread can shut it down at any moment); the answer's head."""
    sock.settimeout(timeout)
    sock.connect(address)
    connection = http.client.HTTPConnection(host_header)
    connection.sock = sock  # http.client uses it and never connects one of its own
    connection.request("GET", path)
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
    if parsed.scheme == "unix" and parsed.netloc:
        # `unix://tmp/x.sock` splits as host `tmp` and path /x.sock: connecting there says only `No such file`.
        if "@" in parsed.netloc or ":" in parsed.netloc:
            raise ValueError(
                "DOCKER_HOST unix:// with something before its path is not a socket: write unix:///PATH "
                f"(unix:// and the socket's absolute path, e.g. {DEFAULT_DOCKER_HOST})"
            )
        path = parsed.netloc + parsed.path
        raise ValueError(
            f"DOCKER_HOST unix://{path} has two slashes, so its path would be read as {path}: write unix:///{path} "
            "(unix:// and the socket's absolute path)"
        )
    if parsed.scheme == "unix":
        # `unix://` alone is the default socket, as for the Docker CLI and the Docker SDK for Python.
        return parsed.path or DEFAULT_UNIX_SOCKET, socket.AF_UNIX, "localhost"
    if parsed.scheme in ("tcp", "http") and parsed.hostname:
        port = parsed.port or 2375
        return (parsed.hostname, port), socket.AF_INET6 if ":" in parsed.hostname else socket.AF_INET, parsed.netloc
    if parsed.scheme in ("tcp", "http"):
        raise ValueError(f"DOCKER_HOST {parsed.scheme}:// names no host: write {parsed.scheme}://HOST:PORT")
    scheme = f"{parsed.scheme}://" if "://" in host else "without a scheme"  # `manager-1:2375` parses as a scheme
    raise ValueError(
        f"DOCKER_HOST {scheme} is not supported: use {DEFAULT_DOCKER_HOST} (a socket) or tcp://HOST:PORT "
        "(plain HTTP: no TLS, no ssh)"
    )


def _refusal(status: int, body: bytes) -> DockerUnreachable | NotAManager | VersionRefused:
    """The outcome of a call answered with an error status."""
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError, RecursionError):
        message = body[:200].decode("utf-8", "replace")
    text = f"HTTP {status}: {message}".strip()
    if status == 503 and NOT_A_MANAGER in message.lower():
        return NotAManager(text)
    if status == 400 and docker_api.is_refusal(message):
        return VersionRefused(message[:300])
    return DockerUnreachable(text)


def _json(data: bytes, longest: int, what: str) -> Any:
    """The JSON value in `data`; DockerGarbage, naming `what` it is, when it is too long or not JSON."""
    if len(data) > longest:
        return DockerGarbage(f"{what} longer than {longest} bytes")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        return DockerGarbage(f"{what} that is not JSON: {data[:80]!r}")


def _node_event(line: bytes) -> NodeEvent | DockerGarbage:
    """One line of the stream as a NodeEvent; garbage when it is not a JSON object (or is far too long)."""
    event = _json(line, LONGEST_EVENT_BYTES, "an event line")
    if isinstance(event, DockerGarbage):
        return event
    if not isinstance(event, dict):
        return DockerGarbage(f"an event that is a {type(event).__name__}, not an object")
    actor = event.get("Actor")
    node_id = actor.get("ID", "") if isinstance(actor, dict) else ""
    return NodeEvent(str(event.get("Action", "")), str(node_id))
