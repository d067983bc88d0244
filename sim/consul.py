"""A simulated Consul 1.8 (its servers as one, one agent): KV with indexes and cas, sessions bound to TTL checks, locks,
transactions with check-session, agent restarts that lose checks, restarts with or without state, outages.

It answers as the real one does (pinned by tests/test_sim_servers.py, and against the real one by
tests/integration/test_sim_real.py): a PUT of the same value keeps the key's ModifyIndex; a GET of a missing
key answers 404 with index 1 (then the store's latest index); a pass of an unknown check answers 500
`Unknown check` (ACLs on), 500 `does not have associated TTL` (ACLs off) or 404 (Consul >= 1.11); a restart
without state starts the indexes again from about 10; a TTL check goes critical its TTL after the last pass and
Consul invalidates the sessions bound to it, releasing their locks. Time is passed in by the caller: expiries are
worked out lazily, in deadline order, at each call.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from neon_cm.keys import LEADER_KEY

#: Where a restart without state (a dev-mode agent, a wiped data dir) starts its raft index again.
FRESH_INDEX = 10


class CheckFlavour(enum.Enum):
    """How the agent answers a pass of a check it does not know."""

    ACL = "acl"
    """Consul 1.8 with ACLs on: 500 `Unknown check "<id>"`."""
    PLAIN = "plain"
    """Consul 1.8 without ACLs: 500 `CheckID "<id>" does not have associated TTL`."""
    NEW = "new"
    """Consul >= 1.11: 404 (py-consul returns False)."""


@attrs.frozen
class Reply:
    """An HTTP answer: status 0 means none came (connection refused, or the server hung)."""

    status: int
    body: Any = None
    index: int = 0


NO_ANSWER = Reply(0)
#: What a 3-server Consul 1.8.7's client agent answers (500) while the servers have no leader (pinned by
#: tests/integration/test_consul_cluster.py): while the agent still forwards to the dead leader, and once the
#: followers know it is gone.
NO_LEADER = "No cluster leader"
ELECTION_ANSWERS = (
    "rpc error making call: stream closed",
    "rpc error getting client: failed to get conn: dial tcp 127.0.30.34:0->127.0.30.31:8300: connect: connection "
    "refused",
    "rpc error making call: rpc error getting client: failed to get conn: dial tcp 127.0.30.32:0->127.0.30.31:8300: "
    "connect: connection refused",
    NO_LEADER,
)


@attrs.define
class Entry:
    """One KV key as Consul stores it."""

    value: bytes
    flags: int
    create_index: int
    modify_index: int
    lock_index: int = 0
    session: str | None = None


@attrs.define
class Check:
    """A TTL check on the agent."""

    name: str
    ttl: float
    passing: bool
    expires: float


@attrs.define
class Session:
    """A session bound to checks; `owner` is which simulated instance created it (bookkeeping, not Consul's)."""

    checks: tuple[str, ...]
    owner: str


@attrs.frozen
class LockEvent:
    """The lock changed hands: `owner` acquired it (`acquired`) or lost it (`acquired` False, with `cause`)."""

    time: float
    owner: str
    acquired: bool
    cause: str = ""


class SimConsul:
    """The server and the local agent of every instance (one agent: the instances share a manager's agent)."""

    def __init__(self, flavour: CheckFlavour) -> None:
        self.flavour = flavour
        self.index = FRESH_INDEX
        self.kv: dict[str, Entry] = {}
        self.checks: dict[str, Check] = {}
        self.sessions: dict[str, Session] = {}
        self.session_count = 0
        self.down_until = 0.0
        self.refusing_until = 0.0
        """Until then every call of the service's token is refused (403): its policy lost the rights."""
        self.hung = False
        """While down: True when calls time out, False when the connection is refused."""
        self.lock_events: list[LockEvent] = []
        self.restarts = 0
        self.kv_index = 0
        """The index of the KV store's latest change (0: it never held a key)."""
        self.leaderless_until = 0.0
        """Until then the servers hold an election: every call the agent forwards to them answers 500 (the
        agent's own calls, a check's pass or registration, work)."""
        self.leaderless_answer = NO_LEADER

    # ------------------------------------------------------------------ faults

    def reachable(self, now: float) -> bool:
        return now >= self.down_until

    def outage(self, now: float, seconds: float, hung: bool) -> None:
        """Answer nothing for `seconds` (refused, or hung until the client's timeout)."""
        self.down_until = max(self.down_until, now + seconds)
        self.hung = hung

    def election(self, now: float, seconds: float, answer: str) -> None:
        """The leader is gone for `seconds`: calls the agent forwards to the servers answer 500 `answer`."""
        self.leaderless_until = max(self.leaderless_until, now + seconds)
        self.leaderless_answer = answer

    def no_leader(self, now: float) -> Reply | None:
        """The 500 of a call forwarded to the servers during an election, None when they have a leader."""
        if now < self.leaderless_until:
            return Reply(500, self.leaderless_answer)
        return None

    def restart(self, now: float, seconds: float, keep_state: bool) -> None:
        """Down for `seconds`; without state, KV, sessions and checks are gone and indexes start again."""
        self.expire(now)
        self.outage(now, seconds, hung=False)
        self.restarts += 1
        if not keep_state:
            for session_id in list(self.sessions):
                self._invalidate(session_id, now, "Consul restarted without its data")
            self.kv.clear()
            self.checks.clear()
            self.index = FRESH_INDEX + self.restarts % 3
            self.kv_index = 0

    def agent_restart(self, now: float, seconds: float, lose_checks: bool) -> None:
        """The local agent restarts: down for `seconds`; checks registered through the API may be lost."""
        self.expire(now)
        self.outage(now, seconds, hung=False)
        if lose_checks:
            for check_id in list(self.checks):
                self._drop_check(check_id, now, "the agent restarted without its checks")

    # ------------------------------------------------------------------ time

    def expire(self, now: float) -> None:
        """Turn TTL checks past their deadline critical, invalidating their sessions, in deadline order."""
        due = sorted(
            (check.expires, check_id)
            for check_id, check in self.checks.items()
            if check.passing and check.expires <= now
        )
        for expires, check_id in due:
            self.checks[check_id].passing = False
            for session_id in [sid for sid, session in self.sessions.items() if check_id in session.checks]:
                self._invalidate(session_id, expires, "")

    def _next_index(self) -> int:
        self.index += 1
        return self.index

    def _invalidate(self, session_id: str, now: float, cause: str) -> None:
        """Drop a session and release its locks (`cause` empty: its TTL check expired, the normal way)."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return
        for key, entry in self.kv.items():
            if entry.session == session_id:
                entry.session = None
                entry.modify_index = self.kv_index = self._next_index()
                if key == LEADER_KEY:
                    self.lock_events.append(LockEvent(now, session.owner, False, cause))

    def _drop_check(self, check_id: str, now: float, cause: str) -> None:
        self.checks.pop(check_id, None)
        for session_id in [sid for sid, session in self.sessions.items() if check_id in session.checks]:
            self._invalidate(session_id, now, cause)

    def holder(self, now: float) -> str | None:
        """The owner of the session holding the lock now."""
        self.expire(now)
        entry = self.kv.get(LEADER_KEY)
        if entry is None or entry.session is None:
            return None
        session = self.sessions.get(entry.session)
        return session.owner if session else None

    # ------------------------------------------------------------------ agent

    def check_register(self, now: float, check_id: str, name: str, ttl: float) -> Reply:
        """PUT /v1/agent/check/register (Status passing)."""
        self.expire(now)
        self.checks[check_id] = Check(name, ttl, True, now + ttl)
        return Reply(200)

    def check_pass(self, now: float, check_id: str) -> Reply:
        """PUT /v1/agent/check/pass/<id>."""
        self.expire(now)
        check = self.checks.get(check_id)
        if check is None:
            if self.flavour is CheckFlavour.NEW:
                return Reply(404, f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the name.')
            if self.flavour is CheckFlavour.ACL:
                return Reply(500, f'Unknown check "{check_id}"')
            return Reply(500, f'CheckID "{check_id}" does not have associated TTL')
        check.passing, check.expires = True, now + check.ttl
        return Reply(200)

    def check_deregister(self, now: float, check_id: str, cause: str = "its check was deregistered") -> Reply:
        """PUT /v1/agent/check/deregister/<id>: the sessions bound to it are invalidated at once."""
        self.expire(now)
        self._drop_check(check_id, now, cause)
        return Reply(200)

    def agent_checks(self, now: float) -> Reply:
        """GET /v1/agent/checks."""
        self.expire(now)
        body = {
            check_id: {"Name": check.name, "Status": "passing" if check.passing else "critical"}
            for check_id, check in self.checks.items()
        }
        return Reply(200, body)

    # ------------------------------------------------------------------ sessions

    def session_create(self, now: float, checks: tuple[str, ...], owner: str) -> Reply:
        """PUT /v1/session/create bound to `checks` (serfHealth is always passing here)."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        for check_id in checks:
            if check_id == "serfHealth":
                continue
            check = self.checks.get(check_id)
            if check is None:
                return Reply(500, f"Missing check '{check_id}' registration")
            if not check.passing:
                return Reply(500, f"Check '{check_id}' is in critical state")
        self.session_count += 1
        session_id = f"s{self.restarts}-{self.session_count}"
        self.sessions[session_id] = Session(checks, owner)
        self._next_index()
        return Reply(200, {"ID": session_id})

    def session_renew(self, now: float, session_id: str) -> Reply:
        """PUT /v1/session/renew/<id>: 404 when the session is gone."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        if session_id not in self.sessions:
            return Reply(404, f"Session id '{session_id}' not found")
        return Reply(200, [{"ID": session_id}])

    def session_destroy(self, now: float, session_id: str) -> Reply:
        """PUT /v1/session/destroy/<id>."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        self._invalidate(session_id, now, "its session was destroyed")
        return Reply(200, True)

    # ------------------------------------------------------------------ KV

    def kv_get(self, now: float, key: str) -> Reply:
        """GET /v1/kv/<key>: a missing key answers 404 with the KV store's latest index, 1 while it never held a
        key (tests/integration/test_consul_semantics.py saw both on Consul 1.8.7)."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        entry = self.kv.get(key)
        if entry is None:
            return Reply(404, None, self.kv_index or 1)
        return Reply(200, [self._item(key, entry)], self.index)

    def kv_list(self, now: float, prefix: str) -> Reply:
        """GET /v1/kv/<prefix>?recurse."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        items = [self._item(key, entry) for key, entry in sorted(self.kv.items()) if key.startswith(prefix)]
        return Reply(200, items, self.index) if items else Reply(404, None, self.kv_index or 1)

    @staticmethod
    def _item(key: str, entry: Entry) -> dict[str, Any]:
        return {
            "Key": key,
            "Value": entry.value,
            "Flags": entry.flags,
            "CreateIndex": entry.create_index,
            "ModifyIndex": entry.modify_index,
            "LockIndex": entry.lock_index,
            "Session": entry.session,
        }

    def _set(self, key: str, value: bytes, index: int | None = None) -> None:
        """Write `value` at `index` (one raft entry: a transaction's keys share it; None: a new one)."""
        entry = self.kv.get(key)
        if entry is None:
            index = index or self._next_index()
            self.kv[key] = Entry(value, 0, index, index)
            self.kv_index = index
        elif entry.value != value:
            entry.value, entry.modify_index = value, index or self._next_index()
            self.kv_index = entry.modify_index
        # the same value (and flags): Consul keeps the ModifyIndex, no new index

    def kv_put(
        self,
        now: float,
        key: str,
        value: bytes,
        owner: str,
        cas: int | None = None,
        acquire: str | None = None,
        release: str | None = None,
    ) -> Reply:
        """PUT /v1/kv/<key> (with ?cas, ?acquire or ?release): 200 true or false."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        entry = self.kv.get(key)
        if cas is not None and (entry.modify_index if entry else 0) != cas:
            return Reply(200, False)
        if acquire is not None:
            if acquire not in self.sessions:
                return Reply(500, f'invalid session "{acquire}"')
            if entry is not None and entry.session is not None and entry.session != acquire:
                return Reply(200, False)
            newly = entry is None or entry.session != acquire
            self._set(key, value)
            entry = self.kv[key]
            if newly:
                entry.session, entry.lock_index = acquire, entry.lock_index + 1
                entry.modify_index = self.kv_index = self._next_index()
                if key == LEADER_KEY:
                    self.lock_events.append(LockEvent(now, self.sessions[acquire].owner, True))
            return Reply(200, True)
        if release is not None:
            if entry is None or entry.session != release:
                return Reply(200, False)
            entry.session = None
            entry.modify_index = self.kv_index = self._next_index()
            self._set(key, value)
            if key == LEADER_KEY:
                self.lock_events.append(LockEvent(now, owner, False, "released"))
            return Reply(200, True)
        self._set(key, value)
        return Reply(200, True)

    def kv_delete(self, now: float, key: str) -> Reply:
        """DELETE /v1/kv/<key>."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        entry = self.kv.pop(key, None)
        if entry is not None:
            self.kv_index = self._next_index()
            if key == LEADER_KEY and entry.session in self.sessions:
                self.lock_events.append(LockEvent(now, self.sessions[entry.session].owner, False, "key deleted"))
        return Reply(200, True)

    def txn(self, now: float, operations: list[dict[str, Any]]) -> Reply:
        """PUT /v1/txn of KV operations (set, cas, get, check-session): all applied, or 409 with Errors."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        errors = []
        for position, operation in enumerate(operations):
            kv = operation["KV"]
            entry = self.kv.get(kv["Key"])
            if kv["Verb"] == "cas" and (entry.modify_index if entry else 0) != kv["Index"]:
                what = "key does not exist" if entry is None else f"current modify index {entry.modify_index}"
                errors.append(
                    {"OpIndex": position, "What": f'failed to set key "{kv["Key"]}", index is stale ({what})'}
                )
            elif kv["Verb"] == "check-session" and (entry is None or entry.session != kv["Session"]):
                held = "lock not held" if entry is None or entry.session is None else "held by another session"
                errors.append({"OpIndex": position, "What": f'failed to check session for "{kv["Key"]}": {held}'})
        if errors:
            return Reply(409, {"Errors": errors, "Results": None})
        writes = [(kv["Key"], kv["Value"]) for kv in (op["KV"] for op in operations) if kv["Verb"] in ("set", "cas")]
        if any(key not in self.kv or self.kv[key].value != value for key, value in writes):
            index = self._next_index()  # one raft entry: every key the transaction changes gets its index
            for key, value in writes:
                self._set(key, value, index)
        return Reply(200, {"Errors": None, "Results": []}, self.index)
