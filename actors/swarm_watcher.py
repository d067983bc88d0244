"""SwarmWatcher: lists the Swarm's nodes (Docker gateway) when neon_cm/listing.py says so; tells what it saw."""

from __future__ import annotations

from typing import Any

import pykka

from actors.base import DecidingActor, tell
from actors.logger import Log
from gateways.docker import DockerGateway
from messages.docker import ListNodes
from messages.settings import SettingsChanged
from messages.swarm import NodeChanged, NodeEventsConnected
from neon_cm.listing import SwarmListing, WatcherStarted


class SwarmWatcher(DecidingActor):
    """Lists the Swarm (GET /nodes) and tells NodesObserved: at once on a node event after a quiet spell,
    once more for the rest of a burst, and on every node poll as the fail-safe for anything the event
    stream missed. The decisions are SwarmListing's; this shell makes the listing and keeps the timers."""

    component = "swarm-watcher"

    def __init__(self, gateway: DockerGateway, log: Log) -> None:
        super().__init__(log)
        self.gateway = gateway
        self.state: SwarmListing = SwarmListing()

    def setup(self) -> None:
        self.feed(WatcherStarted())

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        if self.state.last is not None:
            tell(to, self.state.last)

    def event_of(self, message: Any) -> Any:
        return message if isinstance(message, (SettingsChanged, NodeChanged, NodeEventsConnected)) else None

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, ListNodes):
            return self.gateway.nodes()
        return super().perform(effect)
