"""VaultMonitor: polls one manager's Vault on its own timer; the decisions are neon_cm/monitoring.py's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pykka

from actors.base import DecidingActor, tell
from actors.logger import Log
from actors.runtime import now, runtime
from gateways.vault import VaultGateway
from messages.routes import UNSEAL_REQUESTS, monitor_name
from messages.vault import ReportingRole
from neon_cm.decider import Log as LogEffect
from neon_cm.environment import TlsSettings
from neon_cm.monitoring import AskUnsealer, MonitorStarted, Probe, Probed, UnsealerAbsent, VaultMonitoring


class Retirement:
    """Whether a monitor was retired (its manager left, its URL changed): shared by the monitor and the fleet, which
    retires it before stopping it. A retired monitor tells nothing more, not even the reading of a probe that was
    under way (slower than the stop budget), so nothing of it follows MonitoringStopped."""

    def __init__(self) -> None:
        self.lock = runtime().lock()
        self.retired = False

    def retire(self) -> None:
        """From now on the monitor tells nothing (a telling under way ends first)."""
        with self.lock:
            self.retired = True

    def tell_unless_retired(self, tell_it: Callable[[], Any]) -> Any:
        """`tell_it()`, unless retired (then None)."""
        with self.lock:
            return None if self.retired else tell_it()


class VaultMonitor(DecidingActor):
    """Every `vault_poll_seconds`: GET /v1/sys/seal-status (and GET /v1/sys/health when unsealed), through the
    Vault gateway, whose answers never raise. What it logs, publishes and asks the Unsealer is VaultMonitoring's
    decision: a line at every change (ERROR for every state but unsealed on the reporting instance, INFO on a
    standby, but ERROR on a standby too for a Vault it has seen sealed for longer than the active instance needs to
    unseal it: `escalation_seconds`), a reminder every 30 minutes, at most one unseal request outstanding.
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
        retirement: Retirement | None = None,
    ) -> None:
        super().__init__(log)
        self.retirement = retirement or Retirement()
        self.log = log.child(monitor_name(hostname))
        self.hostname = hostname
        self.gateway = VaultGateway(url, tls, clock=now)
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
            asked = self.retirement.tell_unless_retired(
                lambda: tell(self.directory.route(UNSEAL_REQUESTS), effect.request)
            )
            return None if asked is not False else UnsealerAbsent()
        return super().perform(effect)

    def publish(self, message: Any) -> None:
        self.retirement.tell_unless_retired(lambda: super(VaultMonitor, self).publish(message))

    def log_effect(self, effect: LogEffect) -> None:
        """Not a line either once retired: the reading of a probe under way when the fleet stopped this monitor (its
        manager demoted or gone) would be logged after `no longer monitoring`, an ERROR about a Vault not monitored
        any more (found by the simulator: its `late probe` setup)."""
        self.retirement.tell_unless_retired(lambda: super(VaultMonitor, self).log_effect(effect))
