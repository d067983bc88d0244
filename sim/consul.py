"""A simulated Consul 1.8 (its servers as one, one agent): KV with indexes and cas, sessions bound to TTL checks, locks,
transactions with check-session, agent restarts that lose checks, restarts with or without state, outages, an
agent leaving the cluster, snapshot restores, lock-delay. Its HTTP face (`handle`, sim/http.py) answers the real
gateway's requests through sim/transport.py: blocking queries, X-Consul-Index, the error answers.

It answers as the real one does (pinned by tests/test_sim_servers.py, and against the real one by
tests/integration/test_sim_real.py): a PUT of the same value keeps the key's ModifyIndex; a GET of a missing
key answers 404 with index 1 (then the store's latest index); a pass of an unknown check answers 500
`Unknown check` (ACLs on), 500 `does not have associated TTL` (ACLs off) or 404 (Consul >= 1.11); a restart
without state starts the indexes again from about 10; a TTL check goes critical its TTL after the last pass and
Consul invalidates the sessions bound to it, releasing their locks. Time is passed in by the caller: expiries are
worked out lazily, in deadline order, at each call.
"""

from __future__ import annotations

import base64
import enum
import random
import re
from collections.abc import Callable
from typing import Any

import attrs

from neon_cm.keys import LEADER_KEY
from sim.http import Held, HttpAnswer, HttpRequest, Reach, json_answer, text_answer, wake

#: How long after a snapshot restore the agent's full anti-entropy sync invalidates a restored session whose check
#: the agent has critical or no longer has (the catalog's copy of the check came back passing with the snapshot).
#: Measured on Consul 1.8.7 (scripts/consul_restore_probe.py): see `SimConsul.restore`.
AE_SYNC_SECONDS = (0.0, 120.0)
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
    lock_delay: float = 0.0
    """Seconds the keys it held stay unlockable after it is invalidated (Consul's default is 15 s; the service
    asks for 0; the old Python API's sessions have none)."""
    name: str = ""
    create_index: int = 0


@attrs.frozen
class LockEvent:
    """The lock changed hands: `owner` acquired it (`acquired`) or lost it (`acquired` False, with `cause`)."""

    time: float
    owner: str
    acquired: bool
    cause: str = ""


@attrs.frozen
class Snapshot:
    """The servers' state as `consul snapshot save` keeps it."""

    kv_index: int
    kv: dict[str, Entry]
    sessions: dict[str, Session]
    tombstones: dict[str, int]


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
        # What the HTTP face (`handle`) adds; the Python API above does not look at it.
        self.watchers: list[Callable[[], None]] = []
        """Told at every new raft index: a blocking query held by the transport looks again."""
        self.rng = random.Random(0)
        """The jitter Consul adds to a blocking query's wait (up to wait/16); the world may seed it."""
        self.acl_tokens: set[str] | None = None
        """With ACLs on, the tokens Consul knows (any other: 403 `ACL not found`); None: ACLs off."""
        self.tombstones: dict[str, int] = {}
        """The index at which each deleted key was deleted (Consul keeps tombstones: a prefix's index)."""
        self.lock_delays: dict[str, float] = {}
        """Until when each key cannot be locked: its holder's session was invalidated (Consul's lock-delay)."""
        self.index_header: str | None = None
        """A proxy's quirk: `zero` answers X-Consul-Index 0, `missing` none at all (None: Consul's own)."""
        self.serf_passing = True
        """The agent's serfHealth: critical once the agent left the cluster (its sessions are invalidated)."""
        self.leader_address = "10.0.0.1:8300"
        self.sync_rng = random.Random(0)
        """When the agent's anti-entropy next syncs after a snapshot restore (the world seeds it: never the world's
        main generator, so a run without a restore draws the same as before)."""
        self.sync_at: float | None = None
        """When the agent's next full sync (anti-entropy) brings the restored catalog in line with its checks: the
        sessions bound to a check the agent has critical or does not have are invalidated then (see `restore`)."""
        self.abandoned: tuple[float, Snapshot] | None = None
        """When the last snapshot restore abandoned the state store, and the state it abandoned: a KV query held
        then is answered at once from that state (see `restore`)."""

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
            self.tombstones.clear()
            self.lock_delays.clear()
            self.index = FRESH_INDEX + self.restarts % 3
            self.kv_index = 0

    def agent_leave(self, now: float) -> None:
        """The agent leaves the cluster (`consul leave`, a network split): serfHealth goes critical and every
        session bound to it is invalidated; its TTL checks stay as they were (passing them still works)."""
        self.expire(now)
        self.serf_passing = False
        for session_id in [sid for sid, session in self.sessions.items() if "serfHealth" in session.checks]:
            self._invalidate(session_id, now, "the agent left the cluster (serfHealth critical)")

    def agent_join(self, now: float) -> None:
        """The agent is back in the cluster: serfHealth passing again (no session comes back)."""
        self.serf_passing = True

    def snapshot(self) -> Snapshot:
        """`consul snapshot save`: the servers' state (KV, sessions), not the agent's checks."""
        return Snapshot(
            self.kv_index,
            {key: attrs.evolve(entry) for key, entry in self.kv.items()},
            {sid: attrs.evolve(session) for sid, session in self.sessions.items()},
            dict(self.tombstones),
        )

    def restore(self, now: float, snapshot: Snapshot) -> None:
        """`consul snapshot restore`: KV and sessions as they were saved (a session created since is gone, one
        destroyed since is back), the KV store's index back to the saved one (a blocking query past it waits out
        its wait), the next write at a new, higher raft index; the agent keeps its checks, so a holder whose
        session is gone still passes its check.

        The catalog's checks come back as saved too (passing, since the saved sessions were valid), whatever the
        agent has now: a restored session bound to a check the agent has critical or no longer has stays valid,
        holding its keys, until the agent's next full anti-entropy sync writes the agent's view to the catalog
        (Consul 1.8.7, measured on one dev-mode server: AE_SYNC_SECONDS after the restore; its full sync runs every
        60 s plus a random stagger of up to 60 s). A pass of the check before then revives it (a paused holder).

        A blocking query held at the restore is answered at once with what the abandoned store held, its index the
        one it waited on (Consul 1.8.7, measured: 2.09 s into a 20 s wait, the restore's moment; rpc.go's
        blockingQuery returns when the state store's abandon channel closes): a client that keeps that index then
        waits out its next wait on the restored store, whose indexes are lower, unless a write passes it."""
        self.expire(now)
        if self.sync_at is None:
            self.sync_at = now + self.sync_rng.uniform(*AE_SYNC_SECONDS)
        self.abandoned = (now, self.snapshot())
        before = self.holder(now)
        self.kv = {key: attrs.evolve(entry) for key, entry in snapshot.kv.items()}
        self.sessions = {sid: attrs.evolve(session) for sid, session in snapshot.sessions.items()}
        self.tombstones = dict(snapshot.tombstones)
        self.lock_delays.clear()
        self._next_index()
        self.kv_index = snapshot.kv_index
        after = self.holder(now)
        if before is not None and before != after:
            self.lock_events.append(LockEvent(now, before, False, "a snapshot was restored"))
        if after is not None and before != after:
            self.lock_events.append(LockEvent(now, after, True))

    def agent_restart(self, now: float, seconds: float, lose_checks: bool) -> None:
        """The local agent restarts: down for `seconds`; checks registered through the API may be lost."""
        self.expire(now)
        self.outage(now, seconds, hung=False)
        if lose_checks:
            for check_id in list(self.checks):
                self._drop_check(check_id, now, "the agent restarted without its checks")

    # ------------------------------------------------------------------ time

    def expire(self, now: float) -> None:
        """Turn TTL checks past their deadline critical, invalidating their sessions, in deadline order; the agent's
        anti-entropy sync after a restore in its place among them."""
        if self.sync_at is not None and self.sync_at <= now:
            sync_at, self.sync_at = self.sync_at, None
            self.expire(sync_at)
            self._anti_entropy(sync_at)
        due = [(check.expires, key) for key, check in self.checks.items() if check.passing and check.expires <= now]
        if not due:  # the usual case, at every request and step: nothing to sort
            return
        due.sort()
        for expires, check_id in due:
            self.checks[check_id].passing = False
            for session_id in [sid for sid, session in self.sessions.items() if check_id in session.checks]:
                self._invalidate(session_id, expires, "")

    def _anti_entropy(self, now: float) -> None:
        """The agent's full sync writes its checks to the catalog: a session bound to a check it has critical, or
        does not have, is invalidated (serfHealth as the agent last saw it)."""
        for session_id, session in list(self.sessions.items()):
            for check_id in session.checks:
                check = self.checks.get(check_id)
                alive = self.serf_passing if check_id == "serfHealth" else check is not None and check.passing
                if not alive:
                    self._invalidate(session_id, now, "the agent's anti-entropy sync after a snapshot restore")
                    break

    def _next_index(self) -> int:
        self.index += 1
        wake(self.watchers)
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
                if session.lock_delay > 0:  # Consul's lock-delay: explicit releases have none, invalidations do
                    self.lock_delays[key] = now + session.lock_delay
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

    def session_create(
        self, now: float, checks: tuple[str, ...], owner: str, lock_delay: float = 0.0, name: str = ""
    ) -> Reply:
        """PUT /v1/session/create bound to `checks`."""
        if (no_leader := self.no_leader(now)) is not None:
            return no_leader
        self.expire(now)
        for check_id in checks:
            if check_id == "serfHealth":
                if not self.serf_passing:
                    return Reply(500, "Check 'serfHealth' is in critical state")
                continue
            check = self.checks.get(check_id)
            if check is None:
                return Reply(500, f"Missing check '{check_id}' registration")
            if not check.passing:
                return Reply(500, f"Check '{check_id}' is in critical state")
        self.session_count += 1
        session_id = f"s{self.restarts}-{self.session_count}"
        self.sessions[session_id] = Session(checks, owner, lock_delay, name, self._next_index())
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
                return Reply(500, f'Invalid session "{acquire}"')
            if entry is not None and entry.session is not None and entry.session != acquire:
                return Reply(200, False)
            if now < self.lock_delays.get(key, 0.0) and (entry is None or entry.session != acquire):
                return Reply(200, False)  # Consul: "Rejecting lock of key due to lock-delay"
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
            self.kv_index = self.tombstones[key] = self._next_index()
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
            # Consul 1.8's words (agent/consul/state/txn.go, kvs.go), as tests/test_consul_gateway.py has them.
            if kv["Verb"] == "cas" and (entry.modify_index if entry else 0) != kv["Index"]:
                errors.append({"OpIndex": position, "What": f'failed to set key "{kv["Key"]}", index is stale'})
            elif kv["Verb"] == "check-session" and entry is None:
                errors.append(
                    {"OpIndex": position, "What": f'failed to check session, key "{kv["Key"]}" doesn\'t exist'}
                )
            elif kv["Verb"] == "check-session" and entry is not None and entry.session != kv["Session"]:
                errors.append(
                    {
                        "OpIndex": position,
                        "What": f'failed session check for key "{kv["Key"]}", current session '
                        f'"{entry.session or ""}" != "{kv["Session"]}"',
                    }
                )
        if errors:
            return Reply(409, {"Errors": errors, "Results": None})
        writes = [(kv["Key"], kv["Value"]) for kv in (op["KV"] for op in operations) if kv["Verb"] in ("set", "cas")]
        if any(key not in self.kv or self.kv[key].value != value for key, value in writes):
            index = self._next_index()  # one raft entry: every key the transaction changes gets its index
            for key, value in writes:
                self._set(key, value, index)
        return Reply(200, {"Errors": None, "Results": []}, self.index)

    # ------------------------------------------------------------------ the HTTP face

    def reach(self, now: float) -> Reach:
        """How the agent takes a connection now (sim/transport.py)."""
        if self.reachable(now):
            return Reach.UP
        return Reach.HUNG if self.hung else Reach.REFUSED

    def next_change(self, now: float) -> float | None:
        """When a passing TTL check next runs out, or the agent's sync after a restore runs (sessions may die then,
        their keys change)."""
        due = [check.expires for check in self.checks.values() if check.passing and check.expires > now]
        if self.sync_at is not None and self.sync_at > now:
            due.append(self.sync_at)
        return min(due, default=None)

    def handle(self, request: HttpRequest, now: float) -> HttpAnswer | Held:
        """One HTTP request to the agent, answered as Consul 1.8.7's agent does (see ANSWERS below)."""
        path, method = request.path, request.method
        if path == "/v1/status/leader" and method == "GET":
            leader = "" if now < self.leaderless_until else self.leader_address
            return json_answer(200, leader)
        refused = self._acl(request, now)
        if refused is not None:
            return refused
        if path.startswith("/v1/agent/"):
            return self._agent(request, now)
        if path.startswith("/v1/session/"):
            return self._session(request, now)
        if path.startswith("/v1/kv/"):
            return self._kv(request, now)
        if path == "/v1/txn":
            return self._txn(request, now) if method == "PUT" else _not_allowed(method)
        return text_answer(404, "404 page not found")

    def _acl(self, request: HttpRequest, now: float) -> HttpAnswer | None:
        """403 `ACL not found` for a token Consul does not know, `Permission denied` while the service's token
        lost its rights (a transaction's operations are refused one by one, in a 409: see `_txn`)."""
        token = request.headers.get("x-consul-token") or request.arg("token") or ""
        if self.acl_tokens is not None and token not in self.acl_tokens:
            return text_answer(403, "ACL not found")
        if now < self.refusing_until and request.path != "/v1/txn":
            return text_answer(403, "Permission denied")
        return None

    def _meta(self, index: int) -> tuple[tuple[str, str], ...]:
        """The headers of a query's answer: its index (never 0: Consul says 1), a known leader."""
        headers = (("X-Consul-Knownleader", "true"), ("X-Consul-Lastcontact", "0"))
        if self.index_header == "missing":
            return headers
        shown = 0 if self.index_header == "zero" else max(index, 1)
        return (("X-Consul-Index", str(shown)), *headers)

    @staticmethod
    def _reply(reply: Reply, note: str = "") -> HttpAnswer:
        """An answer of the Python API above as HTTP: a string body is Consul's plain-text error."""
        if isinstance(reply.body, str):
            return text_answer(reply.status, reply.body, note=note)
        if reply.body is None:
            return HttpAnswer(reply.status, note=note)
        return json_answer(reply.status, reply.body, note=note)

    # ---------------------------------------------------------------- /v1/agent

    def _agent(self, request: HttpRequest, now: float) -> HttpAnswer:
        path, method = request.path, request.method
        if path == "/v1/agent/checks":
            if method != "GET":
                return _not_allowed(method)
            self.expire(now)
            body: dict[str, Any] = {
                check_id: {
                    "Node": "manager-1",
                    "CheckID": check_id,
                    "Name": check.name,
                    "Status": "passing" if check.passing else "critical",
                    "Notes": "",
                    "Output": "" if check.passing else "TTL expired",
                    "ServiceID": "",
                    "ServiceName": "",
                    "ServiceTags": [],
                    "Type": "ttl",
                    "Definition": {},
                    "CreateIndex": 0,
                    "ModifyIndex": 0,
                }
                for check_id, check in self.checks.items()
            }
            return json_answer(200, body)
        if method != "PUT":
            return _not_allowed(method)
        if path == "/v1/agent/check/register":
            try:
                fields = _fields(request.json())
                check_id = str(fields.get("id") or fields.get("checkid") or fields.get("name") or "")
                ttl = parse_duration(str(fields.get("ttl") or ""))
            except (ValueError, TypeError, AttributeError) as error:
                return text_answer(400, f"Request decode failed: {error}")
            if not check_id or not fields.get("name"):
                return text_answer(400, "Missing check name")
            if ttl <= 0:
                return text_answer(400, "Must provide TTL or Script/DockerContainerID/HTTP/TCP/GRPC/AliasNode")
            reply = self.check_register(now, check_id, str(fields["name"]), ttl)
            if str(fields.get("status", "")).lower() != "passing":
                self.checks[check_id].passing = False  # a new TTL check is critical unless told otherwise
            return self._reply(reply)
        for prefix, work in (
            ("/v1/agent/check/pass/", self.check_pass),
            ("/v1/agent/check/deregister/", self._deregister),
        ):
            if path.startswith(prefix):
                return self._reply(work(now, path.removeprefix(prefix)))
        return text_answer(404, "404 page not found")

    def _deregister(self, now: float, check_id: str) -> Reply:
        """An unknown check: 1.8 with ACLs 500 `Unknown check` (vetCheckUpdate), without 200, >= 1.11 404."""
        self.expire(now)
        if check_id not in self.checks:
            if self.flavour is CheckFlavour.ACL:
                return Reply(500, f'Unknown check "{check_id}"')
            if self.flavour is CheckFlavour.NEW:
                return Reply(404, f'Unknown check ID "{check_id}". Ensure that the check ID is passed, not the name.')
            return Reply(200)
        return self.check_deregister(now, check_id)

    # ---------------------------------------------------------------- /v1/session

    def _session(self, request: HttpRequest, now: float) -> HttpAnswer | Held:
        path, method = request.path, request.method
        if path.startswith("/v1/session/info/"):
            if method != "GET":
                return _not_allowed(method)
            if (no_leader := self.no_leader(now)) is not None:
                return self._reply(no_leader)
            self.expire(now)
            session_id = path.removeprefix("/v1/session/info/")
            session = self.sessions.get(session_id)
            body = [self._session_body(session_id, session)] if session else []
            index = session.create_index if session else self.index
            return self._blocking(request, now, json_answer(200, body, self._meta(self.index)), index)
        if method != "PUT":
            return _not_allowed(method)
        if path == "/v1/session/create":
            try:
                fields = _fields(request.json() or {})
                checks = tuple(str(check) for check in fields.get("checks", ["serfHealth"]) or ())
                lock_delay = _lock_delay(fields.get("lockdelay", "15s"))
            except (ValueError, TypeError, AttributeError) as error:
                return text_answer(400, f"Request decode failed: {error}")
            reply = self.session_create(now, checks, request.sender, lock_delay, str(fields.get("name") or ""))
            return self._reply(reply)
        if path.startswith("/v1/session/renew/"):
            session_id = path.removeprefix("/v1/session/renew/")
            reply = self.session_renew(now, session_id)
            if reply.status == 200:
                return json_answer(200, [self._session_body(session_id, self.sessions[session_id])])
            return self._reply(reply)
        if path.startswith("/v1/session/destroy/"):
            return self._reply(self.session_destroy(now, path.removeprefix("/v1/session/destroy/")))
        return text_answer(404, "404 page not found")

    @staticmethod
    def _session_body(session_id: str, session: Session) -> dict[str, Any]:
        return {
            "ID": session_id,
            "Name": session.name,
            "Node": "manager-1",
            "Checks": list(session.checks),
            "LockDelay": int(session.lock_delay * 1e9),
            "Behavior": "release",
            "TTL": "",
            "CreateIndex": session.create_index,
            "ModifyIndex": session.create_index,
        }

    # ---------------------------------------------------------------- /v1/kv

    def _kv(self, request: HttpRequest, now: float) -> HttpAnswer | Held:
        key, method = request.path.removeprefix("/v1/kv/"), request.method
        if (no_leader := self.no_leader(now)) is not None:
            return self._reply(no_leader)
        if method == "GET":
            return self._kv_get(request, now, key)
        if method == "PUT":
            try:
                cas = _optional_int(request.arg("cas"))
            except ValueError:
                return text_answer(400, "Invalid cas index")
            acquire, release = request.arg("acquire"), request.arg("release")
            reply = self.kv_put(now, key, request.body, request.sender, cas, acquire or None, release or None)
            note = "acquired" if acquire and reply.body is True else ""
            return self._reply(reply, note)
        if method == "DELETE":
            self.expire(now)
            if request.has("recurse"):
                for name in [name for name in self.kv if name.startswith(key)]:
                    self.kv_delete(now, name)
                return json_answer(200, True)
            cas = _optional_int(request.arg("cas"))
            entry = self.kv.get(key)
            if cas is not None and (entry.modify_index if entry else 0) != cas:
                return json_answer(200, False)
            return self._reply(self.kv_delete(now, key))
        return _not_allowed(method)

    def _kv_get(self, request: HttpRequest, now: float, key: str) -> HttpAnswer | Held:
        """A key, a prefix (?recurse) or its keys (?keys): the index is the KV store's for one key, the prefix's
        latest change (an entry's or a tombstone's) for a prefix, or the store's when it never had one. A query held
        since before the last snapshot restore is answered at once from the abandoned store."""
        self.expire(now)
        if request.held_since is not None and self.abandoned is not None and request.held_since < self.abandoned[0]:
            answer, _, _ = self._kv_read(request, key, self.abandoned[1])
            return answer
        answer, own, shown = self._kv_read(request, key, self.snapshot_view())
        return self._blocking(request, now, answer, own, shown)

    def snapshot_view(self) -> Snapshot:
        """The KV store as it is (not a copy: read it at once)."""
        return Snapshot(self.kv_index, self.kv, self.sessions, self.tombstones)

    def _kv_read(self, request: HttpRequest, key: str, store: Snapshot) -> tuple[HttpAnswer, int, int]:
        """The answer of `store` to a GET of `key`, what a blocking query on it watches (the key's or the prefix's
        index) and the index it shows."""
        table = store.kv_index
        if request.has("recurse") or request.has("keys"):
            names = sorted(name for name in store.kv if name.startswith(key))
            latest = max(
                [store.kv[name].modify_index for name in names]
                + [index for name, index in store.tombstones.items() if name.startswith(key)],
                default=0,
            )
            index = latest or table
            if not names:
                answer = HttpAnswer(404, self._meta(index))
            elif request.has("keys"):
                separator = request.arg("separator") or ""
                listed = sorted({_up_to(name, key, separator) for name in names})
                answer = json_answer(200, listed, self._meta(index))
            else:
                answer = json_answer(200, [_kv_body(name, store.kv[name]) for name in names], self._meta(index))
            return answer, latest, index
        entry = store.kv.get(key)
        own = entry.modify_index if entry else store.tombstones.get(key, 0)
        if entry is None:
            return HttpAnswer(404, self._meta(table)), own, table
        if request.has("raw"):
            return HttpAnswer(200, self._meta(table), entry.value), own, table
        return json_answer(200, [_kv_body(key, entry)], self._meta(table)), own, table

    @staticmethod
    def longest_hold(request: HttpRequest) -> float:
        """How long a query may be held (?index=N with N > 0: the wait, 5 min by default and 10 at most, plus the
        most of its wait/16 jitter); 0 for any other request. py-consul's read timeout for it is its own timeout plus
        that (wait + wait/16)."""
        try:
            if (_optional_int(request.arg("index")) or 0) <= 0:
                return 0.0
            wait = min(parse_duration(request.arg("wait") or "5m") or 300.0, 600.0)
        except ValueError:
            return 0.0
        return wait + wait / 16

    def _blocking(
        self, request: HttpRequest, now: float, answer: HttpAnswer, own: int, shown: int | None = None
    ) -> HttpAnswer | Held:
        """A blocking query (?index=N&wait=D): answered at once when the index it would answer is past N;
        otherwise held until what it watches changes past N (`own`: the key's or the prefix's index), or the
        wait (default 5 min, at most 10) plus up to wait/16 of jitter runs out. The transport asks again with
        `held_since` set, and without ?index once the wait is over (Consul then answers what is there)."""
        try:
            wanted = _optional_int(request.arg("index")) or 0
            wait = min(parse_duration(request.arg("wait") or "5m") or 300.0, 600.0)
        except ValueError:
            return answer
        if wanted <= 0:
            return answer
        if request.held_since is None:
            if (shown if shown is not None else own) > wanted:
                return answer
            return Held(now + wait + self.rng.uniform(0, wait / 16))
        return answer if own > wanted else Held(request.held_since)

    # ---------------------------------------------------------------- /v1/txn

    def _txn(self, request: HttpRequest, now: float) -> HttpAnswer:
        """KV operations in one transaction: 200 with Results, or 409 with Errors (ACL refusals per operation)."""
        if (no_leader := self.no_leader(now)) is not None:
            return self._reply(no_leader)
        try:
            operations = request.json()
            decoded = []
            for operation in operations:
                kv = {name.lower(): value for name, value in operation["KV"].items()}
                verb: dict[str, Any] = {"Verb": kv["verb"], "Key": kv["key"], "Session": kv.get("session", "")}
                verb["Value"] = base64.b64decode(kv.get("value") or "")
                verb["Index"] = int(kv.get("index") or 0)
                decoded.append({"KV": verb})
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            return text_answer(400, f"Failed to parse body: {error}")
        if now < self.refusing_until:
            errors = [
                {"OpIndex": position, "What": "Permission denied"}
                for position, operation in enumerate(decoded)
                if operation["KV"]["Verb"] not in ("get", "check-session", "check-index", "check-not-exists")
            ]
            return json_answer(409, {"Results": None, "Errors": errors})
        reply = self.txn(now, decoded)
        if reply.status != 200:
            return self._reply(reply)
        results = []
        for operation in decoded:
            kv = operation["KV"]
            entry = self.kv.get(kv["Key"])
            if kv["Verb"] in ("set", "cas", "get") and entry is not None:
                item = _kv_body(kv["Key"], entry)
                if kv["Verb"] != "get":
                    item["Value"] = None
                results.append({"KV": item})
        return json_answer(200, {"Results": results, "Errors": None}, note="written")


# What the face answers, and where each answer was seen or read:
# - tests/integration/test_consul_semantics.py, /work/shared/stack.md (Consul 1.8.7): same value keeps ModifyIndex;
#   a missing key 404 with X-Consul-Index 1, then the store's index; an unknown check's pass 500 `Unknown check`
#   (ACLs) or `does not have associated TTL`; 403 `ACL not found` / `Permission denied`; a txn rolled back 409
#   with Errors at the operation's index; session destroy releases the locks at once.
# - tests/integration/test_consul_cluster.py: during an election KV and session calls answer 500 (no
#   X-Consul-Index), the agent's own calls (a check's pass) work; /v1/status/leader says "" without a leader.
# - Consul's source (agent/http.go setIndex: an index is never 0; state/kvs.go: a key's GET answers the KV
#   table's index, a prefix its latest entry or tombstone; rpc.go blockingQuery: held while the index is <= N,
#   the wait plus wait/16 jitter, 5 min by default, 10 at most; session_endpoint.go: LockDelay 15 s and
#   Checks [serfHealth] unless the body says otherwise, a number below 1000 is seconds; kvs_endpoint.go: a lock
#   is refused (200 false) during the lock-delay that follows a session's invalidation, never after a release;
#   >= 1.11: an unknown check is 404 `Unknown check ID`).
# - A blocking query on an index past the store's (seen before Consul lost its data or before a snapshot restore),
#   measured on 1.8.7's dev agent (helper w323, 2026-12-07): held to the wait's end plus jitter (5.17-5.3 s for 5 s),
#   a write under that index answering nothing (8.04 s for 8 s, a write at 2 s), then the store's lower index; a
#   write past it answers at once. Unchanged in 1.2x (agent/blockingquery/blockingquery.go: answered once the index
#   is past N, else blocked until a change, the timeout, the server's shutdown or the store's abandon).


def _not_allowed(method: str) -> HttpAnswer:
    return text_answer(405, f"method {method} not allowed")


DURATION = re.compile(r"([\d.]+)(ns|us|µs|ms|s|m|h)")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration (`15s`, `1m30s`, `0s`) in seconds; ValueError for anything else but ""."""
    if not text:
        return 0.0
    parts = DURATION.findall(text)
    if "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"time: invalid duration {text!r}")
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


def _lock_delay(value: Any) -> float:
    """A session's LockDelay as Consul's FixupLockDelay reads it: a duration, or a number (below 1000 seconds,
    else nanoseconds)."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float):
        return float(value) if value < 1000 else value / 1e9
    raise ValueError(f"LockDelay {value!r}")


def _fields(body: Any) -> dict[str, Any]:
    """A JSON object's fields by lower-case name (Go's decoder matches names in any case)."""
    if not isinstance(body, dict):
        raise ValueError("the body is not a JSON object")
    return {str(name).lower(): value for name, value in body.items()}


def _optional_int(text: str | None) -> int | None:
    return None if text is None or text == "" else int(text)


def _up_to(name: str, prefix: str, separator: str) -> str:
    """A key as ?keys&separator lists it: cut after the first separator past the prefix."""
    if not separator:
        return name
    position = name.find(separator, len(prefix))
    return name if position < 0 else name[: position + len(separator)]


def _kv_body(key: str, entry: Entry) -> dict[str, Any]:
    """A KV entry as Consul's JSON has it (the value in base64, null when empty)."""
    body: dict[str, Any] = {
        "LockIndex": entry.lock_index,
        "Key": key,
        "Flags": entry.flags,
        "Value": base64.b64encode(entry.value).decode("ascii") if entry.value else None,
        "CreateIndex": entry.create_index,
        "ModifyIndex": entry.modify_index,
    }
    if entry.session:
        body["Session"] = entry.session
    return body
