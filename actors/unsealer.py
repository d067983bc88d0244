"""Unsealer: unseals a sealed Vault with the operator's key shares, when allowed, one attempt per node at a time."""

from __future__ import annotations

import time
from typing import Any

import consul
import hvac.exceptions

from actors.base import ServiceActor, tell
from actors.logger import Log
from gateways.errors import CONSUL_ERRORS, VAULT_ERRORS, describe
from messages.leadership import BecameLeader, LostLeadership, StandingBy
from messages.vault import CheckNow, UnsealFinished, UnsealRequested
from neon_cm.clients import vault_client
from neon_cm.credentials import UnsealCredentials
from neon_cm.environment import TlsSettings
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY
from neon_cm.outage import Outage
from neon_cm.vault import Finished, Reset, SealStatus, Submit, UnsealAttempt, Wait

#: How long a raft follower may take to finish unsealing in the background before we leave it to the next poll.
FOLLOWER_WAIT_SECONDS = 3.0
FOLLOWER_POLL_SECONDS = 0.25


class Unsealer(ServiceActor):
    """On UnsealRequested, while this instance holds the lock: read neon/cluster/disable-auto-unseal,
    then run the unseal procedure for that node in a thread of its own.

    At most one attempt per node is queued or in flight (a request for a node being unsealed is
    dropped), so two attempts on one node never overlap, and a hung Vault holds up only its own
    attempt, never another node's. Without the lock (a standby, or Consul unreachable) it waits,
    and says so once.
    """

    component = "unsealer"

    def __init__(self, credentials: UnsealCredentials, consul_client: consul.Consul, tls: TlsSettings, log: Log):
        super().__init__(log)
        self.credentials = credentials
        self.consul = consul_client
        self.tls = tls
        self.switched_off: bool | None = None
        self.odd_switch = ""
        """The switch's last value, to warn once about one that is neither true nor false."""
        self.leading = False
        self.waiting_said = False
        self.in_flight: set[str] = set()
        self.switch_outage = Outage()

    def handle(self, message: Any) -> None:
        if isinstance(message, UnsealRequested):
            self.requested(message)
        elif isinstance(message, UnsealFinished):
            self.in_flight.discard(message.hostname)
            self.publish(message)
        elif isinstance(message, BecameLeader):
            self.leading, self.waiting_said = True, False
        elif isinstance(message, (LostLeadership, StandingBy)):
            self.leading = False

    def requested(self, request: UnsealRequested) -> None:
        if not self.leading:
            self.answer(request, UnsealFinished(request.hostname, False, "this instance does not hold the lock"))
            if not self.waiting_said:
                self.log.info(
                    f"not unsealing {request.hostname}: unsealing waits for this instance to hold the lock in Consul "
                    f"(and to read {DISABLE_AUTO_UNSEAL_KEY}); the active instance unseals, if there is one"
                )
                self.waiting_said = True
            return
        if request.hostname in self.in_flight:
            return  # its attempt is running: its outcome answers this request too
        if not self.allowed():
            self.answer(request, UnsealFinished(request.hostname, False, "auto-unseal is off or undecided"))
            return
        self.in_flight.add(request.hostname)
        self.start_thread(f"unseal-{request.hostname}", lambda: self.attempt(request))

    def answer(self, request: UnsealRequested, finished: UnsealFinished) -> None:
        tell(request.monitor, finished)

    def attempt(self, request: UnsealRequested) -> None:
        """In the node's own thread: run the procedure, then tell the monitor and ourselves the outcome."""
        finished = self.unseal(request, self.credentials)
        self.answer(request, finished)
        if finished.unsealed:
            tell(request.monitor, CheckNow())
        tell(self.actor_ref, finished)

    def allowed(self) -> bool:
        """GET /v1/kv/neon/cluster/disable-auto-unseal: read before every decision, so a switch applies at once."""
        try:
            _, item = self.consul.kv.get(DISABLE_AUTO_UNSEAL_KEY)
        except CONSUL_ERRORS as error:
            # One line when it starts (and every 5 minutes), not one per sealed Vault per poll.
            if self.switch_outage.failed(type(error).__name__, time.monotonic()):
                self.log.error(
                    f"cannot read {DISABLE_AUTO_UNSEAL_KEY} from Consul ({describe(error)}); not unsealing until it can"
                )
            return False
        if self.switch_outage.succeeded() is not None:
            self.log.info(f"reading {DISABLE_AUTO_UNSEAL_KEY} from Consul again")
        value = item.get("Value") if isinstance(item, dict) else None
        text = value.decode("utf-8", errors="replace").strip() if isinstance(value, bytes) else ""
        switched_off = text.lower() == "true"
        if text.lower() not in ("", "true", "false") and text != self.odd_switch:
            self.log.warn(f"{DISABLE_AUTO_UNSEAL_KEY}={text[:40]!r} is neither true nor false; auto-unseal stays on")
        self.odd_switch = text
        if switched_off != self.switched_off:
            state = "off" if switched_off else "on"
            shown = text[:40] if text else "<missing>"
            self.log.info(f"auto-unseal is switched {state} ({DISABLE_AUTO_UNSEAL_KEY}={shown})")
            self.switched_off = switched_off
        return not switched_off

    def unseal(self, request: UnsealRequested, credentials: UnsealCredentials) -> UnsealFinished:
        """GET /v1/sys/seal-status, then PUT /v1/sys/unseal share by share until unsealed."""
        client = vault_client(request.url, self.tls)
        attempt = UnsealAttempt(len(credentials.keys))
        waited_until = time.monotonic() + FOLLOWER_WAIT_SECONDS
        try:
            status = SealStatus.from_json(client.sys.read_seal_status())
            while True:
                step = attempt.next_step(status)
                if isinstance(step, Finished):
                    return self.finish(request, step, attempt.submitted)
                if isinstance(step, Reset):
                    self.log.warn(
                        f"{request.hostname}: a partial unseal attempt that is not ours "
                        f"({status.progress}/{status.threshold}) is there; resetting it"
                    )
                    status = SealStatus.from_json(client.sys.submit_unseal_key(reset=True))
                elif isinstance(step, Submit):
                    status = SealStatus.from_json(client.sys.submit_unseal_key(key=credentials.keys[step.index].value))
                elif isinstance(step, Wait):
                    if time.monotonic() > waited_until:
                        self.log.info(f"{request.hostname}: still unsealing in the background; checking at next poll")
                        return UnsealFinished(request.hostname, False, "still unsealing")
                    time.sleep(FOLLOWER_POLL_SECONDS)
                    status = SealStatus.from_json(client.sys.read_seal_status())
        except hvac.exceptions.InvalidRequest as error:
            # Vault names the problem ("failed to compute combined key") and never echoes the share.
            reason = f"Vault rejected unseal key {attempt.submitted} of {len(credentials.keys)}: {error}"
            self.log.error(f"{request.hostname}: {reason}; not retrying until the next poll")
            return UnsealFinished(request.hostname, False, reason)
        except (*VAULT_ERRORS, ValueError) as error:
            self.log.error(
                f"{request.hostname}: unseal attempt failed ({describe(error)}); trying again at the next poll"
            )
            return UnsealFinished(request.hostname, False, describe(error))
        finally:
            client.adapter.close()

    def finish(self, request: UnsealRequested, step: Finished, submitted: int) -> UnsealFinished:
        if step.unsealed and submitted:
            self.log.info(f"unsealed the Vault on {request.hostname} ({request.url}) with {submitted} keys")
        elif not step.unsealed:
            self.log.error(f"{request.hostname}: {step.reason}")
        return UnsealFinished(request.hostname, step.unsealed, step.reason)
