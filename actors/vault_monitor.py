"""VaultMonitor: polls one manager's Vault on its own timer; the decisions are neon_cm/monitoring.py's."""

from __future__ import annotations

from typing import Any

import pykka

from actors.base import DecidingActor, tell
from actors.logger import Log
from gateways.vault import VaultGateway
from messages.routes import UNSEAL_REQUESTS, monitor_name
from messages.vault import ReportingRole
from neon_cm.environment import TlsSettings
from neon_cm.monitoring import AskUnsealer, MonitorStarted, Probe, Probed, UnsealerAbsent, VaultMonitoring


class VaultMonitor(DecidingActor):
    """Every `vault_poll_seconds`: GET /v1/sys/seal-status (and GET /v1/sys/health when unsealed), through the
    Vault gateway, whose answers never raise. What it logs, publishes and asks the Unsealer is VaultMonitoring's
    decision: a line at every change (ERROR for every state but unsealed on the reporting instance, INFO on a
    standby), a reminder every 30 minutes, at most one unseal request outstanding.
    """

    component = "vault-monitor"

    def __init__(
        self,
        hostname: str,
        url: str,
        interval: float,
        tls: TlsSettings,
        role: ReportingRole | None,
        log: Log,
    ) -> None:
        super().__init__(log)
        self.log = log.child(monitor_name(hostname))
        self.hostname = hostname
        self.gateway = VaultGateway(url, tls)
        self.state = VaultMonitoring(hostname, url, interval, role)

    @property
    def name(self) -> str:
        return monitor_name(self.hostname)

    def setup(self) -> None:
        self.feed(MonitorStarted())

    def cleanup(self) -> None:
        super().cleanup()
        self.gateway.close()

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        if self.state.last is not None:
            tell(to, self.state.last)

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, Probe):
            found = self.gateway.probe()
            return Probed(found.state, found.detail, found.unsealable, found.seal_type)
        if isinstance(effect, AskUnsealer):
            return None if tell(self.directory.route(UNSEAL_REQUESTS), effect.request) else UnsealerAbsent()
        return super().perform(effect)
