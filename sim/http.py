"""The HTTP face of a simulated server: a request as the server receives it, its answer, and what a transport asks a
server besides (is it up, when does it next change by itself, who to wake at a change).

A face is pure-ish: `handle(request, now)` applies the request to the server's state at `now` and gives the answer
(or `Held`, for a blocking query not answered yet). sim/transport.py carries requests to it and answers back, with
latencies and faults; the servers never see a socket.
"""

from __future__ import annotations

import enum
import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs


class Reach(enum.Enum):
    """How a server takes a connection now."""

    UP = "up"
    REFUSED = "refused"
    """Not listening (the process is gone): connection refused at once."""
    HUNG = "hung"
    """The process is stopped (SIGSTOP, a deadlock): the kernel accepts the connection, nothing ever answers."""
    PARTITIONED = "partitioned"
    """No packet gets through: the connection is never made (connect timeout)."""


@attrs.frozen
class HttpRequest:
    """One request as the server received it. `sender` is the simulated instance that sent it (bookkeeping, never
    seen by the server's logic except as a session's or a lock event's owner)."""

    method: str
    path: str
    """Without the query: `/v1/kv/neon/lock`."""
    query: tuple[tuple[str, str], ...] = ()
    """In order; a flag such as `?recurse` is ("recurse", "")."""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    """Names in lower case."""
    body: bytes = b""
    sender: str = ""
    held_since: float | None = None
    """Set by the transport when it asks again about a blocking query it holds (None: the request's first run)."""

    @classmethod
    def of(
        cls,
        method: str,
        target: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        sender: str = "",
    ) -> HttpRequest:
        """From a request target (`/v1/kv/x?recurse&index=3`)."""
        split = urllib.parse.urlsplit(target)
        query = tuple(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        return cls(method.upper(), urllib.parse.unquote(split.path), query, lowered, body, sender)

    def arg(self, name: str) -> str | None:
        """The query parameter's (last) value; "" for a flag; None when absent."""
        found = None
        for key, value in self.query:
            if key == name:
                found = value
        return found

    def has(self, name: str) -> bool:
        return self.arg(name) is not None

    def json(self) -> Any:
        """The body as JSON (ValueError when it is not)."""
        return json.loads(self.body) if self.body.strip() else None


@attrs.frozen
class HttpAnswer:
    """A server's answer. `body` is bytes, or a `Feed` for a streamed answer (Docker's events)."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | Feed = b""
    note: str = ""
    """What the request was, said safely for the history (`share`, `reset`, `acquired`; never a secret)."""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace") if isinstance(self.body, bytes) else ""

    def json(self) -> Any:
        assert isinstance(self.body, bytes)
        return json.loads(self.body) if self.body.strip() else None


@attrs.frozen
class Held:
    """A blocking query the server holds: ask it again at `until` at the latest (its wait runs out), or sooner
    when the server changes (its `watchers` are told)."""

    until: float


class Feed(Protocol):
    """A streamed body: the bytes that have come by `now` and were not taken yet, and whether it has ended."""

    def take(self, now: float) -> bytes: ...

    def ended(self, now: float) -> bool: ...


class SimServer(Protocol):
    """What sim/transport.py needs of a simulated server."""

    def handle(self, request: HttpRequest, now: float) -> HttpAnswer | Held: ...

    def reach(self, now: float) -> Reach: ...

    def next_change(self, now: float) -> float | None:
        """When the server next changes by itself (a TTL check running out), so that a held query is looked at
        again then; None: not before a request or a fault changes it."""
        ...

    watchers: list[Callable[[], None]]
    """Called (and cleared) at every change: a held query or a stream parked on the server wakes."""


def json_answer(
    status: int, body: Any, headers: tuple[tuple[str, str], ...] = (), note: str = "", content_type: str = ""
) -> HttpAnswer:
    """`body` as JSON (compact, as Go's encoder writes it), with a Content-Type."""
    encoded = json.dumps(body, separators=(",", ":")).encode() + b"\n"
    return HttpAnswer(status, (("Content-Type", content_type or "application/json"), *headers), encoded, note)


def text_answer(status: int, text: str, headers: tuple[tuple[str, str], ...] = (), note: str = "") -> HttpAnswer:
    """A plain-text answer (Consul's errors: `No cluster leader`)."""
    return HttpAnswer(status, (("Content-Type", "text/plain; charset=utf-8"), *headers), text.encode(), note)


def wake(watchers: list[Callable[[], None]]) -> None:
    """Tell every watcher of a server that it changed (each once: they register again if they still wait)."""
    waiting = list(watchers)
    watchers.clear()
    for watcher in waiting:
        watcher()
