"""Publishing the cluster definition: when to read it, whether to write it, and what a write's answer means.

While this instance holds the lease, every Swarm listing is checked against the definition in Consul: read
it, rebuild `Nodes`, and write the definition and its hash in one transaction only when the hash differs,
cas on both keys (a concurrent writer makes it decide again once) and fenced by a check-session on the lock
(Consul writes nothing unless our session still holds it). A write is asked for only while `now` is before
the lease's deadline, and the shell carries it out at once.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import attrs

from messages.consul_answers import (
    ConsulRefused,
    ConsulUnreachable,
    DefinitionConflict,
    DefinitionFenced,
    DefinitionRead,
    DefinitionWritten,
)
from messages.definition import DefinitionNotPublished, DefinitionPublished, DefinitionUnchanged
from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.log import Level
from messages.swarm import NodesObserved
from neon_cm.changes import describe_node_changes
from neon_cm.decider import Decision, Publish, log
from neon_cm.definition import LabelProblem
from neon_cm.encoding import DefinitionFormatError, decode_definition, definition_hash
from neon_cm.incremental import DefinitionEncoder, NodesListing
from neon_cm.keys import DEFINITION_KEY, DEFINITION_PREFIX, HASH_KEY, LEADER_KEY, MAX_DEFINITION_BYTES
from neon_cm.lease import NO_LEADER
from neon_cm.outage import Outage

Outcome = DefinitionPublished | DefinitionUnchanged | DefinitionNotPublished


# --------------------------------------------------------------------------- effects: the calls to make


@attrs.frozen
class ReadDefinition:
    """Read every key under the definition's prefix. Answer: DefinitionRead."""

    prefix: str = DEFINITION_PREFIX


@attrs.frozen
class WriteDefinition:
    """Write the definition and its hash in one transaction, each cas on the index read, fenced by the lock's
    session. Answer: DefinitionWritten, DefinitionConflict, DefinitionFenced, ConsulRefused, ConsulUnreachable."""

    value: bytes = attrs.field(repr=lambda value: f"<{len(value)} bytes>")
    hash: str
    definition_index: int
    hash_index: int
    """0: the hash key is missing (cas then creates it only if it still is)."""
    session: str
    """The lock's session: the transaction checks it still holds LEADER_KEY."""


@attrs.frozen
class StoredBase:
    """The stored definition last decoded, and what it was decoded from: its ModifyIndex and a digest of its bytes
    (Consul wiped or restored counts its indexes again: a new base can come back at an index already seen)."""

    index: int
    digest: bytes
    definition: dict[str, Any] = attrs.field(eq=False)
    hash_is_its_own: bool


@attrs.frozen
class Attempt:
    """The listing being published and how far: its read or write is in flight."""

    observed: NodesObserved
    built: NodesListing = attrs.field(eq=False)
    reads: int = 1
    """1 for the first read, 2 after a conflict (the last try until the next listing)."""
    base: dict[str, Any] | None = attrs.field(default=None, eq=False)
    stored_hash: str | None = None
    nodes: int = 0
    compressed: int = 0
    new_hash: str = ""


@attrs.frozen
class Publishing:
    """The publisher's state: the lease as last told, the listing waiting for it, the stored base last decoded."""

    leading: bool = False
    session: str = ""
    """The lock's session while this instance holds it: every write is fenced by it."""
    valid_until: float = 0.0
    """The lease's deadline: no write is asked for at or after it."""
    unhandled: NodesObserved | None = None
    """The last listing heard while not leading (or while an attempt was in flight): acted on when possible."""
    handled: NodesObserved | None = None
    """The last listing acted on: the same listing told again (replayed to a restarted publisher) is acted on once."""
    attempt: Attempt | None = None
    retry: bool = False
    """The last attempt could not reach Consul (an outage, an election), or its read answered past the deadline of
    the lease as last told while no loss was told (a slow read: the extensions told meanwhile wait behind it in the
    shell's inbox): the next LeaseExtended whose deadline is still to come, which comes only once Consul answered
    the lease's read of the lock, acts on the last listing again."""
    stored: StoredBase | None = None
    warned_labels: frozenset[LabelProblem] = frozenset()
    outage: Outage = attrs.field(factory=Outage, eq=False)
    """The failure going on; copied before each change (the state is a value)."""
    missing: Outage = attrs.field(factory=Outage, eq=False)
    """No base definition in Consul: one ERROR, then a reminder every 5 minutes, whatever the listings (every poll
    and node event); copied before each change."""
    duplicates: Outage = attrs.field(factory=lambda: Outage(changes_are_news=True), eq=False)
    """Two nodes sharing a hostname (nothing is published meanwhile): one ERROR, again when the nodes change, then
    a reminder every 5 minutes; copied before each change."""
    encoder: DefinitionEncoder = attrs.field(factory=DefinitionEncoder, eq=False, repr=False)
    """A memo of each node's part and of the last encoding: decisions never depend on it, only their cost."""

    def decide(self, event: object, now: float) -> Decision[Publishing]:
        if isinstance(event, NodesObserved):
            if event is self.handled:
                return self, ()
            if not self.leading or self.attempt is not None:
                return attrs.evolve(self, unhandled=event), ()
            return self.act_on(event, now)
        if isinstance(event, LeaseExtended) and event.session != self.session and event.valid_until > now:
            # Only our Leadership extends a lease, and only while it leads: a session we were not told of means its
            # BecameLeader was lost on the way (or the lease was won again since). It leads: act as if told.
            event = BecameLeader("", event.session, event.valid_until)
        if isinstance(event, BecameLeader):
            # A new session while leading is a restarted Leadership's: the old session is dead, every write on it
            # would be fenced off for good. Take the new one and act on the latest listing.
            if self.leading and event.session == self.session:
                return attrs.evolve(self, valid_until=max(self.valid_until, event.valid_until)), ()
            state = attrs.evolve(self, leading=True, session=event.session, valid_until=event.valid_until)
            latest = self.unhandled or self.handled
            if latest is not None and state.attempt is None:
                return state.act_on(latest, now)
            return state, ()
        if isinstance(event, LeaseExtended):
            if self.leading and event.session == self.session:
                state = attrs.evolve(self, valid_until=max(self.valid_until, event.valid_until))
                # Only a lease still running: extensions queued behind a slow read, already past, would each read
                # again for nothing (the write is decided against the deadline known then).
                if state.retry and state.attempt is None and state.handled is not None and now < state.valid_until:
                    return attrs.evolve(state, retry=False).act_on(state.unhandled or state.handled, now)
                return state, ()
            return self, ()
        if isinstance(event, (LostLeadership, StandingBy)):
            return attrs.evolve(self, leading=False, session="", valid_until=0.0), ()
        if self.attempt is not None:
            return self.answered(event, now)
        return self, ()

    def act_on(self, observed: NodesObserved, now: float) -> Decision[Publishing]:
        built = self.encoder.listing(observed.nodes)
        effects: list[Any] = []
        problems = frozenset(built.label_problems)
        if problems or self.warned_labels:
            for problem in sorted(problems - self.warned_labels, key=LabelProblem.describe):
                effects.append(log(Level.WARN, problem.describe()))
        state = attrs.evolve(self, unhandled=None, handled=observed, warned_labels=problems)
        if not built.nodes:
            # Every node listed is joining (no hostname yet): an empty definition would drop the cluster's nodes.
            return state.not_published(
                "no node of the listing has a hostname yet (joining); nothing written", effects, now, Level.WARN
            )
        if built.duplicates:
            # The same duplicates at every poll: one ERROR, again when they change, then every 5 minutes.
            duplicates = copy.copy(state.duplicates)
            reason = "; ".join(duplicate.describe() for duplicate in built.duplicates)
            said = [log(Level.ERROR, reason)] if duplicates.failed(reason, now) else []
            return attrs.evolve(state, duplicates=duplicates).finish(
                DefinitionNotPublished(reason), [*effects, *said], now
            )
        if state.duplicates.problem is not None:
            duplicates = copy.copy(state.duplicates)
            duplicates.succeeded()
            state = attrs.evolve(state, duplicates=duplicates)
            effects.append(log(Level.INFO, "no two nodes share a hostname any more; publishing"))
        return attrs.evolve(state, attempt=Attempt(observed, built)), (*effects, ReadDefinition())

    def finish(self, outcome: Outcome, effects: list[Any], now: float, answered: bool = True) -> Decision[Publishing]:
        """The attempt is over: tell its outcome (and, if Consul `answered` it all, that an outage ended); a
        listing that came meanwhile is acted on next."""
        state, ended = self.recovery() if answered else (self, [])
        state = attrs.evolve(state, attempt=None, retry=False)
        effects = [*effects, *ended, Publish(outcome)]
        if state.unhandled is not None and state.leading:
            state, more = state.act_on(state.unhandled, now)
            effects += more
        return state, tuple(effects)

    def not_published(
        self, reason: str, effects: list[Any], now: float, level: Level = Level.ERROR
    ) -> Decision[Publishing]:
        return self.finish(DefinitionNotPublished(reason), [*effects, log(level, reason)], now)

    def answered(self, answer: object, now: float) -> Decision[Publishing]:
        if isinstance(answer, DefinitionRead):
            return self.read(answer, now)
        if isinstance(answer, DefinitionWritten):
            return self.written(now)
        if isinstance(answer, DefinitionConflict):
            assert self.attempt is not None
            if self.attempt.reads < 2:
                # Someone wrote in between (cluster setup, another instance): decide again on fresh data.
                return attrs.evolve(self, attempt=attrs.evolve(self.attempt, reads=2)), (ReadDefinition(),)
            return self.not_published(
                f"{DEFINITION_PREFIX}* changed while publishing; trying again at the next poll", [], now, Level.WARN
            )
        if isinstance(answer, DefinitionFenced):
            # Consul applied nothing: our session no longer held the lock when the transaction reached it.
            return self.not_published(
                f"fenced: this instance no longer holds {LEADER_KEY}; nothing written", [], now, Level.WARN
            )
        if isinstance(answer, ConsulRefused):
            # Not an outage of Consul: one ERROR, then every 5 minutes.
            detail = answer.detail if answer.step.startswith("writing") else f"{answer.detail} ({answer.step})"
            outage = copy.copy(self.outage)
            effects = [log(Level.ERROR, f"cannot publish the cluster definition: {detail}")]
            state = attrs.evolve(self, outage=outage)
            return state.finish(
                DefinitionNotPublished(detail), effects if outage.failed("permission", now) else [], now, answered=False
            )
        if isinstance(answer, ConsulUnreachable):
            outage = copy.copy(self.outage)
            what = f"{NO_LEADER}: cannot publish" if answer.leaderless else "cannot reach Consul to publish"
            said = [log(Level.ERROR, f"{what} the cluster definition", answer.reason)]
            state, told = attrs.evolve(self, outage=outage).finish(
                DefinitionNotPublished(f"Consul: {answer.reason}"),
                said if outage.failed("consul", now) else [],
                now,
                answered=False,
            )
            return (state, told) if state.attempt is not None else (attrs.evolve(state, retry=True), told)
        return self, ()

    def recovery(self) -> tuple[Publishing, list[Any]]:
        """Consul answered: the state without the outage going on, and the line saying it ended (if one did)."""
        if self.outage.problem is None:
            return self, []
        outage = copy.copy(self.outage)
        ended = outage.succeeded()
        text = "Consul allows publishing again" if ended == "permission" else "reaching Consul again"
        return attrs.evolve(self, outage=outage), [log(Level.INFO, text)]

    def decoded(self, item_index: int, value: bytes) -> tuple[Publishing, dict[str, Any], bool]:
        """The stored definition and whether its embedded hash is its own, decoded once per stored value.
        DefinitionFormatError when it cannot be read."""
        digest = hashlib.sha256(value).digest()
        if self.stored is not None and self.stored.index == item_index and self.stored.digest == digest:
            return self, self.stored.definition, self.stored.hash_is_its_own
        definition = decode_definition(value)
        try:
            own = definition.get("Hash") == definition_hash(definition)
        except (ValueError, RecursionError):
            own = False  # it cannot be written back as JSON either: the encoding says why
        stored = StoredBase(item_index, digest, definition, own)
        return attrs.evolve(self, stored=stored), definition, own

    def read(self, answer: DefinitionRead, now: float) -> Decision[Publishing]:
        """GET answered: decide whether to write, and write only while the lease lasts."""
        state, effects = self, list[Any]()
        attempt = state.attempt
        assert attempt is not None
        item = answer.get(DEFINITION_KEY)
        missing = copy.copy(state.missing)
        if item is None or item.value is None:
            text = (
                f"no cluster definition at {DEFINITION_KEY}: publish cluster setup's base definition with "
                f"`neon-cluster-manager definition put FILE`; nothing is written until then (said again every "
                f"{missing.reminder_seconds / 60:g} minutes)"
            )
            said = [log(Level.ERROR, text)] if missing.failed("missing", now) else []
            outcome = DefinitionNotPublished(text, missing_base=DEFINITION_KEY)
            return attrs.evolve(state, missing=missing).finish(outcome, [*effects, *said], now)
        if missing.succeeded() is not None:
            effects.append(log(Level.INFO, f"a base definition is at {DEFINITION_KEY} now; publishing"))
            state = attrs.evolve(state, missing=missing)
        try:
            state, base, hash_is_its_own = state.decoded(item.modify_index, item.value)
        except DefinitionFormatError as error:
            return state.not_published(
                f"{DEFINITION_KEY} is unreadable: {error}; left as it is, nothing written", effects, now
            )
        hash_item = answer.get(HASH_KEY)
        stored_hash = (hash_item.value or b"").decode("ascii", errors="replace") if hash_item else None
        try:
            encoded = state.encoder.encode(base, attempt.built)
        except (ValueError, RecursionError) as error:  # e.g. a lone surrogate in a string: JSON, not UTF-8
            reason = "nested too deep" if isinstance(error, RecursionError) else str(error)[:200]
            return state.not_published(
                f"{DEFINITION_KEY} cannot be written back as JSON ({reason}); left as it is", effects, now
            )
        new_hash = encoded.hash
        if new_hash == stored_hash and hash_is_its_own and base.get("Hash") == new_hash:
            effects.append(log(Level.DEBUG, f"definition unchanged (hash {new_hash})"))
            return state.finish(DefinitionUnchanged(new_hash, len(item.value)), effects, now)
        value = encoded.deflated()  # only now: most polls find the hash unchanged
        if len(value) > MAX_DEFINITION_BYTES:
            return state.not_published(
                f"the definition is {len(value)} bytes compressed, over the {MAX_DEFINITION_BYTES} bytes a Consul "
                "transaction can carry (512 KiB of base64); the previous one stays",
                effects,
                now,
            )
        if not (state.leading and now < state.valid_until):
            # The lease ran out (or was lost) while the definition was read: another instance may hold the lock.
            # Still leading as far as told, the lease may have been extended meanwhile (the extensions wait in the
            # inbox behind this read): the next one still running tries the listing again (long-run seed 10856:
            # dropped, it waited for a listing that a hung Docker never made).
            state, told = state.not_published(
                f"the lease on {LEADER_KEY} ended before the write; nothing written", effects, now, Level.WARN
            )
            return (attrs.evolve(state, retry=True) if state.leading and state.attempt is None else state), told
        attempt = attrs.evolve(
            attempt,
            base=base,
            stored_hash=stored_hash,
            nodes=len(attempt.built.nodes),
            compressed=len(value),
            new_hash=new_hash,
        )
        write = WriteDefinition(
            value, new_hash, item.modify_index, hash_item.modify_index if hash_item else 0, state.session
        )
        return attrs.evolve(state, attempt=attempt), (*effects, write)

    def written(self, now: float) -> Decision[Publishing]:
        state, effects = self, list[Any]()
        attempt = state.attempt
        assert attempt is not None and attempt.base is not None
        was = f"was {attempt.stored_hash[:60]}" if attempt.stored_hash else "none before"
        effects.append(
            log(
                Level.INFO,
                f"published the cluster definition: {attempt.nodes} nodes, hash {attempt.new_hash} ({was}), "
                f"{attempt.compressed} bytes; {describe_node_changes(attempt.base.get('Nodes'), attempt.built.nodes)}",
            )
        )
        outcome = DefinitionPublished(attempt.new_hash, attempt.stored_hash, attempt.nodes, attempt.compressed)
        return state.finish(outcome, effects, now)
