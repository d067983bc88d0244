"""NodeEvents: follows Docker's node event stream and tells the SwarmWatcher when a node changed."""

from __future__ import annotations

from typing import Any

from actors.base import ServiceActor, tell
from actors.logger import Log
from actors.runtime import Thread, runtime
from gateways.docker import DockerGateway, EventStream
from messages.docker import (
    DockerGarbage,
    DockerUnreachable,
    NodeEvent,
    NotAManager,
    StreamClosed,
    StreamEnded,
    StreamOutcome,
    StreamQuiet,
    StreamRenegotiated,
)
from messages.log import Level
from messages.routes import NODE_CHANGES
from messages.swarm import NodeChanged, NodeEventsConnected
from neon_cm.backoff import Backoff
from neon_cm.outage import Outage

#: Reconnection backoff after the stream fails or ends (the daemon or its proxy restarted, a connection dropped).
RETRY_FIRST_SECONDS = 0.5
RETRY_LONGEST_SECONDS = 30.0


class NodeEvents(ServiceActor):
    """GET /events?filters={"type":["node"]} on the manager's Docker daemon, in a thread of its own.

    Each event is told on the NODE_CHANGES route (to the SwarmWatcher, so a restarted one is found) as NodeChanged;
    each (re)connection as NodeEventsConnected, so it lists the Swarm again for anything missed
    meanwhile. On stop the stream is closed, connected or not, which ends the thread at once.
    """

    component = "node-events"

    def __init__(self, gateway: DockerGateway, log: Log) -> None:
        super().__init__(log)
        self.gateway = gateway
        self.stopping = runtime().event()
        self.stream: EventStream | None = None
        self.lock = runtime().lock()
        """Guards `stream` and `stopping` together: a stream made after cleanup looked would never be closed."""
        self.outage = Outage()
        self.thread: Thread | None = None

    def setup(self) -> None:
        self.thread = self.start_thread("node-events", self.follow)

    def cleanup(self) -> None:
        with self.lock:
            self.stopping.set()
            stream = self.stream
        if stream is not None:
            stream.close()
        if self.thread is not None and self.thread is not runtime().current_thread():
            self.thread.join(timeout=1)

    def tell_target(self, message: Any) -> None:
        tell(self.directory.route(NODE_CHANGES), message)  # a SwarmWatcher restarting lists at start anyway

    def handle(self, message: Any) -> None:
        """Nothing to handle: the thread does the work."""

    def follow(self) -> None:
        backoff = Backoff(RETRY_FIRST_SECONDS, RETRY_LONGEST_SECONDS)
        renegotiated = False
        while True:
            with self.lock:
                if self.stopping.is_set():
                    return
                self.stream = stream = self.gateway.node_events()
            outcome = stream.follow(self.connected, self.changed)
            if self.stopping.is_set() or isinstance(outcome, StreamClosed):
                return
            if isinstance(outcome, StreamRenegotiated) and not renegotiated:
                # The daemon changed under the service (an upgrade, a proxy in front of another one): the version
                # is negotiated again on the next connection, made at once (once: a daemon that refuses that one
                # too is a failure like any other); the SwarmWatcher says which version.
                self.log.debug(f"node events: {outcome.reason}; reconnecting with the API version negotiated again")
                renegotiated = True
                continue
            renegotiated = False
            if isinstance(outcome, StreamEnded):
                # A daemon that ended the stream may come back as another Engine: ask its version again.
                self.gateway.versions.forget()
            if isinstance(outcome, StreamQuiet):
                # Quiet Swarm or hung daemon: reconnecting tells which (a hung one does not answer in time).
                self.log.debug(f"node events: nothing for {outcome.seconds:g} s; reconnecting")
                backoff.succeeded()
                continue
            if self.outage.problem is None:
                backoff.succeeded()  # it was connected until now: a new failure starts the backoff again
            self.outage_failed(
                self.outage,
                "stream",
                f"node events: {problem(outcome)}; reconnecting (the node poll covers the gap)",
                Level.WARN,
            )
            self.stopping.wait(backoff.failed(runtime().now()))

    def connected(self) -> None:
        self.outage_ended(self.outage, "node events: connected again")
        self.log.debug("node events: connected")
        self.tell_target(NodeEventsConnected())

    def changed(self, event: NodeEvent) -> None:
        self.log.debug(f"node event {event.action} {event.node_id}")
        self.tell_target(NodeChanged(event.action, event.node_id))


#: Who may have closed the stream, as the WARN says it (no guess between them).
DOCKER_SIDE = "Docker (the daemon or a proxy in front of it)"


def problem(outcome: StreamOutcome) -> str:
    """What a stream that stopped says in the WARN line."""
    if isinstance(outcome, StreamEnded):
        # Docker's side closed it: the daemon (restarted, stopping) or a proxy in front of it; which, it cannot tell.
        return f"{DOCKER_SIDE} closed the event stream"
    if isinstance(outcome, NotAManager):
        return f"DOCKER_HOST is not a Swarm manager ({outcome.reason})"
    if isinstance(outcome, (DockerUnreachable, DockerGarbage, StreamRenegotiated)):
        return outcome.reason
    return str(outcome)
