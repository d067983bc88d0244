"""What Consul answered a lock or definition call: gateways/consul.py's typed outcomes, fed back to the deciders."""

from __future__ import annotations

import attrs


@attrs.frozen
class ConsulRefused:
    """Consul's ACLs refused the call (HTTP 403, or a transaction operation "Permission denied"): retrying will
    not help until the token or its policy changes."""

    step: str
    """What was asked, for the log line: `creating a session`, `writing neon/cluster/definition.deflate`."""
    detail: str
    """Consul's refusal in words: an unknown token (`ACL not found`) or a policy that lacks the right."""


@attrs.frozen
class ConsulUnreachable:
    """No usable answer: refused connection, timeout, TLS trouble, a 5xx that means nothing more specific."""

    step: str
    """What was asked."""
    reason: str
    """`Type: reason`, as gateways.errors.describe says it (never a token)."""
    cause: BaseException | None = attrs.field(default=None, eq=False, repr=False)
    """The exception itself, for a caller that words it its own way (the CLI names Consul's address)."""
    leaderless: bool = False
    """Consul answered, and said its servers have no leader (500 `No cluster leader`, or the agent's `rpc error
    making call` while it still dials a dead leader): an election, not an outage of the agent."""


# --------------------------------------------------------------------------- the lock


@attrs.frozen
class CheckRegistered:
    """PUT /v1/agent/check/register worked (after the critical checks of dead instances were deregistered)."""


@attrs.frozen
class SessionCreated:
    """PUT /v1/session/create worked."""

    session: str
    """The new session's ID."""


@attrs.frozen
class CheckPassed:
    """PUT /v1/agent/check/pass/<check> worked: the check lives a TTL from (at the latest) the call's start."""


@attrs.frozen
class CheckGone:
    """The agent does not know the check (restarted without its data, or deregistered by a peer's start-up):
    the session bound to it is gone too. Consul 1.8 answers 500 `Unknown check` with ACLs on and 500
    `does not have associated TTL` without; Consul >= 1.11 answers 404 (py-consul returns False)."""

    answer: str
    """What Consul said, for the log line."""


@attrs.frozen
class SessionRenewed:
    """PUT /v1/session/renew/<session> found the session alive."""


@attrs.frozen
class SessionGone:
    """The session no longer exists (its check went critical, Consul restarted): 404 on renew."""


@attrs.frozen
class LockAcquired:
    """PUT /v1/kv/<lock>?acquire=<session> answered true: the session holds the lock."""


@attrs.frozen
class LockBusy:
    """The acquire answered false: another session holds the lock (or a lock delay runs)."""


@attrs.frozen
class HolderRead:
    """GET /v1/kv/<lock>: which session holds it and what its value names."""

    session: str | None
    """The holding session, None when nobody holds the lock (or the key is missing)."""
    holder: str | None
    """The lock's value (the holder's instance name, at most 100 characters); None when not held."""


@attrs.frozen
class SessionChecksRead:
    """GET /v1/session/info/<session> and GET /v1/agent/checks: which of the session's checks (serfHealth aside) the
    agent the service talks to does not have, when the session was created on that agent's node."""

    session: str
    missing: tuple[str, ...]
    """Empty when the agent has them all, or the session is gone, or it was created on another node (whose agent
    alone knows its checks)."""


# --------------------------------------------------------------------------- the definition


@attrs.frozen
class StoredKey:
    """One key of the definition's prefix as Consul stores it."""

    key: str
    """The key."""
    modify_index: int
    """Its ModifyIndex: the cas index a write must name."""
    value: bytes | None
    """Its value (None: a key without one)."""


@attrs.frozen
class DefinitionRead:
    """GET /v1/kv/neon/cluster/definition.?recurse: the keys found (none: an empty tuple)."""

    keys: tuple[StoredKey, ...]
    """Every key under the prefix."""

    def get(self, key: str) -> StoredKey | None:
        """The stored key `key`, if there is one."""
        return next((item for item in self.keys if item.key == key), None)


@attrs.frozen
class DefinitionWritten:
    """PUT /v1/txn applied every operation: the definition and its hash are written."""


@attrs.frozen
class DefinitionConflict:
    """The transaction was rolled back: a cas index was stale (someone wrote between the read and the write)."""


@attrs.frozen
class DefinitionFenced:
    """The transaction was rolled back: its check-session failed, the session no longer holds the lock."""


# --------------------------------------------------------------------------- single keys (settings, switches)


@attrs.frozen
class KeysRead:
    """GET /v1/kv/<prefix>?recurse: every key found and its value (None: a key without one)."""

    values: tuple[tuple[str, bytes | None], ...]
    """(key, value) pairs, in Consul's order; none: an empty tuple."""
    index: int = 0
    """Consul's X-Consul-Index of the answer (0 when it sent none that is a number): what a blocking query waits on."""


@attrs.frozen
class KeyRead:
    """GET /v1/kv/<key>: its value; None when the key is missing or holds none."""

    value: bytes | None
    """The stored bytes."""


@attrs.frozen
class KeyWritten:
    """PUT /v1/kv/<key> answered."""

    stored: bool
    """False: Consul did not store it (with ?cas=0, the key was there already)."""
