"""SwarmWatcher: lists the Swarm's nodes through the Docker API and tells what it saw."""

from __future__ import annotations

import threading
import time
from typing import Any

import docker
import pykka

from actors.base import ServiceActor, tell
from actors.logger import Log
from actors.ticker import Ticker
from messages.settings import SettingsChanged
from messages.swarm import NodeChanged, NodeEventsConnected, NodeListFailed, NodesObserved, SwarmNode
from messages.timing import SetInterval, Tick
from neon_cm.debounce import Debounce
from neon_cm.errors import DOCKER_ERRORS, describe
from neon_cm.outage import Outage

#: The first node event after a quiet spell is listed at once; the rest of its burst (a node joining, an
#: operator labelling nodes in a loop) once more, this long after its last event (at most
#: LONGEST_BURST_SECONDS after its first) and at least SPELL_SECONDS after the previous listing.
QUIET_SECONDS = 0.2
LONGEST_BURST_SECONDS = 2.0
SPELL_SECONDS = 1.0
EVENTS_TIMER = "node-events"


class SwarmWatcher(ServiceActor):
    """Lists the Swarm (GET /nodes) and tells NodesObserved: at once on a node event after a quiet spell,
    once more for the rest of its burst, and on every node-poll tick as the fail-safe for anything the
    event stream missed."""

    component = "swarm-watcher"

    def __init__(self, docker_api: docker.APIClient, log: Log) -> None:
        super().__init__(log)
        self.docker = docker_api
        self.ticker: pykka.ActorRef[Any] | None = None
        self.interval: float | None = None
        self.outage = Outage()
        self.burst = Debounce(QUIET_SECONDS, LONGEST_BURST_SECONDS, SPELL_SECONDS)
        self.last: NodesObserved | None = None

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        if self.last is not None:
            tell(to, self.last)

    def handle(self, message: Any) -> None:
        if isinstance(message, SettingsChanged):
            self.set_interval(message.settings.node_poll_seconds)
        elif isinstance(message, (NodeChanged, NodeEventsConnected)):
            delay = self.burst.event(time.monotonic())
            if delay == 0:
                self.poll()  # the leading edge: what the event announced is listed now
            else:
                self.check_later(delay)
        elif isinstance(message, Tick) and message.timer == EVENTS_TIMER:
            if self.burst.pending:  # else a poll has listed the Swarm since the burst
                wait = self.burst.due(time.monotonic())
                if wait > 0:
                    self.check_later(wait)
                else:
                    self.poll()
        elif isinstance(message, Tick):
            self.burst.cancel()  # this listing sees whatever an event burst was about
            self.poll()

    def check_later(self, delay: float | None) -> None:
        """Tell ourselves Tick(node-events) after `delay` seconds (None: a check is already pending)."""
        if delay is not None:
            timer = threading.Timer(delay, self.tell_self, args=(Tick(EVENTS_TIMER),))
            timer.daemon = True
            timer.start()

    def tell_self(self, message: Any) -> None:
        tell(self.actor_ref, message)  # False once stopped: nothing left to list for

    def set_interval(self, seconds: float) -> None:
        if self.ticker is None:
            self.ticker = self.spawn(Ticker, "node-poll", self.actor_ref, seconds)
        elif seconds != self.interval:
            tell(self.ticker, SetInterval(seconds))
        self.interval = seconds

    def poll(self) -> None:
        """GET /nodes (one request), then tell every subscriber what it listed."""
        try:
            listed = self.docker.nodes()
        except DOCKER_ERRORS as error:
            self.listing_failed("docker", "cannot list the Swarm's nodes through Docker", error)
            return
        if not isinstance(listed, list) or not all(isinstance(node, dict) for node in listed):
            self.listing_failed("docker", "Docker answered the node listing with something that is not a node list")
            return
        if not listed:
            # A real daemon never lists no node; a listing that does is an anomaly, never a Swarm to publish.
            self.listing_failed("empty listing", "the Swarm listed no nodes (has this manager left it?)")
            return
        if self.outage.succeeded() is not None:
            self.log.info("listing the Swarm's nodes again")
        nodes = tuple(SwarmNode.from_docker(node) for node in listed)
        self.log.debug(f"listed {len(nodes)} nodes")
        self.last = NodesObserved(nodes)
        self.publish(self.last)

    def listing_failed(self, problem: str, message: str, error: BaseException | None = None) -> None:
        """ERROR when the failure starts (then every 5 minutes, however its text changes on the way);
        tell NodeListFailed every time."""
        if self.outage.failed(problem, time.monotonic()):
            # What it means for the Vaults: the fleet learns the managers from these listings.
            if self.last is None:
                consequence = "no manager is known yet, so no Vault is monitored until a listing succeeds"
            else:
                consequence = "the Vaults of the managers last listed are still monitored"
            self.log.error(f"{message}; {consequence}", error)
        self.publish(NodeListFailed(describe(error) if error else problem))
