"""VaultMonitor: polls one manager's Vault seal status on its own timer and reports every change."""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka

from actors.base import ServiceActor, tell
from actors.logger import Log
from actors.ticker import Ticker
from messages.timing import SetInterval, Tick
from messages.vault import CheckNow, ReportingRole, UnsealFinished, UnsealRequested, VaultObserved, VaultState
from neon_cm.clients import vault_client
from neon_cm.environment import TlsSettings
from neon_cm.outage import Outage
from neon_cm.vault_probe import probe

#: While a Vault stays in a problem state, its ERROR is repeated this often (downstream alerting keeps firing).
REMINDER_SECONDS = 30 * 60.0
#: An unseal request with no answer for this long is asked again (the Unsealer may have been restarted).
UNSEAL_ANSWER_SECONDS = 60.0
#: A problem seen before this instance knows whether it reports or stands by waits this long at most for
#: the answer, so a standby starting up does not report at ERROR what its active peer reports.
ROLE_WAIT_SECONDS = 5.0


class VaultMonitor(ServiceActor):
    """Every `vault_poll_seconds`: GET /v1/sys/seal-status (and GET /v1/sys/health when unsealed).

    Logs at every change of state (ERROR for sealed, not-initialized, unreachable; INFO on a standby
    instance, whose active peer reports them), repeats the ERROR every 30 minutes while it lasts, and
    asks the Unsealer to act while sealed, with at most one request outstanding.
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
        self.log = log.child(f"vault-monitor:{hostname}")
        self.hostname = hostname
        self.url = url
        self.interval = interval
        self.client = vault_client(url, tls)
        self.role = role
        """Whether this instance reports (standby_of None) or stands by; None until Leadership has said."""
        self.started = time.monotonic()
        self.recheck_due = False
        self.ticker: pykka.ActorRef[Any] | None = None
        self.last: VaultObserved | None = None
        self.problem = Outage(reminder_seconds=REMINDER_SECONDS, changes_are_news=True)
        self.unseal_requested_at: float | None = None
        """When the outstanding unseal request was made; None when none is."""

    @property
    def name(self) -> str:
        return f"vault-monitor:{self.hostname}"

    def setup(self) -> None:
        self.log.debug(f"monitoring {self.url} every {self.interval:g} s")
        self.ticker = self.spawn(Ticker, f"vault-poll:{self.hostname}", self.actor_ref, self.interval)

    def cleanup(self) -> None:
        self.client.adapter.close()

    def handle(self, message: Any) -> None:
        if isinstance(message, (Tick, CheckNow)):
            self.poll()
        elif isinstance(message, UnsealFinished):
            self.unseal_requested_at = None
        elif isinstance(message, ReportingRole):
            if message.standby_of is None and self.role is not None and self.role.standby_of is not None:
                self.problem.succeeded()  # now the one that reports: a problem still there is news here
            held = self.role is None and self.last is not None and self.last.state.is_problem
            self.role = message
            if held:
                self.poll()  # the problem held back until now: report it as this instance's role says
        elif isinstance(message, SetInterval):
            self.interval = message.seconds
            tell(self.ticker, message)

    def check_later(self, seconds: float) -> None:
        """Poll again in `seconds` (once the wait for this instance's role is over)."""
        timer = threading.Timer(seconds, tell, args=(self.actor_ref, CheckNow()))
        timer.daemon = True
        timer.start()

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        if self.last is not None:
            tell(to, self.last)

    def poll(self) -> None:
        observed = probe(self.client, self.hostname, self.url)
        self.log.debug(f"{self.url}: {observed.state.value} {observed.detail}".rstrip())
        line = f"Vault on {self.hostname} ({self.url}) is {observed.state.value}: {observed.detail}"
        if observed.state.is_problem and self.role is None and time.monotonic() - self.started < ROLE_WAIT_SECONDS:
            if not self.recheck_due:
                self.recheck_due = True
                self.check_later(ROLE_WAIT_SECONDS - (time.monotonic() - self.started))
        elif observed.state.is_problem:
            # The reminder tracks the state only: progress changing while sealed is not news.
            if self.problem.failed(observed.state.value, time.monotonic()):
                if self.role is None or self.role.standby_of is None:
                    self.log.error(line)
                else:
                    self.log.info(f"{line} (standing by: {self.role.standby_of} reports it)")
        else:
            self.problem.succeeded()
            if self.last is None or (self.last.state, self.last.detail) != (observed.state, observed.detail):
                self.log.info(line)
        self.last = observed
        self.publish(observed)
        now = time.monotonic()
        if observed.state is VaultState.SEALED and (
            self.unseal_requested_at is None or now - self.unseal_requested_at > UNSEAL_ANSWER_SECONDS
        ):
            request = UnsealRequested(self.hostname, self.url, self.actor_ref)
            self.unseal_requested_at = now if tell(self.directory.lookup("unsealer"), request) else None
