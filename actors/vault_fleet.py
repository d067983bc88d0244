"""VaultFleet: one VaultMonitor per Swarm manager, started and stopped as managers come and go."""

from __future__ import annotations

from typing import Any

import attrs
import pykka

from actors.base import ServiceActor
from actors.logger import Log
from actors.vault_monitor import VaultMonitor
from messages.lifecycle import Subscribe
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodesObserved, SwarmNode
from messages.timing import SetInterval
from messages.vault import MonitoringStopped
from neon_cm.vault import vault_url


@attrs.frozen
class Watched:
    """A running monitor and what it was started for."""

    hostname: str
    url: str
    monitor: pykka.ActorRef[Any] = attrs.field(eq=False, repr=False)


class VaultFleet(ServiceActor):
    """Follows NodesObserved (managers) and SettingsChanged (poll interval, URL template).

    Its subscribers are subscribed to every monitor it starts (they hear VaultObserved), and
    hear MonitoringStopped when one is stopped.
    """

    component = "vault-fleet"

    def __init__(self, verify: bool | str, unsealer: pykka.ActorRef[Any] | None, log: Log) -> None:
        super().__init__(log)
        self.root_log = log
        self.verify = verify
        self.unsealer = unsealer
        self.settings: Settings | None = None
        self.managers: dict[str, SwarmNode] = {}
        self.watched: dict[str, Watched] = {}
        self.pending: set[str] = set()
        """Managers whose Vault URL cannot be built yet."""

    def on_stop(self) -> None:
        for watched in self.watched.values():
            watched.monitor.stop()

    def on_subscribe(self, subscriber: pykka.ActorRef[Any]) -> None:
        for watched in self.watched.values():
            watched.monitor.tell(Subscribe(subscriber))

    def handle(self, message: Any) -> None:
        if isinstance(message, NodesObserved):
            self.managers = {node.id: node for node in message.nodes if node.role == "manager"}
            self.reconcile()
        elif isinstance(message, SettingsChanged):
            previous, self.settings = self.settings, message.settings
            if previous is not None and previous.vault_poll_seconds != message.settings.vault_poll_seconds:
                for watched in self.watched.values():
                    watched.monitor.tell(SetInterval(message.settings.vault_poll_seconds))
            self.reconcile()

    def reconcile(self) -> None:
        """Start a monitor for each new manager, stop those of departed ones, restart those whose URL changed."""
        if self.settings is None:
            return
        wanted: dict[str, tuple[str, str]] = {}
        for node_id, node in self.managers.items():
            url = vault_url(self.settings.vault_url_template, node)
            if url is not None:
                wanted[node_id] = (node.hostname.lower(), url)
            elif node_id not in self.pending:
                self.log.info(f"{node.hostname} is a manager without a manager address yet; monitoring it once it has")
        self.pending = {node_id for node_id in self.managers if node_id not in wanted}
        for node_id, watched in list(self.watched.items()):
            if wanted.get(node_id) != (watched.hostname, watched.url):
                self.log.info(f"no longer monitoring the Vault on {watched.hostname} ({watched.url})")
                watched.monitor.stop()
                del self.watched[node_id]
                self.publish(MonitoringStopped(watched.hostname))
        for node_id, (hostname, url) in sorted(wanted.items(), key=lambda item: item[1]):
            if node_id not in self.watched:
                self.log.info(f"monitoring the Vault on manager {hostname} at {url}")
                monitor = VaultMonitor.start(
                    hostname, url, self.settings.vault_poll_seconds, self.verify, self.unsealer, self.root_log
                )
                for subscriber in self.subscribers:  # what the fleet's observers want: each monitor's readings
                    monitor.tell(Subscribe(subscriber))
                self.watched[node_id] = Watched(hostname, url, monitor)
