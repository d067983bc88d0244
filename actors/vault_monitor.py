"""VaultMonitor: polls one manager's Vault seal status on its own timer and reports every change."""

from __future__ import annotations

import re
import time
from typing import Any

import hvac.exceptions
import pykka
import requests

from actors.base import ServiceActor
from actors.logger import Log
from actors.ticker import Ticker
from messages.timing import SetInterval, Tick
from messages.vault import CheckNow, UnsealRequested, VaultObserved, VaultState
from neon_cm.clients import vault_client
from neon_cm.outage import Outage
from neon_cm.vault import SealStatus, health_role

OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")]+")
#: While a Vault stays in a problem state, its ERROR is repeated this often (downstream alerting keeps firing).
REMINDER_SECONDS = 30 * 60.0


def describe_failure(error: Exception) -> tuple[VaultState, str]:
    """The state and reason for a failed request: TLS, connection and timeouts make a Vault unreachable."""
    if isinstance(error, requests.exceptions.SSLError):
        return VaultState.UNREACHABLE, f"TLS verification failed: {error}"
    if isinstance(error, requests.exceptions.Timeout):
        return VaultState.UNREACHABLE, "no answer in time"
    if isinstance(error, requests.RequestException):
        # requests nests the OS error deep in its text; the errno part is what an operator needs.
        cause = OS_ERROR.search(str(error))
        return VaultState.UNREACHABLE, f"cannot connect: {cause.group(0) if cause else error}"
    return VaultState.UNEXPECTED, f"{type(error).__name__}: {error}"


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

    def observe(self) -> VaultObserved:
        """GET /v1/sys/seal-status, then GET /v1/sys/health?standbyok=true when unsealed."""
        try:
            status = SealStatus.from_json(self.client.sys.read_seal_status())
            if status.state is not VaultState.UNSEALED:
                detail = f"{status.progress}/{status.threshold} unseal keys submitted" if status.sealed else ""
                return VaultObserved(self.hostname, self.url, status.state, detail)
            health = self.client.sys.read_health_status(method="GET", standby_ok=True)
            if not isinstance(health, dict):
                raise ValueError(f"health answered {getattr(health, 'status_code', '?')} without JSON")
            return VaultObserved(self.hostname, self.url, VaultState.UNSEALED, health_role(health))
        except (requests.RequestException, hvac.exceptions.VaultError, ValueError) as error:
            state, reason = describe_failure(error)
            return VaultObserved(self.hostname, self.url, state, reason)

    def poll(self) -> None:
        observed = self.observe()
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
