"""The real gateways (gateways/consul.py through py-consul, gateways/vault.py, gateways/docker.py through http.client)
against the simulated servers, through sim/transport.py on a synchronous clock: the same typed answers as the
integration tests get from Consul 1.8.7, OpenBao 2.7 and dockerd (20.10, and Engine 29 through its front)."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator

import pytest

from gateways.consul import ConsulGateway, Write, consul_client
from gateways.docker import ApiVersions, DockerGateway
from gateways.files import read_text
from gateways.vault import VaultGateway
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
    KeysRead,
    LockAcquired,
    LockBusy,
    SessionChecksRead,
    SessionCreated,
    SessionGone,
    SessionRenewed,
)
from messages.docker import DockerUnreachable, NodeEvent, NodesListed, StreamClosed, StreamQuiet
from messages.vault import VaultState
from neon_cm.credentials import Secret
from neon_cm.docker_api import Chosen
from neon_cm.environment import TlsSettings, consul_access
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY, SETTINGS_PREFIX
from neon_cm.vault import Garbage, HealthRole, NotSent, Rejected, SealStatus, Unreachable, UnreachableKind
from sim.consul import NO_LEADER, CheckFlavour, SimConsul
from sim.docker import SimDocker
from sim.http import HttpRequest, Reach, SimServer
from sim.transport import Latencies, Latency, Link, SimAdapter, SyncClock, sim_sockets
from sim.vault import WRONG_SHARE, SimVault
from tests.vault_model import WRONG_COMBINATION

SHARES = ("a1" * 16 + "01", "b2" * 16 + "02", "c3" * 16 + "03")
LOCK_TIMEOUT = 1.0
#: Latencies of a few milliseconds, no tails.
FAST = Latencies()
#: A server that answers after 2 s: past the lock client's 1 s read timeout, every time.
SLOW = Latencies(serve=Latency(2.0, 2.0))


@pytest.fixture
def clock() -> SyncClock:
    return SyncClock(100.0)


def link(
    server: SimServer, clock: SyncClock, sender: str = "i1", name: str = "consul", latencies: Latencies = FAST
) -> Link:
    return Link(server, clock, random.Random(7), sender, name, latencies=latencies)


def gateway(
    consul: SimConsul,
    clock: SyncClock,
    sender: str = "i1",
    token: str = "",
    timeout: float = LOCK_TIMEOUT,
    latencies: Latencies = FAST,
) -> ConsulGateway:
    """A ConsulGateway built as the service builds its own (consul_client), on the simulated agent."""
    env = {"CONSUL_HTTP_ADDR": "sim-consul:8500", "CONSUL_HTTP_TOKEN": token}
    adapter = SimAdapter(link(consul, clock, sender, latencies=latencies))
    return ConsulGateway(consul_client(consul_access(env, read_text), timeout, adapter))


def holding(consul: SimConsul, clock: SyncClock, owner: str = "i1") -> tuple[ConsulGateway, str]:
    """`owner`'s gateway, its check registered, a session on it holding the lock."""
    mine = gateway(consul, clock, owner)
    assert CheckRegistered() == mine.register_check(f"check-{owner}", "neon-cluster-manager", 3, "notes")
    created = mine.create_session(f"neon-cm {owner}", ["serfHealth", f"check-{owner}"])
    assert isinstance(created, SessionCreated)
    assert LockAcquired() == mine.acquire(LEADER_KEY, owner, created.session)
    return mine, created.session


# ------------------------------------------------------------------------------------------------------ Consul


def test_the_lock_is_acquired_held_and_read(clock: SyncClock) -> None:
    """tests/integration/test_consul_semantics.py's lock: acquired once, busy for another session, the holder
    read back with its session and name; every request recorded as Consul received it, with its sender."""
    consul = SimConsul(CheckFlavour.PLAIN)
    history = link(consul, clock).history
    first, session = holding(consul, clock)
    second = ConsulGateway(
        consul_client(
            consul_access({"CONSUL_HTTP_ADDR": "sim-consul:8500"}, read_text),
            LOCK_TIMEOUT,
            SimAdapter(Link(consul, clock, random.Random(1), "i2", "consul", history)),
        )
    )
    second.register_check("check-i2", "neon-cluster-manager", 3, "notes")
    other = second.create_session("neon-cm i2", ["serfHealth", "check-i2"])

    assert isinstance(other, SessionCreated)
    assert LockBusy() == second.acquire(LEADER_KEY, "i2", other.session)
    assert HolderRead(session, "i1") == second.read_holder(LEADER_KEY)
    assert 0.0 == consul.sessions[session].lock_delay  # the gateway asks for no lock-delay
    assert ["i2"] * 5 == [received.sender for received in history]  # checks, register, session, acquire, read
    assert ("PUT", f"/v1/kv/{LEADER_KEY}", 200) == (history[3].method, history[3].path, history[3].status)
    assert all(100.0 < received.time <= clock.now() for received in history)
    assert first.renew_session(session) == SessionRenewed()


@pytest.mark.parametrize("flavour", list(CheckFlavour))
def test_an_unknown_check_is_gone_whatever_the_consul(clock: SyncClock, flavour: CheckFlavour) -> None:
    """500 `Unknown check` (1.8, ACLs), 500 `does not have associated TTL` (1.8), 404 (>= 1.11): CheckGone."""
    assert isinstance(gateway(SimConsul(flavour), clock).pass_check("gone"), CheckGone)


def test_a_check_passes_and_a_session_destroyed_under_it_is_gone(clock: SyncClock) -> None:
    """/work/shared/stack.md: a session destroyed (`consul session destroy`) releases the lock at once while its
    check stays passing: the pass says nothing, the renewal and the holder read tell."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine, session = holding(consul, clock)
    consul.session_destroy(clock.now(), session)

    assert CheckPassed() == mine.pass_check("check-i1")
    assert SessionGone() == mine.renew_session(session)
    assert HolderRead(None, None) == mine.read_holder(LEADER_KEY)


def test_a_restored_session_whose_check_the_agent_lacks_is_told(clock: SyncClock) -> None:
    """A snapshot restored after the holder's check went critical and was deregistered: the session holds the lock
    again (until the agent's sync); a standby's gateway names the check the agent lacks, nothing while it has it."""
    consul = SimConsul(CheckFlavour.PLAIN)
    _, session = holding(consul, clock)
    standby = gateway(consul, clock, "i2")
    assert CheckRegistered() == standby.register_check("check-i2", "neon-cluster-manager", 3, "notes")
    assert SessionChecksRead(session, ()) == standby.read_session_checks(session, "check-i2")
    saved = consul.snapshot()
    clock.park(clock.now() + 4.0)
    standby.pass_check("check-i2")
    consul.check_deregister(clock.now(), "check-i1")
    consul.restore(clock.now(), saved)

    assert HolderRead(session, "i1") == standby.read_holder(LEADER_KEY)
    assert SessionChecksRead(session, ("check-i1",)) == standby.read_session_checks(session, "check-i2")
    # Its own check not on this agent: which node the session is on cannot be told, nothing is said.
    assert SessionChecksRead(session, ()) == standby.read_session_checks(session, "check-elsewhere")


def test_an_election_is_leaderless_and_the_agents_own_calls_work(clock: SyncClock) -> None:
    """tests/integration/test_consul_cluster.py: KV and session calls answer 500 `No cluster leader` (no index)
    during an election, read as leaderless; a check's pass (the agent's own) works."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine, session = holding(consul, clock)
    consul.election(clock.now(), 10.0, NO_LEADER)

    renewed = mine.renew_session(session)
    assert isinstance(renewed, ConsulUnreachable) and renewed.leaderless
    assert "No cluster leader" in renewed.reason
    read = mine.read_holder(LEADER_KEY)
    assert isinstance(read, ConsulUnreachable) and read.leaderless
    assert CheckPassed() == mine.pass_check("check-i1")


def test_a_fenced_transaction_a_stale_cas_and_a_write(clock: SyncClock) -> None:
    """tests/integration/test_consul_semantics.py: a check-session of a session not holding the lock is
    DefinitionFenced and writes nothing; the holder's write goes through; a stale cas is a DefinitionConflict."""
    consul = SimConsul(CheckFlavour.PLAIN)
    holder, session = holding(consul, clock)
    stranger = gateway(consul, clock, "i2")
    stranger.register_check("check-i2", "neon-cluster-manager", 3, "")
    other = stranger.create_session("i2", ["serfHealth", "check-i2"])
    assert isinstance(other, SessionCreated)

    fenced = stranger.write_definition([Write(DEFINITION_KEY, b"stale", 0)], (LEADER_KEY, other.session))
    written = holder.write_definition([Write(DEFINITION_KEY, b"d", 0), Write(HASH_KEY, b"h", 0)], (LEADER_KEY, session))
    conflict = holder.write_definition([Write(DEFINITION_KEY, b"again", 0)], (LEADER_KEY, session))
    read = holder.read_definition("neon/cluster/")

    assert (DefinitionFenced(), DefinitionWritten(), DefinitionConflict()) == (fenced, written, conflict)
    assert isinstance(read, DefinitionRead)
    assert [(DEFINITION_KEY, b"d"), (HASH_KEY, b"h")] == [(key.key, key.value) for key in read.keys]
    assert read.keys[0].modify_index == read.keys[1].modify_index  # one transaction, one index


def test_a_missing_key_reads_index_1_then_the_stores(clock: SyncClock) -> None:
    """Consul 1.8.7: a missing key answers 404 with X-Consul-Index 1 while the store never held a key."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine = gateway(consul, clock)
    assert KeysRead((), 1) == mine.read_keys(SETTINGS_PREFIX)
    mine.write_key("other/key", "x")
    assert KeysRead((), consul.kv_index) == mine.read_keys(SETTINGS_PREFIX)


def test_a_blocking_query_is_answered_at_a_change_or_when_its_wait_runs_out(clock: SyncClock) -> None:
    """?index=N&wait=30s: held until the prefix changes past N (a write elsewhere does not wake it), or until the
    wait plus up to wait/16 of jitter, then answered with what is there."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine = gateway(consul, clock, timeout=10.0)
    consul.kv_put(clock.now(), SETTINGS_PREFIX + "a", b"1", "setup")
    first = mine.read_keys(SETTINGS_PREFIX)
    assert isinstance(first, KeysRead) and first.index > 1

    start = clock.now()
    clock.at(start + 3, lambda: consul.kv_put(clock.now(), "elsewhere", b"x", "setup"))
    clock.at(start + 5, lambda: consul.kv_put(clock.now(), SETTINGS_PREFIX + "b", b"2", "setup"))
    changed = mine.read_keys(SETTINGS_PREFIX, first.index, 30)
    assert isinstance(changed, KeysRead) and changed.index > first.index
    assert 5 <= clock.now() - start < 5.1
    assert {SETTINGS_PREFIX + "a", SETTINGS_PREFIX + "b"} == {key for key, _ in changed.values}

    start = clock.now()
    same = mine.read_keys(SETTINGS_PREFIX, changed.index, 30)
    assert same == changed
    assert 30 <= clock.now() - start <= 30 + 30 / 16 + 0.1


def test_a_query_on_an_index_past_the_stores_waits_out_its_wait_and_answers_the_lower_index(clock: SyncClock) -> None:
    """Consul 1.8.7 (measured on a dev agent, tests/integration/test_consul_semantics.py): a blocking query whose index
    is past the store's (one seen before Consul restarted without its data, or before a snapshot restore) is held
    until the prefix's index passes it or the wait runs out, a write under that index answering nothing, then
    answered with the store's lower index; a write past it answers it at once."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine = gateway(consul, clock, timeout=10.0)
    consul.kv_put(clock.now(), SETTINGS_PREFIX + "a", b"1", "setup")
    first = mine.read_keys(SETTINGS_PREFIX)
    assert isinstance(first, KeysRead)

    start = clock.now()
    clock.at(start + 2, lambda: consul.kv_put(clock.now(), SETTINGS_PREFIX + "b", b"2", "setup"))
    above = mine.read_keys(SETTINGS_PREFIX, consul.index + 1000, 5)
    assert isinstance(above, KeysRead) and first.index < above.index < first.index + 1000
    assert 5 <= clock.now() - start <= 5 + 5 / 16 + 0.1
    assert {SETTINGS_PREFIX + "a", SETTINGS_PREFIX + "b"} == {key for key, _ in above.values}

    start, past = clock.now(), consul.index + 2

    def write(number: int) -> None:
        consul.kv_put(clock.now(), SETTINGS_PREFIX + "a", b"%d" % number, "setup")

    for number in range(3):  # at past - 1, past, past + 1
        clock.at(start + 1 + number, functools.partial(write, number))
    passed = mine.read_keys(SETTINGS_PREFIX, past, 5)
    assert isinstance(passed, KeysRead) and past < passed.index and (SETTINGS_PREFIX + "a", b"2") in passed.values
    assert 3 <= clock.now() - start < 3.1


def test_a_query_held_at_a_snapshot_restore_is_answered_at_once_from_the_abandoned_store(clock: SyncClock) -> None:
    """Consul 1.8.7 (measured, tests/integration/test_consul_semantics.py): a query held at a snapshot restore is
    answered at once with what the store held before and the index it waited on; a read on that index then waits out
    its wait on the restored store (whose index is lower) and answers the restored values."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine = gateway(consul, clock, timeout=10.0)
    consul.kv_put(clock.now(), SETTINGS_PREFIX + "a", b"1", "setup")
    saved = consul.snapshot()
    consul.kv_put(clock.now(), SETTINGS_PREFIX + "a", b"2", "operator")
    first = mine.read_keys(SETTINGS_PREFIX)
    assert isinstance(first, KeysRead)

    start = clock.now()
    clock.at(start + 2, lambda: consul.restore(clock.now(), saved))
    held = mine.read_keys(SETTINGS_PREFIX, first.index, 20)
    assert held == first
    assert 2 <= clock.now() - start < 2.1

    start = clock.now()
    waited = mine.read_keys(SETTINGS_PREFIX, first.index, 5)
    assert isinstance(waited, KeysRead) and waited.index < first.index
    assert ((SETTINGS_PREFIX + "a", b"1"),) == waited.values
    assert 5 <= clock.now() - start <= 5 + 5 / 16 + 0.1


def blocking_reads(clock: SyncClock, latencies: Latencies) -> list[float]:
    """How long each of 20 blocking reads (py-consul's 10 s timeout, a 30 s wait) on an index the prefix is past took:
    Consul answers each at once, so the time is the transport's alone."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine = gateway(consul, clock, timeout=10.0, latencies=latencies)
    consul.kv_put(clock.now(), SETTINGS_PREFIX + "a", b"1", "setup")
    took = []
    for _ in range(20):
        start = clock.now()
        assert isinstance(mine.read_keys(SETTINGS_PREFIX, 1, 30), KeysRead)
        took.append(clock.now() - start)
    return took


def test_a_slow_consul_is_as_slow_for_a_blocking_query_as_for_any_other(clock: SyncClock) -> None:
    """A slow server's tail (past the client's timeout, some of the time) is drawn against the read timeout less the
    hold py-consul allows a blocking query (its timeout is 10 s + wait + wait/16): an answer Consul gives at once comes
    back at most 1.3 x 10 s later, as any other call's. Drawn against the whole 41.9 s, it came back up to 54 s later
    (long-run seed 323: a settings watch got an answer 32 s old, Consul's data lost and rewritten meanwhile)."""
    took = blocking_reads(clock, Latencies(serve=Latency(tail=1.0)))

    assert max(took) <= 1.3 * 10.0 + 0.1
    assert max(took) > 10.0  # still past the 10 s a call without a hold is allowed, some of the time


def test_a_slow_connect_is_as_slow_for_a_blocking_query_as_for_any_other(clock: SyncClock) -> None:
    """py-consul's one timeout is the connect's too (10 s + wait + wait/16 for a blocking query): a slow connect's
    tail is drawn against it less the hold, as a slow answer's is. Drawn against the whole 41.9 s, a settings watch's
    connect took half a minute after Consul restarted (long-run seed 2165 on 726afc9: cluster setup's settings unread
    for good)."""
    took = blocking_reads(clock, Latencies(connect=Latency(tail=1.0)))

    assert max(took) <= 1.3 * 10.0 + 0.1


def test_index_zero_and_a_missing_index_header(clock: SyncClock) -> None:
    """A proxy answering X-Consul-Index 0 is read as index 0 (what ConsulWatch must not loop on); no header at
    all: py-consul raises `Missing index header`, an outage for the gateway."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine = gateway(consul, clock)
    consul.index_header = "zero"
    assert KeysRead((), 0) == mine.read_keys(SETTINGS_PREFIX)
    consul.index_header = "missing"
    missing = mine.read_keys(SETTINGS_PREFIX)
    assert isinstance(missing, ConsulUnreachable) and "Missing index header" in missing.reason


def test_lock_delay_as_consul_applies_it(clock: SyncClock) -> None:
    """A session created without LockDelay gets Consul's 15 s: once it is invalidated (its check deregistered),
    its lock cannot be taken for 15 s (200 false). An explicit release has no delay. The gateway's sessions ask
    for 0 s: their lock is free at once (issue 26's surviving mutation: lock_delay=0 dropped)."""
    consul = SimConsul(CheckFlavour.PLAIN)
    old = gateway(consul, clock, "old")
    old.register_check("check-old", "neon-cluster-manager", 3, "")
    default_session = old.client.session.create(name="old", checks=["serfHealth", "check-old"])  # no lockdelay
    assert LockAcquired() == old.acquire(LEADER_KEY, "old", default_session)
    consul.check_deregister(clock.now(), "check-old")
    invalidated = clock.now()
    taker = gateway(consul, clock, "i2")
    taker.register_check("check-i2", "neon-cluster-manager", 60, "")
    session = taker.create_session("i2", ["serfHealth", "check-i2"])
    assert isinstance(session, SessionCreated)

    assert LockBusy() == taker.acquire(LEADER_KEY, "i2", session.session)
    clock.park(invalidated + 15.0)
    assert LockAcquired() == taker.acquire(LEADER_KEY, "i2", session.session)

    released = SimConsul(CheckFlavour.PLAIN)
    first = gateway(released, clock, "i1")
    first.register_check("check-i1", "neon-cluster-manager", 60, "")
    slow_session = first.client.session.create(name="i1", checks=["serfHealth", "check-i1"])
    assert LockAcquired() == first.acquire(LEADER_KEY, "i1", slow_session)
    first.release_key(LEADER_KEY, "i1", slow_session)
    holding(released, clock, "i3")  # at once

    quick = SimConsul(CheckFlavour.PLAIN)
    holding(quick, clock, "i1")
    quick.check_deregister(clock.now(), "check-i1")
    holding(quick, clock, "i3")  # at once: the gateway's session had no lock-delay


def test_acl_refusals_are_told_apart(clock: SyncClock) -> None:
    """403 `ACL not found` for a token Consul does not know, `Permission denied` for a policy without the right
    (a transaction's operations refused one by one in a 409, naming the keys); the token is never shown."""
    consul = SimConsul(CheckFlavour.ACL)
    consul.acl_tokens = {"known-token"}
    unknown = gateway(consul, clock, token="secret-unknown").create_session("probe", ["serfHealth"])
    known = gateway(consul, clock, token="known-token")
    consul.refusing_until = clock.now() + 60
    denied = known.create_session("probe", ["serfHealth"])
    refused_write = known.write_definition([Write(DEFINITION_KEY, b"d", 0), Write(HASH_KEY, b"h", 0)])

    assert isinstance(unknown, ConsulRefused) and "ACL not found" in unknown.detail
    assert "secret-unknown" not in unknown.detail
    assert isinstance(denied, ConsulRefused) and "permission denied (403)" in denied.detail
    assert isinstance(refused_write, ConsulRefused) and DEFINITION_KEY in refused_write.detail


def test_down_hung_and_slow_consul(clock: SyncClock) -> None:
    """Down: refused at once. Hung: no answer within the read timeout. Slower than the read timeout: the client
    times out, and Consul has applied the pass all the same (the check's TTL runs from its arrival)."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine, _ = holding(consul, clock)

    consul.outage(clock.now(), 30.0, hung=False)
    start = clock.now()
    refused = mine.pass_check("check-i1")
    assert isinstance(refused, ConsulUnreachable) and "[Errno 111] Connection refused" in refused.reason
    assert clock.now() - start < 0.01

    consul.down_until, consul.hung = clock.now() + 30.0, True
    start = clock.now()
    hung = mine.read_holder(LEADER_KEY)
    assert isinstance(hung, ConsulUnreachable) and "no answer within 1 s" in hung.reason
    assert LOCK_TIMEOUT <= clock.now() - start < LOCK_TIMEOUT + 0.01

    consul.down_until = 0.0
    slow = gateway(consul, clock, latencies=SLOW)
    start = clock.now()
    timed_out = slow.pass_check("check-i1")
    assert isinstance(timed_out, ConsulUnreachable) and "no answer within 1 s" in timed_out.reason
    assert consul.checks["check-i1"].expires == pytest.approx(start + 3.0, abs=0.01)


def test_a_slow_connect_past_the_connect_timeout(clock: SyncClock) -> None:
    """A connect (TCP plus TLS) slower than the timeout: ConnectTimeout; the request never reached Consul."""
    consul = SimConsul(CheckFlavour.PLAIN)
    slow = gateway(consul, clock, latencies=Latencies(connect=Latency(1.5, 1.5)))
    outcome = slow.pass_check("anything")
    assert isinstance(outcome, ConsulUnreachable) and "no answer within 1 s" in outcome.reason
    assert [] == slow.client.http.session.get_adapter("http://sim-consul:8500").link.history


def test_the_agent_leaving_and_a_snapshot_restore_kill_sessions_under_passing_checks(clock: SyncClock) -> None:
    """The session-death faults of issue 26: the agent leaves (serfHealth critical): the session is gone, its
    check still passes, no new session until it is back. A snapshot restored from before the holder's session:
    the session is gone, the check passes, the lock is the snapshot's."""
    consul = SimConsul(CheckFlavour.PLAIN)
    saved = consul.snapshot()
    mine, session = holding(consul, clock)
    consul.agent_leave(clock.now())

    assert CheckPassed() == mine.pass_check("check-i1")
    assert SessionGone() == mine.renew_session(session)
    refused = mine.create_session("again", ["serfHealth", "check-i1"])
    assert isinstance(refused, ConsulUnreachable) and "serfHealth" in refused.reason
    consul.agent_join(clock.now())
    _, session = holding(consul, clock, "i2")

    consul.restore(clock.now(), saved)
    assert CheckPassed() == mine.pass_check("check-i2")
    assert SessionGone() == mine.renew_session(session)
    assert HolderRead(None, None) == mine.read_holder(LEADER_KEY)
    assert [("i2", True), ("i2", False)] == [(event.owner, event.acquired) for event in consul.lock_events[-2:]]


def test_a_partitioned_or_stalled_link(clock: SyncClock) -> None:
    """A partition between one client and Consul: the connect times out; a stalled peer: the read does."""
    consul = SimConsul(CheckFlavour.PLAIN)
    mine = gateway(consul, clock)
    path = mine.client.http.session.get_adapter("http://sim-consul:8500").link
    path.cut_until = clock.now() + 60
    start = clock.now()
    cut = mine.pass_check("c")
    assert isinstance(cut, ConsulUnreachable) and "no answer within 1 s" in cut.reason
    assert 1.0 == pytest.approx(clock.now() - start, abs=0.001)
    path.cut_until, path.stalled_until = 0.0, clock.now() + 60
    stalled = mine.pass_check("c")
    assert isinstance(stalled, ConsulUnreachable) and "no answer within 1 s" in stalled.reason
    assert [] == path.history


def test_the_same_seed_gives_the_same_times(clock: SyncClock) -> None:
    """Latencies (with tails) come from the link's seeded generator: a run again gives the same history."""

    def run() -> list[tuple[float, str, int]]:
        consul, ticking = SimConsul(CheckFlavour.PLAIN), SyncClock(0.0)
        mine = gateway(consul, ticking, latencies=Latencies.with_tails(0.3))
        for _ in range(20):
            mine.register_check("c", "n", 3, "")
            mine.pass_check("c")
        adapter = mine.client.http.session.get_adapter("http://sim-consul:8500")
        return [(received.time, received.path, received.status) for received in adapter.link.history]

    first = run()
    assert first == run()
    assert len(first) < 60  # some tails passed a timeout: fewer requests reached Consul than were sent


def test_the_face_answers_http_as_consul() -> None:
    """Headers and bodies as Consul's: X-Consul-Index and KnownLeader on a query, base64 values, the leader."""
    consul = SimConsul(CheckFlavour.PLAIN)
    put = consul.handle(HttpRequest.of("PUT", "/v1/kv/neon/x", b"v"), 0.0)
    got = consul.handle(HttpRequest.of("GET", "/v1/kv/neon/x"), 0.0)
    keys = consul.handle(HttpRequest.of("GET", "/v1/kv/neon/?keys&separator=/"), 0.0)
    leader = consul.handle(HttpRequest.of("GET", "/v1/status/leader"), 0.0)

    assert not isinstance(put, type(None)) and (200, b"true\n") == (put.status, put.body)  # type: ignore[union-attr]
    assert 200 == got.status and got.header("X-Consul-Knownleader") == "true"  # type: ignore[union-attr]
    assert [{"Key": "neon/x", "Value": "dg==", "Flags": 0}] == [
        {name: item[name] for name in ("Key", "Value", "Flags")}
        for item in got.json()  # type: ignore[union-attr]
    ]
    assert ["neon/x"] == keys.json()  # type: ignore[union-attr]
    assert '"10.0.0.1:8300"' == leader.text.strip()  # type: ignore[union-attr]
    assert Reach.UP is consul.reach(0.0)


# ------------------------------------------------------------------------------------------------------ Vault


@pytest.fixture
def vault() -> SimVault:
    return SimVault("manager-2", SHARES, 2, 0.0)


def vault_gateway(vault: SimVault, clock: SyncClock, latencies: Latencies = FAST) -> VaultGateway:
    adapter = SimAdapter(link(vault, clock, "i1", f"vault:{vault.hostname}", latencies))
    return VaultGateway(f"http://{vault.hostname}:8200", TlsSettings(), adapter, clock.now)


def test_seal_status_shares_and_reset(vault: SimVault, clock: SyncClock) -> None:
    """tests/integration/test_vault_semantics.py: sealed with t=2 and no attempt; a share opens an attempt (a
    nonce), the same again changes nothing, a reset discards it; the threshold unseals; health says the role.
    Each share and reset is recorded as the node received it, by its note, never its value."""
    node = vault_gateway(vault, clock)
    history = node.session.get_adapter(node.url).link.history  # type: ignore[attr-defined]

    sealed = node.seal_status()
    first = node.submit_share(Secret(SHARES[0]))
    again = node.submit_share(Secret(SHARES[0]))
    reset = node.reset()
    node.submit_share(Secret(SHARES[1]))
    last = node.submit_share(Secret(SHARES[2]))

    assert isinstance(sealed, SealStatus) and (True, True, 2, 0, "") == (
        sealed.initialized,
        sealed.sealed,
        sealed.threshold,
        sealed.progress,
        sealed.nonce,
    )
    assert isinstance(first, SealStatus) and 1 == first.progress and first.nonce and first == again
    assert isinstance(reset, SealStatus) and (0, "") == (reset.progress, reset.nonce)
    assert isinstance(last, SealStatus) and not last.sealed
    assert HealthRole("standby") == node.health()
    assert ["share", "share", "reset", "share", "share"] == [r.note for r in history if r.path == "/v1/sys/unseal"]
    assert not any(SHARES[0] in repr(received) for received in history)


def test_wrong_shares_a_short_share_and_garbage(vault: SimVault, clock: SyncClock) -> None:
    """Wrong shares: refused with 400 at the threshold (OpenBao's words); a share of 5 bytes: refused on its own;
    a 503 with a body `null`: Garbage."""
    node = vault_gateway(vault, clock)
    node.submit_share(Secret("d4" * 16 + "04"))
    assert Rejected(WRONG_COMBINATION) == node.submit_share(Secret("e5" * 16 + "05"))
    assert Rejected(WRONG_SHARE) == Rejected(WRONG_COMBINATION)
    short = node.submit_share(Secret("c2hvcnQ="))
    assert isinstance(short, Rejected) and "shorter than minimum 16 bytes" in short.message
    vault.garbage_until = clock.now() + 10
    assert Garbage("seal-status answered HTTP 503 (JSON null)") == node.seal_status()


def test_an_active_node_and_an_uninitialised_one(clock: SyncClock) -> None:
    active = SimVault("manager-1", SHARES, 2, 0.0)
    active.sealed = False
    assert HealthRole("active") == vault_gateway(active, clock).health()
    observed = vault_gateway(active, clock).probe()
    assert VaultState.UNSEALED is observed.state


def test_a_vault_down_or_hung_is_unreachable(vault: SimVault, clock: SyncClock) -> None:
    node = vault_gateway(vault, clock)
    vault.down_until = clock.now() + 10
    down = node.seal_status()
    assert isinstance(down, Unreachable) and UnreachableKind.CONNECT is down.kind
    vault.down_until, vault.hung_until = 0.0, clock.now() + 10
    start = clock.now()
    hung = node.seal_status()
    assert isinstance(hung, Unreachable) and UnreachableKind.TIMEOUT is hung.kind
    assert 3.0 <= clock.now() - start < 3.01  # VAULT_TIMEOUT's read timeout


def test_a_share_whose_deadline_passes_during_a_slow_connect_is_never_sent(vault: SimVault, clock: SyncClock) -> None:
    """Defect 2's guard, on the virtual clock: the body is read once the connection is up, after the deadline."""
    node = vault_gateway(vault, clock, latencies=Latencies(connect=Latency(1.5, 1.5)))
    history = node.session.get_adapter(node.url).link.history  # type: ignore[attr-defined]

    assert isinstance(node.submit_share(Secret(SHARES[0]), not_after=clock.now() + 1.0), NotSent)
    assert [] == history
    assert isinstance(node.submit_share(Secret(SHARES[0]), not_after=clock.now() + 2.0), SealStatus)


def test_a_share_its_client_gave_up_on_never_reaches_the_vault(vault: SimVault, clock: SyncClock) -> None:
    """The world's assumption (design-vault.md, "Nothing on its way when the lock is given up"): a request 4 s on
    its way, past the 3 s read timeout, is a timeout to its client and never reaches the server, then or later."""
    node = vault_gateway(vault, clock, latencies=Latencies(wire=Latency(4.0, 4.0)))
    history = node.session.get_adapter(node.url).link.history  # type: ignore[attr-defined]

    answer = node.submit_share(Secret(SHARES[0]))
    clock.park(clock.now() + 10.0)

    assert isinstance(answer, Unreachable) and UnreachableKind.TIMEOUT is answer.kind
    assert [] == history and [] == vault.attempt


# ------------------------------------------------------------------------------------------------------ Docker


@pytest.fixture
def docker() -> SimDocker:
    return SimDocker(3, 2)


def docker_gateway(docker: SimDocker, clock: SyncClock, versions: ApiVersions | None = None) -> DockerGateway:
    sockets = sim_sockets(link(docker, clock, "i1", "docker"))
    return DockerGateway("tcp://sim-docker:2375", versions=versions, sockets=sockets)


def test_the_swarm_is_listed_on_a_negotiated_version(docker: SimDocker, clock: SyncClock) -> None:
    """Engine 29: the ping says 1.52, the listing goes to /v1.52/nodes; Engine 20.10 speaks 1.41."""
    listed = docker_gateway(docker, clock).nodes()
    assert isinstance(listed, NodesListed) and "1.52" == listed.api_version
    managers = sorted(node.hostname for node in listed.nodes if node.role == "manager")
    assert ["manager-1", "manager-2", "manager-3"] == managers
    docker.engine = "20.10"
    old = docker_gateway(docker, clock).nodes()
    assert isinstance(old, NodesListed) and "1.41" == old.api_version


def test_a_version_the_daemon_refuses_is_negotiated_again(docker: SimDocker, clock: SyncClock) -> None:
    """teststack/engine29.py: 1.41 refused with 400 `client version 1.41 is too old. Minimum supported API version
    is 1.44 ...`; the gateway negotiates again (1.52) and lists."""
    versions = ApiVersions()
    versions.settle(Chosen((1, 41), "negotiated with an Engine 20.10 before it was upgraded"))
    listed = docker_gateway(docker, clock, versions).nodes()
    assert isinstance(listed, NodesListed) and "1.52" == listed.api_version


def test_node_events_stream_and_the_stream_closes(docker: SimDocker, clock: SyncClock) -> None:
    """GET /events streams a line per node event (chunked, as dockerd): a label change, a node added, a node
    removed; closed from the callback, the stream says StreamClosed. Quiet for the read timeout: StreamQuiet."""
    gateway = docker_gateway(docker, clock)
    stream = gateway.node_events()
    seen: list[NodeEvent] = []

    def connected() -> None:
        start = clock.now()
        clock.at(start + 1, lambda: docker.label(clock.now(), 0, "io.neon.compute.cores", "8"))
        clock.at(start + 2, lambda: docker.add_node(clock.now()))
        clock.at(start + 3, lambda: docker.remove_node(clock.now(), 4))

    def changed(event: NodeEvent) -> None:
        seen.append(event)
        if len(seen) == 3:
            stream.close()

    assert StreamClosed() == stream.follow(connected, changed)
    assert [NodeEvent("update", "node01"), NodeEvent("create", "added01"), NodeEvent("remove", "node05")] == seen

    start = clock.now()
    assert StreamQuiet(60.0) == gateway.node_events().follow(lambda: None, lambda event: None)
    assert 60.0 <= clock.now() - start < 60.1


def test_a_hung_or_stopped_daemon(docker: SimDocker, clock: SyncClock) -> None:
    docker.hung_until = clock.now() + 60
    start = clock.now()
    hung = docker_gateway(docker, clock).nodes()
    assert isinstance(hung, DockerUnreachable) and "no answer within 10 s" in hung.reason
    assert 10.0 <= clock.now() - start < 10.1
    docker.hung_until, docker.down_until = 0.0, clock.now() + 60
    down = docker_gateway(docker, clock).nodes()
    assert isinstance(down, DockerUnreachable) and "Connection refused" in down.reason


@pytest.fixture(autouse=True)
def _no_real_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing here may reach a real socket: the transports are the simulator's."""
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a real connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    yield


def test_a_streamed_answer_through_requests(docker: SimDocker, clock: SyncClock) -> None:
    """The adapter's `raw` streams too (not chunked: a read waits for all it asked for, as on a real socket):
    requests' iter_lines gets each event as the daemon sends it, then times out on a quiet stream."""
    import requests

    session = requests.Session()
    session.mount("http://sim-docker", SimAdapter(link(docker, clock, "i1", "docker")))
    clock.at(clock.now() + 1, lambda: docker.label(clock.now(), 1, "k", "v"))
    answer = session.get("http://sim-docker/v1.52/events", stream=True, timeout=(1, 5))
    lines = answer.iter_lines(chunk_size=1)
    assert b'"Action":"update"' in next(lines)
    with pytest.raises(requests.exceptions.ConnectionError):  # quiet past the read timeout
        next(lines)


# ------------------------------------------------------------------------------------------------------ the seam


def test_an_installed_transport_factory_carries_every_gateway_built_without_one(clock: SyncClock) -> None:
    """gateways/transport.py: while a factory is installed, consul_client, VaultGateway and DockerGateway built with
    no adapter or sockets of their own ask it for their transport; once it is put back, the network again."""
    from gateways import transport

    consul, docker, vault = SimConsul(CheckFlavour.NEW), SimDocker(3, 2), SimVault("manager-2", SHARES, 2, 0.0)
    asked: list[tuple[str, str]] = []

    class Factory:
        def adapter_for(self, server: str, base_url: str) -> SimAdapter:
            asked.append((server, base_url))
            return SimAdapter(link(consul if server == "consul" else vault, clock, name=server))

        def sockets_for(self, server: str, host: str) -> object:
            asked.append((server, host))
            return sim_sockets(link(docker, clock, name=server))

    previous = transport.install(Factory())  # type: ignore[arg-type]
    try:
        env = {"CONSUL_HTTP_ADDR": "sim-consul:8500"}
        consul_answer = ConsulGateway(consul_client(consul_access(env, read_text))).read_holder(LEADER_KEY)
        vault_answer = VaultGateway("http://manager-2:8200", TlsSettings()).seal_status()
        docker_answer = DockerGateway("tcp://sim-docker:2375").nodes()
    finally:
        assert transport.install(previous) is not None

    assert isinstance(consul_answer, HolderRead) and isinstance(vault_answer, SealStatus)
    assert isinstance(docker_answer, NodesListed)
    assert [("consul", "http://sim-consul:8500"), ("vault", "http://manager-2:8200")] == asked[:2]
    assert ("docker", "tcp://sim-docker:2375") == asked[2]
    assert DockerGateway("tcp://sim-docker:2375").sockets.__name__ == "real_socket"


def test_a_session_given_a_transport_reads_nothing_from_the_environment(clock: SyncClock) -> None:
    """gateways/transport.mount: a session whose requests go to a simulated server does not merge the process's proxy,
    CA bundle and .netrc settings into each request (the test runner's, not the simulated container's); a session on
    the real network (nothing mounted, as in production) is left as requests makes it."""
    import requests

    from gateways import transport

    simulated, real = requests.Session(), requests.Session()
    transport.mount(
        simulated, "vault", "http://manager-2:8200", SimAdapter(link(SimVault("manager-2", SHARES, 2, 0.0), clock))
    )
    transport.mount(real, "vault", "http://manager-2:8200")

    assert simulated.trust_env is False and isinstance(simulated.get_adapter("http://manager-2:8200/v1"), SimAdapter)
    assert real.trust_env is True and not isinstance(real.get_adapter("http://manager-2:8200/v1"), SimAdapter)
