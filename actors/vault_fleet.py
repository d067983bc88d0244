"""VaultFleet: supervises one VaultMonitor per Swarm manager, started and stopped as managers come and go."""

from __future__ import annotations

from typing import Any

import attrs
import pykka

from actors.base import tell
from actors.logger import Log
from actors.supervisor import ChildSpec, Strategy, Supervisor
from actors.vault_monitor import VaultMonitor
from messages.leadership import BecameLeader, LostLeadership, StandingBy
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodesObserved, SwarmNode
from messages.timing import SetInterval
from messages.vault import MonitoringStopped, ReportingRole, VaultsToMonitor
from neon_cm.environment import TlsSettings
from neon_cm.vault import vault_url


@attrs.frozen
class Watched:
    """What a running monitor was started for."""

    hostname: str
    url: str


class VaultFleet(Supervisor):
    """Follows NodesObserved (managers), SettingsChanged (poll interval, URL template) and the
    instance's role, and supervises the monitors one-for-one: a monitor that crashes is restarted
    alone; one past its restart intensity takes the fleet down, so the Vault supervisor decides.

    Monitoring needs neither the lock nor Consul: on defaults until settings are read, with the
    managers of the last listing. Tells its subscribers VaultsToMonitor and MonitoringStopped.
    """

    component = "vault-fleet"

    def __init__(self, tls: TlsSettings, log: Log) -> None:
        super().__init__("vault-fleet", Strategy.ONE_FOR_ONE, [], log)
        self.component_log = log
        self.log = log.child(self.component)
        self.tls = tls
        self.settings: Settings | None = None
        self.managers: dict[str, SwarmNode] = {}
        self.watched: dict[str, Watched] = {}
        self.pending: set[str] = set()
        """Managers whose Vault URL cannot be built yet."""
        self.standby_of: str | None = None
        self.role_known = False
        """Whether Leadership has said yet whether this instance reports or stands by."""
        self.bad_template: str | None = None

    @property
    def name(self) -> str:
        return self.component

    def handle(self, message: Any) -> None:
        if isinstance(message, NodesObserved):
            self.managers = {node.id: node for node in message.nodes if node.role == "manager"}
            self.reconcile()
        elif isinstance(message, SettingsChanged):
            previous, self.settings = self.settings, message.settings
            if previous is not None and previous.vault_poll_seconds != message.settings.vault_poll_seconds:
                for watched in self.watched.values():
                    tell(
                        self.running.get(monitor_name(watched.hostname)), SetInterval(self.settings.vault_poll_seconds)
                    )
            self.reconcile()
        elif isinstance(message, (BecameLeader, LostLeadership, StandingBy)):
            standby_of = message.holder if isinstance(message, StandingBy) else None
            if standby_of != self.standby_of or not self.role_known:
                self.standby_of, self.role_known = standby_of, True
                for watched in self.watched.values():
                    tell(self.running.get(monitor_name(watched.hostname)), ReportingRole(standby_of))

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        tell(to, VaultsToMonitor(tuple(sorted(watched.hostname for watched in self.watched.values()))))

    def wanted(self, settings: Settings) -> dict[str, Watched]:
        """The monitors the current managers and settings call for, by node ID."""
        wanted: dict[str, Watched] = {}
        for node_id, node in self.managers.items():
            try:
                url = vault_url(settings.vault_url_template, node)
            except (KeyError, IndexError, ValueError, AttributeError) as error:
                if self.bad_template != settings.vault_url_template:
                    problem = f"{type(error).__name__}: {error}"
                    self.log.error(f"cannot build a Vault URL from vault_url_template ({problem})")
                    self.bad_template = settings.vault_url_template
                continue
            if url is not None:
                wanted[node_id] = Watched(node.hostname.lower(), url)
            elif node_id not in self.pending:
                self.log.info(f"{node.hostname} is a manager without a manager address yet; monitoring it once it has")
        self.pending = {node_id for node_id in self.managers if node_id not in wanted}
        return wanted

    def reconcile(self) -> None:
        """Start a monitor for each new manager, stop those of departed ones, restart those whose URL changed."""
        if self.settings is None:
            return
        wanted = self.wanted(self.settings)
        for node_id, watched in list(self.watched.items()):
            if wanted.get(node_id) != watched:
                self.log.info(f"no longer monitoring the Vault on {watched.hostname} ({watched.url})")
                self.stop_child(monitor_name(watched.hostname))
                del self.watched[node_id]
                self.publish(MonitoringStopped(watched.hostname))
        for node_id, watched in sorted(wanted.items(), key=lambda item: item[1].hostname):
            if node_id not in self.watched:
                self.log.info(f"monitoring the Vault on manager {watched.hostname} at {watched.url}")
                self.start_child(self.monitor_spec(watched))
                self.watched[node_id] = watched
        self.publish(VaultsToMonitor(tuple(sorted(watched.hostname for watched in self.watched.values()))))

    def monitor_spec(self, watched: Watched) -> ChildSpec:
        settings = self.settings or Settings()

        def start() -> pykka.ActorRef[Any]:
            # Settings and role as they are when (re)started, not as they were when first started.
            interval = (self.settings or settings).vault_poll_seconds
            return VaultMonitor.start(
                watched.hostname,
                watched.url,
                interval,
                self.tls,
                ReportingRole(self.standby_of) if self.role_known else None,
                self.component_log,
            )

        return ChildSpec(monitor_name(watched.hostname), start)


def monitor_name(hostname: str) -> str:
    """A monitor's name in the fleet and in the log."""
    return f"vault-monitor:{hostname}"
