"""The transports of the simulator: what carries the real gateways' requests to the simulated servers (sim/http.py's
faces) and their answers back, on a virtual clock, with seeded latencies and the network's faults.

- `SimAdapter`: a `requests` transport adapter (Consul through py-consul, Vault), mounted on a client's session by
  the gateways' injection points (`consul_client(..., adapter=)`, `VaultGateway(..., adapter=)`).
- `SimSocket`: a socket for gateways/docker.py, which speaks HTTP over sockets of its own (http.client): the real
  http.client reads the simulated daemon's bytes, chunked event stream included (`DockerGateway(..., sockets=)`).

A request takes: a connect (TCP and TLS: a draw whose tail can pass the connect timeout), its way to the server
(it is applied there at its arrival, and recorded in the history then), the server's time to answer (a tail can
pass the read timeout: the client gives up, the server has applied it all the same), its way back. The caller is
parked on the clock meanwhile (`Clock.park`), exactly as a blocking call holds its thread in production.

Faults, as the server's `reach` says at the time: REFUSED, connection refused at once; PARTITIONED, the connect
times out; HUNG, the connect works (the kernel accepts) and the read times out. A server that goes down while a
request is on its way: a refused one drops the connection (no answer), a hung one never answers.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

import attrs
import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter

from gateways.docker import Sockets
from sim.http import Feed, Held, HttpAnswer, HttpRequest, Reach, SimServer

# ---------------------------------------------------------------------------------------------------- the clock


class Signal(Protocol):
    """Wakes a parked caller early."""

    def set(self) -> None: ...

    @property
    def is_set(self) -> bool: ...


class Clock(Protocol):
    """Virtual time, and parking the calling greenlet on it (sim/runtime.py implements it; `SyncClock` below is
    the one-caller version for unit tests)."""

    def now(self) -> float: ...

    def park(self, until: float, signal: Signal | None = None) -> None:
        """Block the caller until `until`, or until `signal` is set, whichever comes first (at once when it is
        set already)."""
        ...

    def signal(self) -> Signal: ...

    def on_its_way(self, arrival: float, deliver: Callable[[], object]) -> Callable[[], None]:
        """The caller sent a request that arrives at `arrival`: should its process end (a kill, an exit) before it
        takes the request in, `deliver` runs then, as the network's, for the kernel sends what was written whatever
        becomes of the process. The call returned says the caller took it in."""
        ...


class Flag:
    """A Signal for SyncClock."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    @property
    def is_set(self) -> bool:
        return self._set


class SyncClock:
    """One caller and no other: `park` moves time forward, running the callbacks scheduled with `at` on its way
    (a change at the server during a held query, in a test); it stops early once its signal is set."""

    def __init__(self, start: float = 0.0) -> None:
        self.time = start
        self.scheduled: list[tuple[float, int, Callable[[], object]]] = []
        self.count = 0

    def now(self) -> float:
        return self.time

    def signal(self) -> Flag:
        return Flag()

    def at(self, when: float, callback: Callable[[], object]) -> None:
        self.count += 1
        self.scheduled.append((when, self.count, callback))
        self.scheduled.sort(key=lambda item: item[:2])

    def on_its_way(self, arrival: float, deliver: Callable[[], object]) -> Callable[[], None]:
        return lambda: None  # its one caller never ends

    def park(self, until: float, signal: Signal | None = None) -> None:
        while self.scheduled and self.scheduled[0][0] <= until and not (signal is not None and signal.is_set):
            when, _, callback = self.scheduled.pop(0)
            self.time = max(self.time, when)
            callback()
        if signal is not None and signal.is_set:
            return
        self.time = max(self.time, until)


# ---------------------------------------------------------------------------------------------------- latencies


@attrs.frozen
class Latency:
    """One leg of a request: mostly uniform in [low, high]; with chance `tail`, uniform up to `reach` times the
    client's timeout for that leg (so past it, some of the time)."""

    low: float = 0.0005
    high: float = 0.004
    tail: float = 0.0
    reach: float = 1.3

    def draw(self, rng: random.Random, timeout: float, tails: bool = True) -> float:
        """A latency; without `tails`, never a tail (the same draws from `rng` either way, so a run takes the same
        steps up to the first tail it leaves out)."""
        if self.tail and rng.random() < self.tail and tails and math.isfinite(timeout):
            return rng.uniform(self.high, max(self.high, timeout * self.reach))
        return rng.uniform(self.low, self.high)


@attrs.frozen
class Latencies:
    """A client's latencies: connecting (TCP and TLS), each way on the wire, the server's time to answer."""

    connect: Latency = Latency()
    wire: Latency = Latency(0.0002, 0.002)
    serve: Latency = Latency()

    @classmethod
    def with_tails(cls, chance: float) -> Latencies:
        """A slow connect (TLS as slow as the connect timeout) and a slow server (past the read timeout), each with
        `chance`."""
        return cls(Latency(tail=chance), Latency(0.0002, 0.002), Latency(tail=chance))


# ---------------------------------------------------------------------------------------------------- the history


@attrs.frozen
class Received:
    """A request as a server received (and applied) it: what the invariant checker reads. The body is kept as a
    digest only (a share must never be kept)."""

    time: float
    """When it reached the server (and was applied)."""
    server: str
    sender: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    digest: str
    status: int
    """The server's answer (whether the client got it or not)."""
    note: str
    """What the server said it was (`share`, `reset`, `acquired`, `written`), or ""."""
    answered: float
    """When the server answered (later than `time` for a blocking query it held)."""


History = list[Received]


def digest(body: bytes) -> str:
    """A body's digest for the history (no cache of bodies: a share must never be kept)."""
    return hashlib.sha256(body).hexdigest()[:16] if body else EMPTY_DIGEST


EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()[:16]
"""Most requests (the GETs) have no body."""


# ---------------------------------------------------------------------------------------------------- the exchange


class Refused(Exception):
    """No connection: the server is not listening."""


class ConnectTimedOut(Exception):
    """The connection was not made within the connect timeout."""


class ReadTimedOut(Exception):
    """No answer within the read timeout after the connection was made."""


class Dropped(Exception):
    """The server went away with the request on its way: the connection ended without an answer."""


@attrs.define
class Link:
    """One client's way to one server: what the adapter and the socket share."""

    server: SimServer
    clock: Clock
    rng: random.Random
    sender: str
    """The simulated instance that sends (for the history)."""
    name: str
    """The server's name in the history (`consul`, `vault:manager-2`, `docker`)."""
    history: History = attrs.field(factory=list)
    latencies: Latencies = Latencies()
    cut_until: float = 0.0
    """Until then no packet of this client reaches the server (a partition): connects time out."""
    stalled_until: float = 0.0
    """Until then this client's peer takes connections and never answers (its own agent or daemon stopped)."""
    tails: Callable[[], bool] = lambda: True
    """Whether a latency may be a tail now (the world stops them before the end, as its faults: sim/cluster.py)."""

    def reach(self, now: float) -> Reach:
        """How the server takes this client's connection now: the link's faults, then the server's."""
        if now < self.cut_until:
            return Reach.PARTITIONED
        if now < self.stalled_until:
            return Reach.HUNG
        return self.server.reach(now)

    def connect(self, timeout: float, hold: float = 0.0) -> float:
        """Make the connection (the caller parked meanwhile); when it was made. Raises Refused or ConnectTimedOut.
        `hold`: how long the server may hold the request (a Consul blocking query): py-consul's one timeout covers
        connect and read, the wait included, and a slow connect is not slower for it, so its tail is drawn against
        the timeout less the hold (drawn against the whole 41.9 s, a settings watch's connect took half a minute
        after Consul restarted: long-run seed 2165)."""
        start = self.clock.now()
        reach = self.reach(start)
        if reach is Reach.REFUSED:
            self.clock.park(start + self.latencies.wire.draw(self.rng, math.inf))
            raise Refused()
        took = self.latencies.connect.draw(self.rng, max(timeout - hold, 0.0), self.tails())
        took += self.slowness(start, "connect_by")
        if reach is Reach.PARTITIONED or took > timeout:
            self.clock.park(start + timeout)
            raise ConnectTimedOut()
        self.clock.park(start + took)
        return self.clock.now()

    def exchange(self, request: HttpRequest, connected: float, read_timeout: float) -> tuple[HttpAnswer, float]:
        """Carry `request` (connected at `connected`) to the server, apply it at its arrival, hold it while the
        server holds it, and bring the answer back: (answer, when the server answered), with the caller parked
        until the answer is back. Raises ReadTimedOut or Dropped."""
        give_up = connected + read_timeout
        arrival = self.clock.now() + self.latencies.wire.draw(self.rng, math.inf)
        arrival += self.slowness(self.clock.now(), "receive_by")
        if arrival > give_up:
            # Past the read timeout: the client gives up, and the request never reaches the server (the assumption
            # design-vault.md states: what the Unsealer gave up on is no longer on its way).
            self.clock.park(give_up)
            raise ReadTimedOut()
        # Sent, it arrives whatever becomes of its sender meanwhile: a share written just before its process's kill
        # or exit reaches the Vault all the same (the kernel sends what was written; the member
        # stop-gate-only-while-leading is caught so at seed 212).
        taken = self.clock.on_its_way(arrival, lambda: self.orphaned(request, arrival))
        self.clock.park(arrival)
        taken()
        answer = self.apply(request, arrival, give_up)
        answered = self.clock.now()
        # A slow server is as slow whatever the query: its tail is drawn against the read timeout less the hold the
        # client allows a blocking query (py-consul's timeout is its 10 s + wait + wait/16), not against that hold
        # too (up to 54 s after an answer given at once: seed 323's settings watch got a 32 s-old answer).
        serving = max(read_timeout - self.longest_hold(request), 0.0)
        back = answered + self.latencies.serve.draw(self.rng, serving, self.tails())
        back += self.latencies.wire.draw(self.rng, 1.0)
        back += self.slowness(answered, "slow_by")
        if back > give_up:
            self.clock.park(give_up)
            raise ReadTimedOut()
        self.clock.park(back)
        return answer, answered

    def longest_hold(self, request: HttpRequest) -> float:
        """How long the server may hold `request` before answering (a Consul blocking query: sim/consul.py's
        `longest_hold`); 0 for every other request and server."""
        hold = getattr(self.server, "longest_hold", None)
        return float(hold(request)) if hold is not None else 0.0

    def slowness(self, now: float, which: str) -> float:
        """A slow server's extra seconds (sim/vault.py: `slow_until`; `connect_by` to take a connection, `receive_by`
        to take a request in, `slow_by` to answer; `receive_slow`, a request of this link's sender alone, the longer
        of the two), 0 for every other server and after its slow spell."""
        extra = 0.0
        if now < getattr(self.server, "slow_until", 0.0):
            extra = float(getattr(self.server, which, 0.0))
        until, more = getattr(self.server, "receive_slow", {}).get(self.sender, (0.0, 0.0))
        if which == "receive_by" and now < until:
            extra = max(extra, more)  # one proxy's delay, not two (seed 2585: two setups' on one Vault added up)
        return extra

    def orphaned(self, request: HttpRequest, arrival: float) -> None:
        """A request whose sender's process ended while it was on its way arrives: the server applies it at its
        arrival, its answer going nowhere (a query the server would hold waits for nobody: nothing); recorded in the
        history as any other."""
        if self.reach(arrival) is not Reach.UP:
            return
        answer = self.server.handle(request, arrival)
        if not isinstance(answer, Held):
            self.record(request, arrival, answer, arrival)

    def record(self, request: HttpRequest, arrival: float, answer: HttpAnswer, answered: float) -> None:
        """`request`, applied at `arrival` and answered at `answered`, into the history."""
        self.history.append(
            Received(
                arrival,
                self.name,
                self.sender,
                request.method,
                request.path,
                tuple((key, value) for key, value in request.query if key != "token"),  # a token is never kept
                digest(request.body),
                answer.status,
                answer.note,
                answered,
            )
        )

    def apply(self, request: HttpRequest, arrival: float, give_up: float) -> HttpAnswer:
        """The server's answer, at `arrival` or, for a query it holds, when it answers (the caller parked until
        then); recorded in the history."""
        now, held_until = arrival, None
        current = request
        while True:
            reach = self.reach(now)
            if reach is Reach.REFUSED:
                raise Dropped()
            if reach is not Reach.UP:
                self.clock.park(give_up)
                raise ReadTimedOut()
            answer = self.server.handle(current, now)
            if not isinstance(answer, Held):
                break
            if held_until is None:
                held_until = answer.until
            change = self.server.next_change(now)
            wake_at = min(held_until, give_up, change if change is not None else math.inf)
            signal = self.clock.signal()
            self.server.watchers.append(signal.set)
            self.clock.park(wake_at, signal)
            now = self.clock.now()
            if now >= give_up and now < held_until:
                raise ReadTimedOut()
            if now >= held_until:  # the wait is over: Consul answers what is there now
                query = tuple((key, value) for key, value in request.query if key not in ("index", "wait"))
                current = attrs.evolve(request, query=query, held_since=None)
            else:
                current = attrs.evolve(request, held_since=arrival)
        self.record(request, arrival, answer, now)
        return answer


def timeouts(timeout: Any) -> tuple[float, float]:
    """requests' timeout (a number, a (connect, read) pair, a urllib3 Timeout, None) as (connect, read)."""
    if timeout is None:
        return math.inf, math.inf
    if isinstance(timeout, tuple):
        connect, read = timeout
        return (math.inf if connect is None else float(connect)), (math.inf if read is None else float(read))
    if isinstance(timeout, urllib3.Timeout):
        connect_value, read_value = timeout.connect_timeout, timeout.read_timeout
        return (
            float(connect_value) if isinstance(connect_value, int | float) else math.inf,
            float(read_value) if isinstance(read_value, int | float) else math.inf,
        )
    return float(timeout), float(timeout)


def shown(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else "None"


# ---------------------------------------------------------------------------------------------------- requests


class FeedReader(io.RawIOBase):
    """A streamed answer's body, read as it comes: a read parks the caller until the feed has bytes, the read
    timeout passes (TimeoutError), or the reader is closed (end of stream)."""

    def __init__(self, feed: Feed, link: Link, read_timeout: float, prefix: bytes = b"", chunked: bool = False) -> None:
        super().__init__()
        self.feed = feed
        self.link = link
        self.read_timeout = read_timeout
        self.buffer = bytearray(prefix)
        self.chunked = chunked
        self.shut = False
        self.signal: Signal | None = None

    def readable(self) -> bool:
        return True

    def shutdown(self) -> None:
        """The socket shut down from elsewhere: a parked read returns the end of the stream."""
        self.shut = True
        if self.signal is not None:
            self.signal.set()

    def readinto(self, target: Any) -> int:
        clock = self.link.clock
        deadline = clock.now() + self.read_timeout
        while not self.buffer:
            if self.shut or isinstance(self.feed, _Ended):
                return 0
            now = clock.now()
            if self.link.reach(now) is Reach.UP:
                data = self.feed.take(now)
                if data:
                    self.buffer += (b"%x\r\n%s\r\n" % (len(data), data)) if self.chunked else data
                    break
                if self.feed.ended(now):
                    if self.chunked:
                        self.buffer += b"0\r\n\r\n"
                        self.feed = _Ended()
                        break
                    return 0
            elif self.link.reach(now) is Reach.REFUSED:
                return 0  # the daemon died: the connection ends
            if now >= deadline:
                raise TimeoutError("timed out")
            self.signal = clock.signal()
            self.link.server.watchers.append(self.signal.set)
            clock.park(deadline, self.signal)
        count = min(len(target), len(self.buffer))
        target[:count] = self.buffer[:count]
        del self.buffer[:count]
        return count


class _Ended:
    def take(self, now: float) -> bytes:
        return b""

    def ended(self, now: float) -> bool:
        return True


class SimAdapter(BaseAdapter):
    """A `requests` transport to one simulated server for one client (mount it on the client's session for the
    server's base URL). Raises what requests raises for the same fault, worded as urllib3 words it, so the
    gateways' `describe`/`reason` say the same as in production."""

    def __init__(self, link: Link) -> None:
        super().__init__()
        self.link = link

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        connect_timeout, read_timeout = timeouts(timeout)
        path_url = request.path_url
        try:
            hold = self.link.longest_hold(HttpRequest.of(request.method or "GET", path_url))
            connected = self.link.connect(connect_timeout, hold)
        except Refused:
            host, port, pool = _pool(request)
            raise requests.exceptions.ConnectionError(
                f'{pool}: Max retries exceeded with url: {path_url} (Caused by NewConnectionError("HTTPConnection('
                f"host='{host}', port={port}): Failed to establish a new connection: [Errno 111] Connection "
                'refused"))',
                request=request,
            ) from None
        except ConnectTimedOut:
            host, port, pool = _pool(request)
            raise requests.exceptions.ConnectTimeout(
                f"{pool}: Max retries exceeded with url: {path_url} (Caused by ConnectTimeoutError(HTTPConnection("
                f"host='{host}', port={port}), 'Connection to {host} timed out. (connect timeout="
                f"{shown(connect_timeout)})'))",
                request=request,
            ) from None
        # The body is read once the connection is up (as urllib3 does): a DeadlineBody checks its deadline here.
        body: Any = request.body
        if hasattr(body, "read"):
            body = body.read()
        data = body.encode() if isinstance(body, str) else bytes(body or b"")
        received = HttpRequest.of(request.method or "GET", path_url, data, dict(request.headers), self.link.sender)
        try:
            answer, _ = self.link.exchange(received, connected, read_timeout)
        except ReadTimedOut:
            _, _, pool = _pool(request)
            raise requests.exceptions.ReadTimeout(
                f"{pool}: Read timed out. (read timeout={shown(read_timeout)})", request=request
            ) from None
        except Dropped:
            raise requests.exceptions.ConnectionError(
                "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
                request=request,
            ) from None
        return self.response(request, answer, read_timeout)

    def response(self, request: requests.PreparedRequest, answer: HttpAnswer, read_timeout: float) -> requests.Response:
        """The answer as requests builds one from urllib3's (`raw` reads a streamed body as it comes)."""
        if isinstance(answer.body, bytes):
            raw_body: Any = io.BytesIO(answer.body)
            headers = [*answer.headers, ("Content-Length", str(len(answer.body)))]
        else:
            raw_body = io.BufferedReader(FeedReader(answer.body, self.link, read_timeout))
            headers = list(answer.headers)
        raw = urllib3.HTTPResponse(
            body=raw_body,
            headers=urllib3.HTTPHeaderDict(headers),
            status=answer.status,
            reason=REASONS.get(answer.status, ""),
            preload_content=False,
            decode_content=False,
            request_method=request.method,
            request_url=request.url,
        )
        response = HTTPAdapter.build_response(self, request, raw)  # type: ignore[arg-type]
        if isinstance(answer.body, bytes):
            # The whole body came with the answer (a slow body is not simulated): what requests would read from
            # `raw` for a request not streamed, given at once instead of through urllib3's reading loop.
            response._content = answer.body
        return response

    def close(self) -> None:
        pass


def _pool(request: requests.PreparedRequest) -> tuple[str, int, str]:
    """The host and port a request went to, and its urllib3 pool as urllib3's errors name it (made only for an error:
    a request that succeeds needs none of it)."""
    url = urllib.parse.urlsplit(request.url or "")
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    return host, port, f"HTTPConnectionPool(host='{host}', port={port})"


REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}
REASONS.update({409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented"})
REASONS.update({503: "Service Unavailable"})


# ---------------------------------------------------------------------------------------------------- sockets


class SimSocket:
    """A socket to a simulated server, for code that speaks HTTP/1.1 over sockets of its own (gateways/docker.py
    with http.client): `connect`, `sendall` of a request, `makefile("rb")` to read the answer (a streamed one as
    chunks, as dockerd sends its events), `shutdown` from elsewhere ending a parked read, `close`. Timeouts follow
    `settimeout` as a real socket's do: the connect's, then each read's."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.timeout: float | None = None
        self.connected_at: float | None = None
        self.sent = bytearray()
        self.reader: FeedReader | None = None
        self.closed = False
        self.shut = False

    def settimeout(self, value: float | None) -> None:
        self.timeout = value
        if self.reader is not None:
            self.reader.read_timeout = math.inf if value is None else value

    def gettimeout(self) -> float | None:
        return self.timeout

    def _limit(self) -> float:
        return math.inf if self.timeout is None else self.timeout

    def connect(self, address: Any) -> None:
        if self.shut or self.closed:
            raise OSError(9, "Bad file descriptor")
        try:
            self.connected_at = self.link.connect(self._limit())
        except Refused:
            raise ConnectionRefusedError(111, "Connection refused") from None
        except ConnectTimedOut:
            raise TimeoutError("timed out") from None

    def sendall(self, data: bytes) -> None:
        if self.connected_at is None or self.shut:
            raise BrokenPipeError(32, "Broken pipe")
        self.sent += data

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def makefile(self, mode: str = "r", buffering: int | None = None, **kwargs: Any) -> io.BufferedReader:
        """The answer to what was sent: the server answers once the reader is first read (a request with no
        reader is a GET nobody waits for: the daemon's reads change nothing)."""
        return io.BufferedReader(_Answering(self))

    def answer(self) -> FeedReader:
        """Send the request to the server and hold the caller until its answer's head is back."""
        if self.reader is not None:
            return self.reader
        head, _, body = bytes(self.sent).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        request = HttpRequest.of(method, target, body, headers, self.link.sender)
        assert self.connected_at is not None
        try:
            answer, _ = self.link.exchange(request, self.connected_at, self._limit())
        except ReadTimedOut:
            self.reader = FeedReader(_Ended(), self.link, self._limit())  # never sent again
            raise TimeoutError("timed out") from None
        except Dropped:
            self.reader = FeedReader(_Ended(), self.link, self._limit())
            return self.reader
        self.reader = _head(answer, self.link, self._limit())
        if self.shut:
            self.reader.shutdown()
        return self.reader

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        if self.connected_at is None:
            raise OSError(107, "Transport endpoint is not connected")
        self.shut = True
        if self.reader is not None:
            self.reader.shutdown()

    def close(self) -> None:
        self.closed = True
        self.shut = True
        if self.reader is not None:
            self.reader.shutdown()

    def fileno(self) -> int:
        return -1

    def __enter__(self) -> SimSocket:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _head(answer: HttpAnswer, link: Link, read_timeout: float) -> FeedReader:
    """The answer's bytes as dockerd writes them: a body with its Content-Length, or a stream in chunks."""
    lines = [f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, '')}"]
    lines += [f"{name}: {value}" for name, value in answer.headers]
    if isinstance(answer.body, bytes):
        lines += [f"Content-Length: {len(answer.body)}", "", ""]
        head = "\r\n".join(lines).encode("latin-1") + answer.body
        return FeedReader(_Ended(), link, read_timeout, head)
    lines += ["Transfer-Encoding: chunked", "", ""]
    return FeedReader(answer.body, link, read_timeout, "\r\n".join(lines).encode("latin-1"), chunked=True)


class _Answering(io.RawIOBase):
    """The reading end of a SimSocket: the first read sends the request and waits for the answer."""

    def __init__(self, sock: SimSocket) -> None:
        super().__init__()
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        return self.sock.answer().readinto(target)


def sim_sockets(link: Link) -> Sockets:
    """What `DockerGateway(..., sockets=)` takes: a SimSocket on `link` for each socket the gateway makes."""
    return cast(Sockets, lambda family: SimSocket(link))


def loads(answer: HttpAnswer) -> Any:
    assert isinstance(answer.body, bytes)
    return json.loads(answer.body)
