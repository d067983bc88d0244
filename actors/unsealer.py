"""Unsealer: unseals a sealed Vault with the operator's key shares; the decisions are neon_cm/unsealing.py's."""

from __future__ import annotations

from typing import Any

import consul

from actors.base import DecidingActor, tell
from actors.logger import Log
from actors.runtime import now, runtime
from actors.under_lock import UnderLock
from gateways.consul import ConsulGateway
from gateways.vault import VAULT_TIMEOUT, VaultGateway
from messages.consul_answers import ConsulRefused, KeyRead
from messages.routes import UNSEAL_ANSWERS
from neon_cm.booleans import stored_switch
from neon_cm.credentials import UnsealCredentials
from neon_cm.environment import TlsSettings
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY
from neon_cm.unsealing import (
    AnswerMonitor,
    CancelAttempt,
    ReadSealStatus,
    ReadSwitch,
    ResetProgress,
    SubmitShare,
    SwitchRead,
    SwitchUnreadable,
    Unsealing,
    VaultAnswered,
)
from neon_cm.vault import NotSent, UnsealAnswer

VaultCall = ReadSealStatus | SubmitShare | ResetProgress


class Unsealer(DecidingActor):
    """On UnsealRequested, while this instance holds its lease on the lock: read neon/cluster/disable-auto-unseal,
    then unseal that node, one Vault call at a time, each decided by Unsealing with the lease and time of that
    moment.

    Each call goes out in a thread of its own for its node (a hung Vault holds up only its own attempt) and its
    answer comes back as an event. The thread checks, at the moment the request would go out, that the attempt
    was not cancelled (the lease ended, or this actor stopped) and that the lease's deadline has not come, and the
    gateway writes the share only once connected, if the deadline has still not come: a share is never sent after
    it (however slow the TLS handshake), not even by a thread of a crashed Unsealer, whose cleanup cancels them all.
    """

    component = "unsealer"

    def __init__(
        self,
        credentials: UnsealCredentials,
        consul_client: consul.Consul,
        tls: TlsSettings,
        log: Log,
        under_lock: UnderLock | None = None,
    ):
        super().__init__(log)
        self.under_lock = under_lock if under_lock is not None else UnderLock()
        """The gate every share and reset passes as its body is written; Leadership shuts it before it gives the lock
        up and waits for those on their way (actors/under_lock.py)."""
        self.credentials = credentials
        self.consul = ConsulGateway(consul_client)
        self.tls = tls
        self.state = Unsealing(len(credentials.keys))
        self.gateways: dict[tuple[str, str], VaultGateway] = {}
        self.cancelled: set[tuple[str, int]] = set()
        self.stopping = False
        self.guard = runtime().lock()
        """Guards `cancelled`, `stopping` and `gateways`, used by the node threads."""

    def cleanup(self) -> None:
        super().cleanup()
        with self.guard:
            self.stopping = True  # a thread of ours sends nothing more, so a restarted Unsealer is alone on a node
            gateways = list(self.gateways.values())
        for gateway in gateways:
            gateway.close()

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, ReadSwitch):
            # In a thread of its own: a hung Consul holds that read up to its timeout, never the Unsealer.
            self.start_thread(f"switch-{effect.hostname}", lambda: self.switch_thread(effect))
            return None
        if isinstance(effect, (ReadSealStatus, SubmitShare, ResetProgress)):
            self.start_thread(f"unseal-{effect.hostname}", lambda: self.call(effect))
            return None
        if isinstance(effect, CancelAttempt):
            with self.guard:
                self.cancelled.add((effect.hostname, effect.attempt))
            return None
        if isinstance(effect, AnswerMonitor):
            tell(self.directory.route(UNSEAL_ANSWERS, effect.finished.hostname), effect.finished)
            return None
        return super().perform(effect)

    def switch_thread(self, effect: ReadSwitch) -> None:
        tell(self.actor_ref, self.read_switch(effect))

    def read_switch(self, effect: ReadSwitch) -> SwitchRead | SwitchUnreadable:
        """GET /v1/kv/neon/cluster/disable-auto-unseal: read before every decision, so a switch applies at once (in a
        thread: its answer is told to the Unsealer as the next event)."""
        answer = self.consul.read_key(DISABLE_AUTO_UNSEAL_KEY)  # the switch's one read: `vault auto-unlock` too
        if isinstance(answer, KeyRead):
            return SwitchRead(effect.hostname, effect.url, stored_switch(answer.value))
        problem = answer.detail if isinstance(answer, ConsulRefused) else answer.reason
        return SwitchUnreadable(effect.hostname, effect.url, problem)

    def call(self, effect: VaultCall) -> None:
        """In the node's thread: carry out one Vault call (unless it may no longer go out), tell the answer."""
        key = (effect.hostname, effect.url)
        with self.guard:
            gateway = self.gateways.get(key) or self.gateways.setdefault(
                key, VaultGateway(effect.url, self.tls, clock=now)
            )
        answer: UnsealAnswer
        if isinstance(effect, ReadSealStatus):
            answer = gateway.seal_status()
        elif (refusal := self.refusal(effect)) is not None:
            answer = NotSent(refusal)
        else:
            passed: list[int] = []
            try:
                # Written only if connected before the deadline (not_after) and through the gate (may_write).
                if isinstance(effect, SubmitShare):
                    answer = gateway.submit_share(
                        self.credentials.keys[effect.index],
                        effect.not_after,
                        lambda: not self.may_write(effect, passed),
                    )
                else:
                    answer = gateway.reset(effect.not_after, lambda: not self.may_write(effect, passed))
            finally:
                for token in passed:
                    self.under_lock.arrived(token)  # answered or given up on: it can no longer reach the Vault
        tell(self.actor_ref, VaultAnswered(effect.hostname, effect.attempt, answer))

    def may_write(self, effect: SubmitShare | ResetProgress, passed: list[int]) -> bool:
        """Whether the call's body may be written now that it is connected: its attempt not cancelled, this actor not
        stopped, and the gate open (asked by the gateway once connected, since a slow connect can outlast a release
        of the lock). If it may, it is on its way from now on (its token in `passed`) until its call returns: a
        release of the lock waits for it."""
        with self.guard:
            if self.stopping or (effect.hostname, effect.attempt) in self.cancelled:
                return False
            if passed:
                return True
            token = self.under_lock.pass_gate(runtime().now() + VAULT_TIMEOUT[1])
            if token is None:
                return False
            passed.append(token)
            return True

    def refusal(self, effect: SubmitShare | ResetProgress) -> str | None:
        """Why this share or reset may not go out now, if it may not: checked the moment before it would."""
        with self.guard:
            if self.stopping or (effect.hostname, effect.attempt) in self.cancelled:
                return "the attempt was cancelled"
        if runtime().now() >= effect.not_after:
            return "this instance's lease on the lock ran out before the share went out"
        return None
