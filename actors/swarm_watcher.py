"""SwarmWatcher: lists the Swarm's nodes through the Docker API and tells what it saw."""

from __future__ import annotations

import time
from typing import Any

import docker
import docker.errors
import pykka
import requests

from actors.base import ServiceActor
from actors.logger import Log
from actors.ticker import Ticker
from messages.settings import SettingsChanged
from messages.swarm import NodesObserved, SwarmNode
from messages.timing import SetInterval, Tick
from neon_cm.outage import Outage

DOCKER_ERRORS = (docker.errors.DockerException, requests.RequestException)


class SwarmWatcher(ServiceActor):
    """On every node-poll tick: GET /nodes from the manager's Docker daemon, tell NodesObserved."""

    component = "swarm-watcher"

    def __init__(self, docker_api: docker.APIClient, log: Log) -> None:
        super().__init__(log)
        self.docker = docker_api
        self.ticker: pykka.ActorRef[Any] | None = None
        self.interval: float | None = None
        self.outage = Outage()

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()

    def handle(self, message: Any) -> None:
        if isinstance(message, SettingsChanged):
            self.set_interval(message.settings.node_poll_seconds)
        elif isinstance(message, Tick):
            self.poll()

    def set_interval(self, seconds: float) -> None:
        if self.ticker is None:
            self.ticker = Ticker.start("node-poll", self.actor_ref, seconds)
        elif seconds != self.interval:
            self.ticker.tell(SetInterval(seconds))
        self.interval = seconds

    def poll(self) -> None:
        """GET /nodes (one request), then tell every subscriber what it listed."""
        try:
            listed = self.docker.nodes()
        except DOCKER_ERRORS as error:
            if self.outage.failed(f"{type(error).__name__}: {error}", time.monotonic()):
                self.log.error("cannot list the Swarm's nodes through Docker", error)
            return
        if self.outage.succeeded() is not None:
            self.log.info("listing the Swarm's nodes again")
        nodes = tuple(SwarmNode.from_docker(node) for node in listed)
        self.log.debug(f"listed {len(nodes)} nodes")
        self.publish(NodesObserved(nodes))
