"""Unsealer: unseals a sealed Vault with the operator's key shares, when allowed, one node at a time."""

from __future__ import annotations

import time
from typing import Any

import consul
import hvac.exceptions

from actors.base import ServiceActor
from actors.logger import Log
from messages.vault import CheckNow, UnsealFinished, UnsealRequested
from neon_cm.clients import vault_client
from neon_cm.credentials import UnsealCredentials
from neon_cm.errors import CONSUL_ERRORS
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY
from neon_cm.vault import Finished, Reset, SealStatus, Submit, UnsealAttempt, Wait
from neon_cm.vault_probe import VAULT_ERRORS

#: How long a raft follower may take to finish unsealing in the background before we leave it to the next poll.
FOLLOWER_WAIT_SECONDS = 3.0
FOLLOWER_POLL_SECONDS = 0.25


class Unsealer(ServiceActor):
    """On UnsealRequested: read neon/cluster/disable-auto-unseal, then run the unseal procedure.

    One actor serves every node, so two attempts on one node never overlap.
    """

    component = "unsealer"

    def __init__(
        self, credentials: UnsealCredentials | None, consul_client: consul.Consul, verify: bool | str, log: Log
    ) -> None:
        super().__init__(log)
        self.credentials = credentials
        self.consul = consul_client
        self.verify = verify
        self.switched_off: bool | None = None

    def handle(self, message: Any) -> UnsealFinished | None:
        if isinstance(message, UnsealRequested) and self.credentials is not None and self.allowed():
            finished = self.unseal(message, self.credentials)
            if finished.unsealed and message.monitor is not None:
                message.monitor.tell(CheckNow())
            self.publish(finished)
            return finished
        return None

    def allowed(self) -> bool:
        """GET /v1/kv/neon/cluster/disable-auto-unseal: read before every decision, so a switch applies at once."""
        try:
            _, item = self.consul.kv.get(DISABLE_AUTO_UNSEAL_KEY)
        except CONSUL_ERRORS as error:
            self.log.error(f"cannot read {DISABLE_AUTO_UNSEAL_KEY} from Consul; not unsealing until it can", error)
            return False
        text = (item.get("Value") or b"").decode("utf-8", errors="replace").strip() if item else ""
        switched_off = text.lower() == "true"
        if switched_off != self.switched_off:
            state = "off" if switched_off else "on"
            self.log.info(f"auto-unseal is switched {state} ({DISABLE_AUTO_UNSEAL_KEY}={text or '<missing>'})")
            self.switched_off = switched_off
        return not switched_off

    def unseal(self, request: UnsealRequested, credentials: UnsealCredentials) -> UnsealFinished:
        """GET /v1/sys/seal-status, then PUT /v1/sys/unseal share by share until unsealed."""
        client = vault_client(request.url, self.verify)
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
        except VAULT_ERRORS as error:
            self.log.error(f"{request.hostname}: unseal attempt failed; trying again at the next poll", error)
            return UnsealFinished(request.hostname, False, str(error))
        finally:
            client.adapter.close()

    def finish(self, request: UnsealRequested, step: Finished, submitted: int) -> UnsealFinished:
        if step.unsealed and submitted:
            self.log.info(f"unsealed the Vault on {request.hostname} ({request.url}) with {submitted} keys")
        elif not step.unsealed:
            self.log.error(f"{request.hostname}: {step.reason}")
        return UnsealFinished(request.hostname, step.unsealed, step.reason)
