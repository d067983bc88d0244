"""NodeEvents: follows Docker's node event stream and tells the SwarmWatcher when a node changed."""

from __future__ import annotations

import threading
import time
from typing import Any

import docker

from actors.base import ServiceActor, tell
from actors.logger import Log
from messages.swarm import NodeChanged, NodeEventsConnected
from neon_cm.errors import DOCKER_ERRORS, describe
from neon_cm.outage import Outage

#: Reconnection backoff after the stream fails or ends (daemon restarted, connection dropped).
RETRY_FIRST_SECONDS = 0.5
RETRY_LONGEST_SECONDS = 30.0


class NodeEvents(ServiceActor):
    """GET /events?filters={"type":["node"]} on the manager's Docker daemon, in a thread of its own.

    Each event is told to the SwarmWatcher (by name, so a restarted one is found) as NodeChanged;
    each (re)connection as NodeEventsConnected, so it lists the Swarm again for anything missed
    meanwhile. The stream is closed on stop, which unblocks the thread.
    """

    component = "node-events"

    def __init__(self, docker_api: docker.APIClient, log: Log, target: str = "swarm-watcher") -> None:
        super().__init__(log)
        self.docker = docker_api
        self.target = target
        self.stopping = threading.Event()
        self.stream: Any = None
        self.lock = threading.Lock()
        self.outage = Outage()
        self.thread: threading.Thread | None = None

    def setup(self) -> None:
        self.thread = self.start_thread("node-events", self.follow)

    def cleanup(self) -> None:
        self.stopping.set()
        with self.lock:
            if self.stream is not None:
                self.stream.close()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=1)

    def tell_target(self, message: Any) -> None:
        tell(self.directory.lookup(self.target), message)  # a SwarmWatcher restarting lists at start anyway

    def handle(self, message: Any) -> None:
        """Nothing to handle: the thread does the work."""

    def follow(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while not self.stopping.is_set():
            try:
                self.read_stream()
                problem = "the event stream ended (daemon restarted?)"
            except DOCKER_ERRORS as error:
                problem = describe(error)
            if self.stopping.is_set():
                return
            if self.outage.failed("stream", time.monotonic()):
                self.log.warn(f"node events: {problem}; reconnecting (the node poll covers the gap)")
            self.stopping.wait(delay)
            delay = min(delay * 2, RETRY_LONGEST_SECONDS)

    def read_stream(self) -> None:
        stream = self.docker.events(filters={"type": "node"}, decode=True)
        with self.lock:
            if self.stopping.is_set():
                stream.close()
                return
            self.stream = stream
        if self.outage.succeeded() is not None:
            self.log.info("node events: connected again")
        self.log.debug("node events: connected")
        self.tell_target(NodeEventsConnected())
        for event in stream:
            if not isinstance(event, dict):
                continue  # not an event: nothing to act on
            actor = event.get("Actor")
            if not isinstance(actor, dict):
                actor = {}
            self.log.debug(f"node event {event.get('Action')} {actor.get('ID')}")
            self.tell_target(NodeChanged(str(event.get("Action", "")), str(actor.get("ID", ""))))
