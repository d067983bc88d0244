"""Every call the service makes to Consul, each answer a typed outcome; and the Consul client they go through.

Consul's answers differ by version and by whether ACLs are on; they are read here, once, and nowhere else:

- passing a check the agent does not know: 500 `Unknown check` (1.8 with ACLs), 500 `does not have associated
  TTL` (1.8 without), 404 on Consul >= 1.11 (py-consul's `ttl_pass` then returns False instead of raising);
- a 403's body says `ACL not found` for a token Consul does not know, `Permission denied` for a policy that
  lacks the right;
- a transaction rolled back answers 409 with `{"Errors": [{"OpIndex": i, "What": ...}]}` for an ACL refusal
  ("Permission denied"), a stale cas index and a failed check-session alike: the operation's index tells which.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import attrs
import consul
from requests.adapters import BaseAdapter

from gateways import REQUEST_TIMEOUT, transport
from gateways.errors import ACL_ADVICE, CONSUL_ERRORS, consul_leaderless, describe
from gateways.tls import with_server_name
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
    KeyRead,
    KeysRead,
    KeyWritten,
    LockAcquired,
    LockBusy,
    SessionChecksRead,
    SessionCreated,
    SessionGone,
    SessionRenewed,
    StoredKey,
)
from neon_cm.environment import ConsulAccess

T = TypeVar("T")

#: What Consul 1.8 answers (500) for passing a TTL check its agent does not have: with ACLs on, and without.
CHECK_GONE_ANSWERS = ("Unknown check", "does not have associated TTL")
#: The most of the lock's value shown as the holder's name.
HOLDER_CHARS = 100

Answer = Any
"""One of messages.consul_answers' outcomes."""


def consul_client(
    access: ConsulAccess, timeout: float = REQUEST_TIMEOUT, adapter: BaseAdapter | None = None
) -> consul.Consul:
    """A py-consul client for what the environment said (Config.consul); no request is made here. With `adapter`,
    every request to Consul goes through it instead of the network (the simulator's transport, sim/transport.py);
    without, the installed transport factory's, if any (gateways/transport.py)."""
    address, tls, token = access.address, access.tls, access.token
    client = consul.Consul(
        host=address.url_host,
        port=address.port,
        scheme=address.scheme,
        token=token,
        verify=tls.verify,
        # requests looks for a client certificate's files even for http://: a missing one would fail every request.
        cert=tls.cert if address.scheme == "https" else None,
        connections_timeout=timeout,
    )
    with_server_name(client.http.session, tls)
    # py-consul prefers CONSUL_HTTP_TOKEN from the process environment over the token it is given: when
    # CONSUL_HTTP_TOKEN_FILE is set too, the file must win (as with Consul's tools).
    client.token = token
    if token:
        # python-consul sends the token per endpoint, and its txn.put (the definition's one transaction) sends
        # none: with ACLs on, every publish would be refused. The session sends it with every request.
        client.http.session.headers["X-Consul-Token"] = token
    transport.mount(client.http.session, "consul", client.http.base_uri, adapter)
    return client


@attrs.frozen
class Write:
    """One key a definition transaction writes: with `index`, only if its ModifyIndex is still that (0: missing)."""

    key: str
    value: bytes
    index: int | None = None
    """The cas index; None writes whatever is there (the operator's `definition put`)."""


@attrs.frozen
class TxnRejected:
    """How Consul explained a rolled-back transaction (409)."""

    refused: tuple[str, ...]
    """The keys whose operations Consul's ACLs refused."""
    fenced: bool
    """Whether a check-session failed: the session no longer holds the lock."""


def txn_rejection(body: str, keys: Sequence[str], fence_index: int | None) -> TxnRejected:
    """The body of a /v1/txn answered 409 whose operations are on `keys` (in order; `fence_index` is the
    check-session's). Anything unreadable is taken for a stale index (a conflict: decide again on fresh data)."""
    try:
        errors = json.loads(body).get("Errors") or []
    except (ValueError, AttributeError):
        errors = []
    refused, fenced = [], False
    for item in errors:
        if not isinstance(item, dict):
            continue
        index = item.get("OpIndex")
        what = str(item.get("What", "")).lower()
        if "permission denied" in what:
            refused.append(keys[index] if isinstance(index, int) and 0 <= index < len(keys) else "?")
        elif (fence_index is not None and index == fence_index) or "session" in what:
            fenced = True
    return TxnRejected(tuple(refused), fenced)


def refused_writing(keys: Sequence[str]) -> str:
    """The refusal of a transaction's writes, naming the keys."""
    return f"permission denied (403) writing {', '.join(keys)}: {ACL_ADVICE}"


class ConsulGateway:
    """The lock's and the definition's calls on one py-consul client (built by consul_client)."""

    def __init__(self, client: consul.Consul) -> None:
        self.client = client

    def call(self, step: str, work: Callable[[], Answer]) -> Answer:
        """`work()`'s outcome; a 403 or a failure to reach Consul as ConsulRefused or ConsulUnreachable."""
        try:
            return work()
        except consul.ACLPermissionDenied as error:
            return ConsulRefused(step, describe(error))
        except CONSUL_ERRORS as error:
            leaderless = isinstance(error, consul.ConsulException) and consul_leaderless(str(error))
            return ConsulUnreachable(step, describe(error), error, leaderless)

    # ----------------------------------------------------------------------- the lock

    def register_check(self, check_id: str, name: str, ttl_seconds: float, notes: str) -> Answer:
        """GET /v1/agent/checks and PUT /v1/agent/check/deregister/<check> for the critical checks named `name`
        of instances gone without deregistering theirs (SIGKILL: their sessions died with them), then
        PUT /v1/agent/check/register: a TTL check, passing."""

        def work() -> CheckRegistered:
            for other, check in (self.client.agent.checks() or {}).items():
                if check.get("Name") == name and check.get("Status") == "critical" and other != check_id:
                    self.client.agent.check.deregister(other)
            self.client.agent.check.register(
                name, check={"TTL": f"{ttl_seconds:g}s", "Status": "passing"}, check_id=check_id, notes=notes
            )
            return CheckRegistered()

        return self.call("registering its check", work)

    def create_session(self, name: str, checks: Sequence[str]) -> Answer:
        """PUT /v1/session/create bound to `checks` (no lock delay: a standby takes a released lock at once)."""
        return self.call(
            "creating a session",
            lambda: SessionCreated(self.client.session.create(name=name, checks=list(checks), lock_delay=0)),
        )

    def pass_check(self, check_id: str) -> Answer:
        """PUT /v1/agent/check/pass/<check>: CheckPassed, or CheckGone when the agent does not know it."""
        try:
            passed = self.client.agent.check.ttl_pass(check_id)
        except consul.ACLPermissionDenied as error:
            return ConsulRefused("passing its check", describe(error))
        except CONSUL_ERRORS as error:
            text = str(error)
            if any(answer in text for answer in CHECK_GONE_ANSWERS):
                return CheckGone(text[:200])
            return ConsulUnreachable("passing its check", describe(error), error)
        return CheckPassed() if passed else CheckGone("404: no such check")

    def renew_session(self, session: str) -> Answer:
        """PUT /v1/session/renew/<session>: is it still valid? SessionGone on 404."""

        def work() -> Answer:
            try:
                self.client.session.renew(session)
            except consul.NotFound:
                return SessionGone()
            return SessionRenewed()

        return self.call("renewing its session", work)

    def acquire(self, key: str, value: str, session: str) -> Answer:
        """PUT /v1/kv/<key>?acquire=<session>."""
        return self.call(
            f"acquiring {key}",
            lambda: LockAcquired() if self.client.kv.put(key, value, acquire=session) else LockBusy(),
        )

    def read_holder(self, key: str) -> Answer:
        """GET /v1/kv/<key>: the holding session and the holder's name from the lock's value."""

        def work() -> HolderRead:
            _, item = self.client.kv.get(key)
            session = item.get("Session") if isinstance(item, dict) else None
            if not session:
                return HolderRead(None, None)
            value = item.get("Value") or b""
            return HolderRead(session, value.decode("utf-8", errors="replace")[:HOLDER_CHARS] or "an unnamed instance")

        return self.call(f"reading {key}", work)

    def read_session_checks(self, session: str, own_check: str) -> Answer:
        """GET /v1/session/info/<session> and GET /v1/agent/checks: the session's checks (serfHealth aside) that this
        agent does not have, if the session was created on this agent's node (its name: the Node of `own_check`,
        this instance's check there); none when the session is gone or was created on another node."""

        def work() -> SessionChecksRead:
            _, info = self.client.session.info(session)
            checks = self.client.agent.checks() or {}
            own = checks.get(own_check)
            if not isinstance(info, dict) or not isinstance(own, dict) or info.get("Node") != own.get("Node"):
                return SessionChecksRead(session, ())
            bound = [str(check) for check in info.get("Checks") or () if check != "serfHealth"]
            return SessionChecksRead(session, tuple(check for check in bound if check not in checks))

        return self.call("reading the lock holder's checks", work)

    def release_key(self, key: str, value: str, session: str) -> None:
        """PUT /v1/kv/<key>?release=<session>, keeping the session (best effort: a key left held is released with
        the session, and a lock left held is read again at the next step)."""
        try:
            self.client.kv.put(key, value, release=session)
        except CONSUL_ERRORS:
            pass

    def destroy_session(self, session: str) -> None:
        """PUT /v1/session/destroy/<session>, which frees what it holds (best effort: a session left is found again at
        the next step)."""
        try:
            self.client.session.destroy(session)
        except CONSUL_ERRORS:
            pass

    def release(self, key: str, value: str, session: str, check_id: str) -> bool | None:
        """PUT /v1/kv/<key>?release=<session>, PUT /v1/session/destroy/<session> and
        PUT /v1/agent/check/deregister/<check>, as far as Consul lets: otherwise the check goes critical within
        its TTL and the session with it. Whether the session held the lock and let it go (None: Consul did not
        answer the release)."""
        try:
            released = bool(self.client.kv.put(key, value, release=session))
        except CONSUL_ERRORS:
            return None  # best effort: the check's TTL releases the lock anyway
        try:
            self.client.session.destroy(session)
            self.client.agent.check.deregister(check_id)
        except CONSUL_ERRORS:
            pass  # the lock is free already; the session and check lapse with the check's TTL
        return released

    # ----------------------------------------------------------------------- the definition

    def read_definition(self, prefix: str) -> Answer:
        """GET /v1/kv/<prefix>?recurse."""

        def work() -> DefinitionRead:
            _, items = self.client.kv.get(prefix, recurse=True)
            return DefinitionRead(
                tuple(
                    StoredKey(item["Key"], int(item.get("ModifyIndex") or 0), item.get("Value")) for item in items or []
                )
            )

        return self.call(f"reading {prefix}*", work)

    def write_definition(self, writes: Sequence[Write], fence: tuple[str, str] | None = None) -> Answer:
        """PUT /v1/txn: every write, in one transaction; with `fence` (lock key, session), a check-session that
        makes Consul write nothing unless the session holds the lock when it applies the transaction.
        DefinitionWritten, DefinitionConflict (a stale cas), DefinitionFenced, ConsulRefused (naming the keys)
        or ConsulUnreachable."""
        operations: list[dict[str, Any]] = []
        for write in writes:
            verb: dict[str, Any] = {"Key": write.key, "Value": base64.b64encode(write.value).decode("ascii")}
            if write.index is None:
                verb["Verb"] = "set"
            else:
                verb.update(Verb="cas", Index=write.index)
            operations.append({"KV": verb})
        keys = [write.key for write in writes]
        fence_index = None
        if fence is not None:
            fence_index = len(operations)
            operations.append({"KV": {"Verb": "check-session", "Key": fence[0], "Session": fence[1]}})
            keys.append(fence[0])
        step = f"writing {', '.join(write.key for write in writes)}"
        try:
            self.client.txn.put(operations)
        except consul.ACLPermissionDenied as error:
            return ConsulRefused(step, describe(error))
        except consul.ConsulException as error:
            text = str(error)
            if not text.startswith("409"):
                return ConsulUnreachable(step, describe(error), error, consul_leaderless(text))
            rejected = txn_rejection(text[4:], keys, fence_index)
            if rejected.refused:
                return ConsulRefused(step, refused_writing(rejected.refused))
            return DefinitionFenced() if rejected.fenced else DefinitionConflict()
        except CONSUL_ERRORS as error:
            return ConsulUnreachable(step, describe(error), error)
        return DefinitionWritten()

    # ----------------------------------------------------------------------- settings and switches

    def read_keys(self, prefix: str, index: int | None = None, wait_seconds: int = 30) -> Answer:
        """GET /v1/kv/<prefix>?recurse: KeysRead (the settings' one read, for the SettingsWatcher, its ConsulWatch
        and the CLI); with `index`, a blocking query (&index=<index>&wait=<wait_seconds>s) answered at a change or
        when the wait runs out."""

        def work() -> KeysRead:
            wait = f"{wait_seconds}s" if index else None
            new_index, items = self.client.kv.get(prefix, recurse=True, index=index, wait=wait)
            values = tuple((item["Key"], item.get("Value")) for item in items or [] if isinstance(item, dict))
            # A proxy's odd header is no index.
            return KeysRead(values, int(new_index) if str(new_index or "").isdigit() else 0)

        return self.call(f"reading {prefix}*", work)

    def read_key(self, key: str) -> Answer:
        """GET /v1/kv/<key>: KeyRead (the auto-unseal switch's one read, for the Unsealer and the CLI)."""

        def work() -> KeyRead:
            _, item = self.client.kv.get(key)
            value = item.get("Value") if isinstance(item, dict) else None
            return KeyRead(bytes(value) if value is not None else None)

        return self.call(f"reading {key}", work)

    def write_key(self, key: str, value: str, only_if_missing: bool = False) -> Answer:
        """PUT /v1/kv/<key> (?cas=0 with `only_if_missing`: a value someone wrote meanwhile is never replaced):
        KeyWritten."""
        return self.call(
            f"writing {key}",
            lambda: KeyWritten(bool(self.client.kv.put(key, value, cas=0 if only_if_missing else None))),
        )
