"""The Publishing decider: when the definition is read and written, the fence and the lease's deadline, the
cache of the decoded base, refusals and outages; defects 3 and 7 of the old DefinitionPublisher."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from messages.consul_answers import (
    ConsulRefused,
    ConsulUnreachable,
    DefinitionConflict,
    DefinitionFenced,
    DefinitionRead,
    DefinitionWritten,
    StoredKey,
)
from messages.definition import DefinitionNotPublished, DefinitionPublished, DefinitionUnchanged
from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.log import Level
from messages.swarm import NodesObserved, SwarmNode
from neon_cm.decider import Log, Publish
from neon_cm.encoding import decode_definition, deflate
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY
from neon_cm.publishing import Publishing, ReadDefinition, WriteDefinition

BASE: dict[str, Any] = {"Name": "unit", "Schema": "1.0", "Datacenter": "dc1", "Nodes": {}, "Hash": None}
SWARM = NodesObserved((SwarmNode("id1", "manager-1", "manager", "10.0.0.1", "10.0.0.1", {}, 3),))
LATER = NodesObserved((*SWARM.nodes, SwarmNode("id2", "worker-1", "worker", "10.0.0.2", "", {}, 4)))


def stored(base: dict[str, Any] = BASE, index: int = 5, hash_: bytes | None = None) -> DefinitionRead:
    """What GET ?recurse answers with cluster setup's base at `index` (and a hash key when given)."""
    keys = [StoredKey(DEFINITION_KEY, index, deflate(json.dumps(base).encode()))]
    if hash_ is not None:
        keys.append(StoredKey(HASH_KEY, index, hash_))
    return DefinitionRead(tuple(keys))


def published(effects: tuple[Any, ...]) -> list[Any]:
    return [effect.message for effect in effects if isinstance(effect, Publish)]


def lines(effects: tuple[Any, ...], level: Level | None = None) -> list[str]:
    return [effect.text for effect in effects if isinstance(effect, Log) and level in (None, effect.level)]


def writes(effects: tuple[Any, ...]) -> list[WriteDefinition]:
    return [effect for effect in effects if isinstance(effect, WriteDefinition)]


def leading(session: str = "s1", until: float = 100.0) -> Publishing:
    return Publishing().decide(BecameLeader("me", session, until), 0.0)[0]


def test_a_listing_heard_without_the_lock_is_published_once_the_lock_is_won() -> None:
    """Not leading: nothing is read. BecameLeader: the last listing is acted on at once (read, then a write cas
    on both keys and fenced by the session); the write's answer is logged and told."""
    state, before = Publishing().decide(SWARM, 1.0)
    state, effects = state.decide(BecameLeader("me", "s1", 10.0), 1.0)
    assert [ReadDefinition()] == list(effects)
    state, effects = state.decide(stored(), 1.1)
    (write,) = writes(effects)
    state, effects = state.decide(DefinitionWritten(), 1.2)

    assert () == before
    assert (5, 0, "s1") == (write.definition_index, write.hash_index, write.session)
    assert ["manager-1"] == list(decode_definition(write.value)["Nodes"])
    assert [DefinitionPublished(write.hash, None, 1, len(write.value))] == published(effects)
    assert lines(effects, Level.INFO)[0].startswith("published the cluster definition: 1 nodes, hash ")


def test_an_unchanged_definition_is_not_written() -> None:
    """The stored hash is the new one: DefinitionUnchanged, no write."""
    state, _ = leading().decide(SWARM, 1.0)
    state, effects = state.decide(stored(), 1.1)
    (write,) = writes(effects)
    state, _ = state.decide(DefinitionWritten(), 1.2)
    written = DefinitionRead((StoredKey(DEFINITION_KEY, 6, write.value), StoredKey(HASH_KEY, 6, write.hash.encode())))
    state, _ = state.decide(LATER, 2.0)
    state, _ = state.decide(ConsulUnreachable("reading", "Timeout: slow"), 2.1)
    state, effects = state.decide(SWARM, 3.0)
    state, effects = state.decide(written, 3.1)

    assert [] == writes(effects)
    assert [DefinitionUnchanged(write.hash, len(write.value))] == published(effects)


def test_a_write_is_asked_for_only_before_the_lease_deadline() -> None:
    """The read answered at or after the deadline: nothing written (another instance may hold the lock by then);
    LeaseExtended moves the deadline on."""
    state, _ = leading(until=10.0).decide(SWARM, 9.0)
    state, late = state.decide(stored(), 10.0)
    state, _ = state.decide(LeaseExtended("s1", 12.0), 10.1)
    state, _ = state.decide(LATER, 10.2)
    state, effects = state.decide(stored(), 11.9)

    assert [] == writes(late)
    assert [f"the lease on {LEADER_KEY} ended before the write; nothing written"] == lines(late, Level.WARN)
    assert 1 == len(writes(effects))


def test_a_new_session_while_leading_is_taken_and_the_latest_listing_published() -> None:
    """Defect 3: a restarted Leadership wins the lock with a new session while the publisher still leads on the
    old one; it takes the new session and acts on the latest listing (the old publisher ignored BecameLeader
    while leading, so every write stayed fenced off for good)."""
    state, _ = leading("s1").decide(SWARM, 1.0)
    state, _ = state.decide(stored(), 1.1)
    state, _ = state.decide(DefinitionFenced(), 1.2)
    state, effects = state.decide(BecameLeader("me", "s2", 20.0), 2.0)
    assert [ReadDefinition()] == list(effects)
    state, effects = state.decide(stored(), 2.1)

    assert ["s2"] == [write.session for write in writes(effects)]


def test_a_fenced_write_says_so_and_writes_nothing() -> None:
    """Consul rolled the transaction back on the check-session: one WARN, NotPublished."""
    state, _ = leading().decide(SWARM, 1.0)
    state, _ = state.decide(stored(), 1.1)
    state, effects = state.decide(DefinitionFenced(), 1.2)

    reason = f"fenced: this instance no longer holds {LEADER_KEY}; nothing written"
    assert [reason] == lines(effects, Level.WARN)
    assert [DefinitionNotPublished(reason)] == published(effects)


def test_a_conflict_is_decided_again_once() -> None:
    """A stale cas: read again and decide on fresh data; a second conflict waits for the next listing."""
    state, _ = leading().decide(SWARM, 1.0)
    state, _ = state.decide(stored(), 1.1)
    state, effects = state.decide(DefinitionConflict(), 1.2)
    assert [ReadDefinition()] == list(effects)
    state, effects = state.decide(stored(index=7), 1.3)
    assert 7 == writes(effects)[0].definition_index
    state, effects = state.decide(DefinitionConflict(), 1.4)

    assert ["neon/cluster/definition.* changed while publishing; trying again at the next poll"] == lines(effects)


def test_a_new_base_at_a_reused_index_is_decoded() -> None:
    """Defect 7: Consul wiped (or restored) counts its indexes again; cluster setup's new base lands at an index
    the old base had. Its bytes differ, so it is decoded: the new base's Name is written, not the old one's
    (the old publisher cached the decoded base by ModifyIndex alone and wrote the old base back)."""
    state, _ = leading().decide(SWARM, 1.0)
    state, _ = state.decide(stored(BASE, index=12), 1.1)
    state, _ = state.decide(DefinitionWritten(), 1.2)
    state, _ = state.decide(LATER, 2.0)
    state, effects = state.decide(stored({**BASE, "Name": "restored"}, index=12), 2.1)

    assert ["restored"] == [decode_definition(write.value)["Name"] for write in writes(effects)]


def test_refusals_and_outages_are_one_line_and_a_reminder() -> None:
    """A refused write: one ERROR naming the keys, again after 5 minutes, INFO when Consul allows it again;
    an unreachable Consul likewise: one ERROR, INFO when it answers again."""
    detail = f"permission denied (403) writing {DEFINITION_KEY}, {HASH_KEY}: no"
    refusal = ConsulRefused(f"writing {DEFINITION_KEY}, {HASH_KEY}", detail)
    outage = ConsulUnreachable(f"reading {DEFINITION_KEY}", "ConnectionError: refused")
    said: list[str] = []
    state = leading(until=10_000.0)
    for round_, (now, read, write) in enumerate(
        (
            (1.0, stored(), refusal),
            (2.0, stored(), refusal),
            (302.0, stored(), refusal),
            (302.5, stored(), DefinitionWritten()),
            (303.0, outage, None),
            (304.0, outage, None),
            (305.0, stored(), DefinitionWritten()),
        )
    ):
        state, _ = state.decide(LATER if round_ % 2 else SWARM, now)
        state, effects = state.decide(read, now)
        if write is not None:
            state, more = state.decide(write, now)
            effects += more
        said += [line for line in lines(effects) if not line.startswith("published")]

    refused = f"cannot publish the cluster definition: {detail}"
    assert [
        refused,
        refused,
        "Consul allows publishing again",
        "cannot reach Consul to publish the cluster definition",
        "reaching Consul again",
    ] == said


def test_a_missing_or_unreadable_base_is_not_written_over() -> None:
    """No definition key: ERROR, nothing written; an unreadable one: ERROR naming it, left as it is."""
    state, _ = leading().decide(SWARM, 1.0)
    state, missing = state.decide(DefinitionRead(()), 1.1)
    state, _ = state.decide(LATER, 2.0)
    state, unreadable = state.decide(DefinitionRead((StoredKey(DEFINITION_KEY, 3, b"not deflate"),)), 2.1)

    assert [] == writes(missing) + writes(unreadable)
    assert lines(missing, Level.ERROR)[0].startswith(f"no cluster definition at {DEFINITION_KEY}")
    assert lines(unreadable, Level.ERROR)[0].startswith(f"{DEFINITION_KEY} is unreadable")


def test_a_missing_base_is_one_error_naming_definition_put_then_a_reminder_every_5_minutes() -> None:
    """Every poll and node event finds no base definition: one ERROR naming `definition put`, the next only 5
    minutes later, each listing told it is missing (for `health`); one INFO once it is there."""
    said: list[str] = []
    outcomes: list[Any] = []
    state = leading(until=10_000.0)
    for round_, now in enumerate((1.0, 2.0, 30.0, 299.0, 302.0, 303.0)):
        state, effects = state.decide(LATER if round_ % 2 else SWARM, now)
        state, more = state.decide(DefinitionRead(()), now)
        said += lines((*effects, *more))
        outcomes += published((*effects, *more))
    state, _ = state.decide(LATER if len(said) % 2 else SWARM, 304.0)
    state, found = state.decide(stored(), 304.1)

    error = (
        f"no cluster definition at {DEFINITION_KEY}: publish cluster setup's base definition with "
        "`neon-cluster-manager definition put FILE`; nothing is written until then (said again every 5 minutes)"
    )
    assert [error, error] == said
    assert [DEFINITION_KEY] * 6 == [outcome.missing_base for outcome in outcomes]
    assert [f"a base definition is at {DEFINITION_KEY} now; publishing"] == lines(found, Level.INFO)


class PublishingMachine(RuleBasedStateMachine):
    """Leadership messages, listings and Consul's answers in any order: every write is asked for while leading,
    before the deadline of the latest lease, with the latest session; one call at most in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.state = Publishing()
        self.in_flight: Any = None
        self.session: str | None = None
        self.valid_until = 0.0
        self.sessions = 0

    def apply(self, event: Any) -> None:
        self.state, effects = self.state.decide(event, self.now)
        for effect in effects:
            if isinstance(effect, (ReadDefinition, WriteDefinition)):
                assert self.in_flight is None
                self.in_flight = effect
            if isinstance(effect, WriteDefinition):
                assert self.session is not None and self.now < self.valid_until
                assert self.session == effect.session

    @rule(seconds=st.sampled_from([0.1, 0.7, 2.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule(new_session=st.booleans())
    def became_leader(self, new_session: bool) -> None:
        if new_session or self.session is None:
            self.sessions += 1
        self.session, self.valid_until = f"s{self.sessions}", self.now + 2.0
        self.apply(BecameLeader("me", self.session, self.valid_until))

    @precondition(lambda self: self.session is not None)
    @rule()
    def lease_extended(self) -> None:
        assert self.session is not None
        self.valid_until = self.now + 2.0
        self.apply(LeaseExtended(self.session, self.valid_until))

    @rule(standby=st.booleans())
    def lost(self, standby: bool) -> None:
        self.session = None
        self.apply(StandingBy("other") if standby else LostLeadership("gone"))

    @rule(later=st.booleans())
    def listing(self, later: bool) -> None:
        self.apply(NodesObserved((LATER if later else SWARM).nodes))

    @precondition(lambda self: self.in_flight is not None)
    @rule(data=st.data())
    def consul_answers(self, data: st.DataObject) -> None:
        call, self.in_flight = self.in_flight, None
        failures = [ConsulUnreachable("x", "Timeout: slow"), ConsulRefused("x", "permission denied (403): no")]
        if isinstance(call, ReadDefinition):
            answers = [stored(index=data.draw(st.integers(1, 3))), DefinitionRead(()), *failures]
        else:
            answers = [DefinitionWritten(), DefinitionConflict(), DefinitionFenced(), *failures]
        self.apply(data.draw(st.sampled_from(answers)))

    @invariant()
    def an_attempt_means_a_call_in_flight(self) -> None:
        assert (self.state.attempt is None) == (self.in_flight is None)


TestPublishingMachine = PublishingMachine.TestCase
TestPublishingMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)


def test_a_publish_that_could_not_reach_consul_is_tried_again_at_the_next_lease_extension() -> None:
    """Issue 27: a label change heard during a Consul election failed (500 rpc error making call) and waited for
    the next listing (15-20 s). The lease is extended only after Consul answered a read of the lock, so the next
    extension (within a second of the new leader) tries the failed listing again, once."""
    state, _ = leading().decide(LATER, 1.0)
    state, effects = state.decide(ConsulUnreachable("reading", "ConsulException: 500 No cluster leader"), 1.1)
    assert [] == [effect for effect in effects if isinstance(effect, ReadDefinition)]
    state, effects = state.decide(LeaseExtended("s1", 100.0), 2.0)
    assert [ReadDefinition()] == [effect for effect in effects if isinstance(effect, ReadDefinition)]
    state, effects = state.decide(stored(), 2.1)
    (write,) = writes(effects)
    state, effects = state.decide(DefinitionWritten(), 2.2)
    state, again = state.decide(LeaseExtended("s1", 100.0), 3.0)

    assert ["manager-1", "worker-1"] == list(decode_definition(write.value)["Nodes"])
    assert () == again


def test_a_listing_read_past_the_lease_it_knew_is_published_at_the_next_lease_extension_still_running() -> None:
    """Long-run seed 10856: the read of the definition answered 9.7 s late (a slow connect), past the deadline of
    the lease the publisher knew: the LeaseExtended told meanwhile waited in its inbox behind that read. Nothing may
    be written on that view, but the listing is not dropped either: with the holder's Docker hung from then on, no
    other listing came, and the definition stayed unwritten for 29 s though the lease never lapsed. The first
    LeaseExtended whose deadline is still to come acts on it again (those queued behind the read, already past,
    only move the deadline)."""
    state, _ = leading(until=2.0).decide(SWARM, 0.2)
    state, late = state.decide(stored(), 9.87)
    state, stale = state.decide(LeaseExtended("s1", 3.2), 9.871)
    state, effects = state.decide(LeaseExtended("s1", 11.2), 9.872)
    assert [ReadDefinition()] == [effect for effect in effects if isinstance(effect, ReadDefinition)]
    state, effects = state.decide(stored(), 9.88)
    (write,) = writes(effects)
    state, effects = state.decide(DefinitionWritten(), 9.89)
    state, again = state.decide(LeaseExtended("s1", 12.2), 10.2)

    assert [] == writes(late)
    assert [f"the lease on {LEADER_KEY} ended before the write; nothing written"] == lines(late, Level.WARN)
    assert () == stale
    assert ["manager-1"] == list(decode_definition(write.value)["Nodes"])
    assert () == again


def test_a_listing_read_past_the_lease_is_not_tried_again_once_the_lease_is_lost() -> None:
    """The lease really ended (LostLeadership): nothing is read until the next BecameLeader, which acts on the
    latest listing once, as always."""
    state, _ = leading(until=2.0).decide(SWARM, 0.2)
    state, _ = state.decide(stored(), 2.5)
    state, lost = state.decide(LostLeadership("its lease ran out"), 2.6)
    state, effects = state.decide(BecameLeader("me", "s2", 6.0), 4.0)
    state, _ = state.decide(stored(), 4.1)
    state, _ = state.decide(DefinitionWritten(), 4.2)
    state, again = state.decide(LeaseExtended("s2", 7.0), 5.0)

    assert () == lost
    assert [ReadDefinition()] == list(effects)
    assert () == again


def test_two_nodes_with_one_hostname_are_said_once_then_every_5_minutes_and_their_end_is_said() -> None:
    twins = NodesObserved((*SWARM.nodes, SwarmNode("id9", "MANAGER-1", "worker", "10.0.0.9", "", {}, 7)))
    state, said = leading(until=10_000.0), []
    for now in (1.0, 31.0, 61.0, 301.0, 331.0):  # every poll lists the same twins
        state, effects = state.decide(NodesObserved(twins.nodes, now), now)
        assert [] == writes(effects) and isinstance(published(effects)[0], DefinitionNotPublished)
        said += [(now, line) for line in lines(effects, Level.ERROR)]
    assert [1.0, 301.0] == [now for now, _ in said]
    assert "id1, id9 all have the hostname manager-1" in said[0][1]

    thrice = NodesObserved((*twins.nodes, SwarmNode("id8", "manager-1", "worker", "10.0.0.8", "", {}, 8)), 340.0)
    state, effects = state.decide(thrice, 340.0)  # another twin: news
    assert ["id1, id8, id9"] == [line.split(" all ")[0].removeprefix("nodes ") for line in lines(effects, Level.ERROR)]

    state, effects = state.decide(NodesObserved(SWARM.nodes, 370.0), 370.0)  # renamed: publishing again
    assert ["no two nodes share a hostname any more; publishing"] == lines(effects, Level.INFO)
    assert [ReadDefinition()] == [effect for effect in effects if isinstance(effect, ReadDefinition)]


def test_a_listing_with_no_node_named_yet_writes_nothing() -> None:
    """Nodes without a hostname yet (joining) are left out of the definition; a listing of only such nodes would be an
    empty definition: nothing is read or written, a WARN says why, and the next listing is acted on as usual."""
    unnamed = NodesObserved((SwarmNode("id7", "", "worker", "10.0.0.7", "", {}, 2),), 1.0)

    state, effects = leading().decide(unnamed, 1.0)

    assert [] == [effect for effect in effects if isinstance(effect, (ReadDefinition, WriteDefinition))]
    assert ["no node of the listing has a hostname yet (joining); nothing written"] == lines(effects, Level.WARN)
    _, effects = state.decide(NodesObserved(SWARM.nodes, 2.0), 2.0)
    assert [ReadDefinition()] == [effect for effect in effects if isinstance(effect, ReadDefinition)]
