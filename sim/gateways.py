"""The sim's gateways: each server call a decider asks for, carried out on a simulated server and answered with
the typed outcome the real gateway (gateways/*.py) gives for the same HTTP answer.

A call is `Call(apply)`: the shell runs `apply(now)` when the request reaches the server and feeds its outcome
back when the answer comes back. Latencies are the shell's (sim/shell.py); a server that is down answers at once
(connection refused), a hung one after the client's timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

import gateways.consul as consul_gateway
from gateways.errors import consul_leaderless
from gateways.vault import parsed, scrubbed, shown, vault_words
from messages.consul_answers import (
    CheckGone,
    CheckPassed,
    CheckRegistered,
    ConsulRefused,
    ConsulUnreachable,
    DefinitionConflict,
    DefinitionFenced,
    DefinitionRead,
    DefinitionWritten,
    HolderRead,
    LockAcquired,
    LockBusy,
    SessionCreated,
    SessionGone,
    SessionRenewed,
    StoredKey,
)
from messages.vault import VaultState
from neon_cm.credentials import Secret
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY
from neon_cm.lease import (
    Acquire,
    CreateSession,
    PassCheck,
    ReadHolder,
    RegisterCheck,
    Release,
    RenewSession,
    Withdraw,
)
from neon_cm.monitoring import Probed
from neon_cm.publishing import ReadDefinition, WriteDefinition
from neon_cm.vault import (
    Garbage,
    HealthAnswer,
    HealthRole,
    Rejected,
    SealAnswer,
    SealStatus,
    Unreachable,
    UnreachableKind,
    UnsealAnswer,
    observation,
)
from sim.consul import Reply, SimConsul
from sim.vault import SimVault

#: The lock's client times out after 1 s (neon_cm_main.LOCK_REQUEST_TIMEOUT), the others after 10 s.
LOCK_TIMEOUT, CONSUL_TIMEOUT = 1.0, 10.0
TIMED_OUT = "ReadTimeout: read timed out"
REFUSED = "permission denied (403): ACLPermissionDenied: 403 Permission denied"


@attrs.frozen
class Call:
    """A server call: `apply(now)` at the server gives the outcome; `timeout` is what a hung server costs."""

    apply: Callable[[float], Any]
    server: str
    """`consul`, `docker` or `vault:<hostname>`."""
    timeout: float
    """The client's timeout: a hung server answers `hung` after it."""
    hung: Any = None
    """The outcome of a call the server never answered."""
    share: str = ""
    """The node a share (or a reset) goes to: the unsealing invariants look at the moment it goes out."""


@attrs.frozen
class HungConsul:
    """The outcome of a Consul call that timed out, made only when one does (most calls are answered)."""

    step: str

    def outcome(self) -> ConsulUnreachable:
        return ConsulUnreachable(self.step, TIMED_OUT)


def unreachable(step: str, reply: Reply) -> ConsulUnreachable:
    """What the real gateway makes of no answer or an unexpected status."""
    if reply.status == 0:
        return ConsulUnreachable(step, "ConnectionError: Connection refused")
    text = f"{reply.status} {reply.body}"
    return ConsulUnreachable(step, f"ConsulException: {text}", leaderless=consul_leaderless(text))


class ConsulCalls:
    """The lock's and the definition's calls (gateways/consul.py's ConsulGateway) on a SimConsul.

    `old_check_answers` reads an unknown check as the service did before issue 17 (defect 1): only
    `does not have associated TTL` meant the check is gone; 500 `Unknown check` was an outage, and a 404
    (py-consul's False) was ignored, as if the pass had worked.
    """

    def __init__(self, consul: SimConsul, owner: str, old_check_answers: bool = False) -> None:
        self.consul = consul
        self.owner = owner
        self.old_check_answers = old_check_answers
        self.on_write: Callable[[float, str], None] = lambda now, owner: None
        """Told of every definition write Consul accepted (the stale-writer invariant)."""

    def call(self, effect: Any) -> Call | None:
        """The call `effect` asks for; None when it is not one of Consul's."""
        if isinstance(effect, PassCheck):
            return self.lock_call(lambda now: self.pass_check(now, effect.check_id), "passing its check")
        if isinstance(effect, RenewSession):
            return self.lock_call(lambda now: self.renew(now, effect.session), "renewing its session")
        if isinstance(effect, Acquire):
            return self.lock_call(lambda now: self.acquire(now, effect), f"acquiring {effect.key}")
        if isinstance(effect, ReadHolder):
            return self.lock_call(lambda now: self.read_holder(now, effect.key), f"reading {effect.key}")
        if isinstance(effect, RegisterCheck):
            return self.lock_call(lambda now: self.register(now, effect), "registering its check")
        if isinstance(effect, CreateSession):
            return self.lock_call(lambda now: self.create_session(now, effect), "creating a session")
        if isinstance(effect, Release):
            return Call(lambda now: self.release(now, effect), "consul", LOCK_TIMEOUT)
        if isinstance(effect, Withdraw):
            return Call(lambda now: self.withdraw(now, effect), "consul", LOCK_TIMEOUT)
        if isinstance(effect, ReadDefinition):
            hung = HungConsul(f"reading {effect.prefix}*")
            return Call(lambda now: self.read_definition(now, effect.prefix), "consul", CONSUL_TIMEOUT, hung)
        if isinstance(effect, WriteDefinition):
            hung = HungConsul(f"writing {DEFINITION_KEY}, {HASH_KEY}")
            return Call(lambda now: self.write_definition(now, effect), "consul", CONSUL_TIMEOUT, hung)
        return None

    @staticmethod
    def lock_call(apply: Callable[[float], Any], step: str) -> Call:
        return Call(apply, "consul", LOCK_TIMEOUT, HungConsul(step))

    def down(self, now: float, step: str) -> ConsulUnreachable | ConsulRefused | None:
        """No answer (Consul down), or a 403 (the token lost its rights), as the real gateway reads them."""
        if not self.consul.reachable(now):
            return unreachable(step, Reply(0))
        if now < self.consul.refusing_until:
            return ConsulRefused(step, REFUSED)
        return None

    def pass_check(self, now: float, check_id: str) -> Any:
        step = "passing its check"
        down = self.down(now, step)
        if down:
            return down
        reply = self.consul.check_pass(now, check_id)
        if reply.status == 200:
            return CheckPassed()
        if reply.status == 404:
            return CheckPassed() if self.old_check_answers else CheckGone("404: no such check")
        if reply.status == 500 and isinstance(reply.body, str):
            gone = ("does not have associated TTL",) if self.old_check_answers else consul_gateway.CHECK_GONE_ANSWERS
            if any(text in reply.body for text in gone):
                return CheckGone(f"500 {reply.body}"[:200])
        return unreachable(step, reply)

    def renew(self, now: float, session: str) -> Any:
        down = self.down(now, "renewing its session")
        if down:
            return down
        reply = self.consul.session_renew(now, session)
        if reply.status in (200, 404):
            return SessionRenewed() if reply.status == 200 else SessionGone()
        return unreachable("renewing its session", reply)

    def acquire(self, now: float, effect: Acquire) -> Any:
        step = f"acquiring {effect.key}"
        down = self.down(now, step)
        if down:
            return down
        reply = self.consul.kv_put(now, effect.key, effect.value.encode(), self.owner, acquire=effect.session)
        if reply.status != 200:
            return unreachable(step, reply)
        return LockAcquired() if reply.body else LockBusy()

    def read_holder(self, now: float, key: str) -> Any:
        down = self.down(now, f"reading {key}")
        if down:
            return down
        reply = self.consul.kv_get(now, key)
        if reply.status not in (200, 404):
            return unreachable(f"reading {key}", reply)
        item = reply.body[0] if reply.status == 200 else None
        if item is None or not item["Session"]:
            return HolderRead(None, None)
        return HolderRead(item["Session"], item["Value"].decode("utf-8", errors="replace")[:100] or "an unnamed")

    def register(self, now: float, effect: RegisterCheck) -> Any:
        down = self.down(now, "registering its check")
        if down:
            return down
        for other, check in self.consul.agent_checks(now).body.items():
            if check["Name"] == effect.name and check["Status"] == "critical" and other != effect.check_id:
                self.consul.check_deregister(now, other, "a peer's start-up deregistered its critical check")
        self.consul.check_register(now, effect.check_id, effect.name, effect.ttl_seconds)
        return CheckRegistered()

    def create_session(self, now: float, effect: CreateSession) -> Any:
        step = "creating a session"
        down = self.down(now, step)
        if down:
            return down
        reply = self.consul.session_create(now, effect.checks, self.owner)
        return SessionCreated(reply.body["ID"]) if reply.status == 200 else unreachable(step, reply)

    def release(self, now: float, effect: Release) -> None:
        if self.consul.reachable(now):
            self.consul.kv_put(now, effect.key, effect.value.encode(), self.owner, release=effect.session)
            self.consul.session_destroy(now, effect.session)
            self.consul.check_deregister(now, effect.check_id, "released on stop")

    def withdraw(self, now: float, effect: Withdraw) -> None:
        if self.consul.reachable(now):
            self.consul.kv_put(now, effect.key, effect.value.encode(), self.owner, release=effect.session)

    def read_definition(self, now: float, prefix: str) -> Any:
        down = self.down(now, f"reading {prefix}*")
        if down:
            return down
        reply = self.consul.kv_list(now, prefix)
        if reply.status not in (200, 404):
            return unreachable(f"reading {prefix}*", reply)
        items = reply.body if reply.status == 200 else []
        return DefinitionRead(tuple(StoredKey(item["Key"], item["ModifyIndex"], item["Value"]) for item in items))

    def write_definition(self, now: float, effect: WriteDefinition) -> Any:
        step = f"writing {DEFINITION_KEY}, {HASH_KEY}"
        down = self.down(now, step)
        if down:
            return down
        operations: list[dict[str, Any]] = [
            {"KV": {"Verb": "cas", "Key": DEFINITION_KEY, "Value": effect.value, "Index": effect.definition_index}},
            {"KV": {"Verb": "cas", "Key": HASH_KEY, "Value": effect.hash.encode(), "Index": effect.hash_index}},
        ]
        if effect.session:
            operations.append({"KV": {"Verb": "check-session", "Key": LEADER_KEY, "Session": effect.session}})
        reply = self.consul.txn(now, operations)
        if reply.status == 200:
            self.on_write(now, self.owner)
            return DefinitionWritten()
        if reply.status == 409:
            fenced = any(error["OpIndex"] == 2 for error in reply.body["Errors"])
            return DefinitionFenced() if fenced else DefinitionConflict()
        return unreachable(step, reply)


@attrs.frozen
class Crashed:
    """The answer of a call whose gateway raised (an old behaviour): the actor dies of it when the answer is due."""

    reason: str


class VaultCalls:
    """One Vault node's calls (gateways/vault.py's VaultGateway) on a SimVault: the same reading of each answer,
    through the real gateway's own helpers. `old_garbage_crash` is the monitor before issue 17 (defect 4): an
    error status with a JSON body that is not an object made hvac raise, and the monitor died of it."""

    def __init__(self, vault: SimVault, old_garbage_crash: bool = False) -> None:
        self.vault = vault
        self.old_garbage_crash = old_garbage_crash

    def seal_status(self, now: float) -> SealAnswer:
        reply = self.vault.seal_status(now)
        if reply.status == 0:
            return Unreachable(UnreachableKind.TIMEOUT, "no answer in time")
        if reply.status != 200:
            if self.old_garbage_crash and not isinstance(reply.body, dict):
                raise SimCrash(f"AttributeError: '{type(reply.body).__name__}' object has no attribute 'get'")
            return Garbage(f"seal-status answered {shown(reply.status, reply.body)}")
        return parsed(reply.body)

    def probe(self, now: float) -> Probed:
        """GET /v1/sys/seal-status, then GET /v1/sys/health when unsealed (one step: both at `now`)."""
        seal = self.seal_status(now)
        health: HealthAnswer | None = None
        if isinstance(seal, SealStatus) and seal.state is VaultState.UNSEALED:
            reply = self.vault.health(now, active=self.vault.hostname.endswith("-1"))
            if isinstance(reply.body, dict):
                health = HealthRole("standby" if reply.body.get("standby") else "active")
            else:
                health = Garbage(f"health answered {shown(reply.status, reply.body)}")
        found = observation(seal, health)
        return Probed(found.state, found.detail, found.unsealable, found.seal_type)

    def unseal(self, now: float, share: Secret | None) -> UnsealAnswer:
        """PUT /v1/sys/unseal with a share, or a reset when `share` is None."""
        reply = self.vault.unseal(now, share.value if share else None, reset=share is None)
        if reply.status == 0:
            return Unreachable(UnreachableKind.TIMEOUT, "no answer in time")
        if reply.status == 200:
            return parsed(reply.body)
        words = vault_words(reply.body)
        if reply.status in (400, 500) and words:
            return Rejected(scrubbed(words, share))
        return Garbage(f"unseal answered {shown(reply.status, reply.body)}")


class Violation(Exception):
    """An invariant does not hold."""

    def __init__(self, invariant: str, text: str) -> None:
        super().__init__(f"{invariant}: {text}")
        self.invariant = invariant
        self.text = text


class SimCrash(Exception):
    """An old behaviour's crash (a client library raising on an answer it did not expect): the actor dies of it."""
