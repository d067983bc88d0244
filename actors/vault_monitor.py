"""VaultMonitor: polls one manager's Vault seal status on its own timer and reports every change."""

from __future__ import annotations

import time
from typing import Any

import pykka

from actors.base import ServiceActor
from actors.logger import Log
from actors.ticker import Ticker
from messages.timing import SetInterval, Tick
from messages.vault import CheckNow, UnsealRequested, VaultObserved, VaultState
from neon_cm.clients import vault_client
from neon_cm.outage import Outage
from neon_cm.vault_probe import probe

#: While a Vault stays in a problem state, its ERROR is repeated this often (downstream alerting keeps firing).
REMINDER_SECONDS = 30 * 60.0


class VaultMonitor(ServiceActor):
    """Every `vault_poll_seconds`: GET /v1/sys/seal-status (and GET /v1/sys/health when unsealed).

    Logs at every change of state (ERROR for sealed, not-initialized, unreachable), repeats
    the ERROR every 30 minutes while it lasts, and asks the Unsealer to act while sealed.
    """

    component = "vault-monitor"

    def __init__(
        self,
        hostname: str,
        url: str,
        interval: float,
        verify: bool | str,
        unsealer: pykka.ActorRef[Any] | None,
        log: Log,
    ) -> None:
        super().__init__(log)
        self.log = log.child(f"vault-monitor:{hostname}")
        self.hostname = hostname
        self.url = url
        self.interval = interval
        self.client = vault_client(url, verify)
        self.unsealer = unsealer
        self.ticker: pykka.ActorRef[Any] | None = None
        self.last: VaultObserved | None = None
        self.problem = Outage(reminder_seconds=REMINDER_SECONDS)

    def on_start(self) -> None:
        self.log.debug(f"monitoring {self.url} every {self.interval:g} s")
        self.ticker = Ticker.start(f"vault-poll:{self.hostname}", self.actor_ref, self.interval)

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        self.client.adapter.close()

    def handle(self, message: Any) -> None:
        if isinstance(message, (Tick, CheckNow)):
            self.poll()
        elif isinstance(message, SetInterval):
            self.interval = message.seconds
            if self.ticker is not None:
                self.ticker.tell(message)

    def poll(self) -> None:
        observed = probe(self.client, self.hostname, self.url)
        self.log.debug(f"{self.url}: {observed.state.value} {observed.detail}".rstrip())
        if observed.state.is_problem:
            # The reminder tracks the state only: progress changing while sealed is not news.
            if self.problem.failed(observed.state.value, time.monotonic()):
                self.log.error(f"Vault on {self.hostname} ({self.url}) is {observed.state.value}: {observed.detail}")
        else:
            self.problem.succeeded()
            if self.last is None or (self.last.state, self.last.detail) != (observed.state, observed.detail):
                self.log.info(f"Vault on {self.hostname} ({self.url}) is {observed.state.value}: {observed.detail}")
        self.last = observed
        self.publish(observed)
        if observed.state is VaultState.SEALED and self.unsealer is not None:
            self.unsealer.tell(UnsealRequested(self.hostname, self.url, self.actor_ref))
