"""The Unsealer's decisions: whether to unseal a node, and each next step of its attempt, every share checked
against this instance's lease on the lock at the moment it is decided and again when it goes out."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import attrs

from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.log import Level
from messages.vault import MonitoringStopped, UnsealFinished, UnsealRequested, VaultObserved, VaultState
from neon_cm.booleans import parse_switch, switch_text
from neon_cm.decider import CancelTimer, Decision, Publish, StartTimer, TimerFired, log, timer_key, timer_of
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY
from neon_cm.monitoring import REMINDER_SECONDS
from neon_cm.vault import FOLLOWER_WAIT_SECONDS, Garbage, NotSent, Rejected, SealStatus, Unreachable, UnsealAnswer

FOLLOWER_POLL_SECONDS = 0.25
#: How often, within one attempt, another client may discard our progress before we leave the node alone.
INTERFERENCE_LIMIT = 2
#: While the switch cannot be read, its ERROR is repeated this often.
SWITCH_REMINDER_SECONDS = 300.0
#: Timer keys.
LEASE = "lease"


#: The kind of the timer that polls a raft follower finishing its unseal (one per node: timer_key).
FOLLOWER = "follower"


def follower_timer(hostname: str) -> str:
    return timer_key(FOLLOWER, hostname)


# ------------------------------------------------------------------------------------------------ events


@attrs.frozen
class SwitchRead:
    """Event: `neon/cluster/disable-auto-unseal` read for the request of `hostname` (None: the key is missing)."""

    hostname: str
    url: str
    text: str | None


@attrs.frozen
class SwitchUnreadable:
    """Event: the switch could not be read (Consul down, or no read right)."""

    hostname: str
    url: str
    error: str
    """`Type: reason`, as errors.describe says it."""


@attrs.frozen
class VaultAnswered:
    """Event: a node's worker carried out a call of attempt `attempt`; this is the Vault gateway's answer."""

    hostname: str
    attempt: int
    answer: UnsealAnswer


# ------------------------------------------------------------------------------------------------ effects


@attrs.frozen
class ReadSwitch:
    """Effect: GET /v1/kv/neon/cluster/disable-auto-unseal; answer SwitchRead or SwitchUnreadable."""

    hostname: str
    url: str


@attrs.frozen
class ReadSealStatus:
    """Effect (by the node's worker): GET /v1/sys/seal-status; answer VaultAnswered."""

    hostname: str
    url: str
    attempt: int


@attrs.frozen
class SubmitShare:
    """Effect (by the node's worker): PUT /v1/sys/unseal with the share at `index` of the credentials, unless
    the attempt was cancelled or `not_after` has come by the moment it would go out (then NotSent)."""

    hostname: str
    url: str
    attempt: int
    index: int
    not_after: float
    """The lease's deadline (monotonic seconds) when the share was decided."""


@attrs.frozen
class ResetProgress:
    """Effect (by the node's worker): PUT /v1/sys/unseal {"reset": true}, under the same conditions as a share."""

    hostname: str
    url: str
    attempt: int
    not_after: float


@attrs.frozen
class CancelAttempt:
    """Effect: the node's worker sends nothing more for `attempt` (a request already on the wire completes)."""

    hostname: str
    attempt: int


@attrs.frozen
class AnswerMonitor:
    """Effect: tell the node's monitor, by name, how its request ended."""

    finished: UnsealFinished


# ------------------------------------------------------------------------------------------------ state


@attrs.frozen
class Refusal:
    """Why no combination of shares is tried on a node."""

    reason: str
    start_over: bool = False
    """Every combination was refused: forget them, so the next attempt starts again at the first."""


@attrs.frozen
class Attempt:
    """One node's attempt: the shares it means to give and what Vault said last."""

    number: int
    """Unique within this Unsealer: an answer for another number is stale (a cancelled attempt's)."""
    url: str
    subset: tuple[int, ...] = ()
    """The credentials' share indexes tried together (as many as Vault's threshold); () until known."""
    given: tuple[int, ...] = ()
    """Those of `subset` Vault holds in the current unseal nonce."""
    nonce: str = ""
    """Vault's id of the attempt holding our shares; "" before the first."""
    progress: int = 0
    """Vault's progress after our last call."""
    threshold: int = 0
    reset_done: bool = False
    interfered: int = 0
    """How often another client discarded our progress."""
    wait_until: float | None = None
    """While a raft follower finishes in the background: until when we poll it."""
    pending: int | None = None
    """The share on its way (its index); None when the call out is a read or a reset."""
    calling: bool = True
    """Whether a call of this attempt is out (False only while waiting for the follower timer)."""


@attrs.frozen
class Unsealing:
    """The Unsealer's state: the lease, the switch, and at most one attempt per node."""

    share_count: int
    """How many distinct shares the credentials hold."""
    lease_until: float | None = None
    """This instance's lease on the lock runs until then (monotonic seconds); None: it does not hold the lock.
    A deadline already past (a BecameLeader of 0.0 included) is a lease that is over: nothing is decided under it."""
    session: str = ""
    """The lock's session the lease is for ("" when unknown): a LeaseExtended for another one is not ours."""
    waiting_said: bool = False
    switched_off: bool | None = None
    odd_switch: str = ""
    switch_problem: str | None = None
    switch_logged_at: float = 0.0
    attempts: Mapping[str, Attempt] = attrs.field(factory=dict)
    rejected: Mapping[str, frozenset[tuple[int, ...]]] = attrs.field(factory=dict)
    """Per node: share combinations Vault refused as a whole (the next attempt tries another)."""
    bad: Mapping[str, frozenset[int]] = attrs.field(factory=dict)
    """Per node: shares Vault refused on their own (malformed for it)."""
    stalled: Mapping[str, tuple[int, ...]] = attrs.field(factory=dict)
    """Per node: the combination Vault took whole and stayed sealed after (progress 0) past the follower's wait. Still
    sealed at the next request, a whole poll later, it was no follower finishing: the combination counts as refused."""
    stall_refused: Mapping[str, frozenset[tuple[int, ...]]] = attrs.field(factory=dict)
    """Per node: those of `rejected` counted refused only because they stalled (no 400 from Vault). A Vault that
    refuses a combination itself later is no follower finishing: what stalled then (it restarted meanwhile, say) is
    no verdict on the keys, and those combinations are tried again."""
    stalled_again: Mapping[str, frozenset[tuple[int, ...]]] = attrs.field(factory=dict)
    """Per node: those of `stall_refused` given once more when they were all that kept a combination from being left:
    a stall is a guess (a node that restarted before it finished looks the same: the simulator's seed 4914), so the
    keys are said not to unseal a Vault only once each combination that only stalled has stalled twice."""
    keys_refused_said: Mapping[str, float] = attrs.field(factory=dict)
    """Per node: when this instance last said at ERROR that the keys do not unseal it; kept until it unseals it, so
    the ERROR comes once, then once per reminder period (REMINDER_SECONDS), not at every poll."""
    sealed: Mapping[str, str] = attrs.field(factory=dict)
    """Per node: its Vault's URL while its monitor last saw it sealed with a Shamir seal. On taking the lock these
    are unsealed at once, not at their monitors' next poll (vault_poll_seconds may be 30 s)."""
    next_number: int = 1
    busy: Mapping[str, int] = attrs.field(factory=dict)
    """Per node: a cancelled attempt whose last call is still out. No new attempt starts there before its answer
    is back, so two calls never run on one node at once."""

    def holds_lease(self, now: float) -> bool:
        return self.lease_until is not None and now < self.lease_until

    def decide(self, event: Any, now: float) -> Decision[Unsealing]:
        if isinstance(event, UnsealRequested):
            return self.requested(event, now)
        if isinstance(event, (SwitchRead, SwitchUnreadable)):
            return self.switch_told(event, now)
        if isinstance(event, VaultAnswered):
            if self.busy.get(event.hostname) == event.attempt:  # a cancelled attempt's last answer: the node is free
                return attrs.evolve(self, busy={k: v for k, v in self.busy.items() if k != event.hostname}), ()
            attempt = self.attempts.get(event.hostname)
            if attempt is None or attempt.number != event.attempt:
                return self, ()
            attempt = attrs.evolve(attempt, calling=False)
            return self.with_attempt(event.hostname, attempt).answered(event.hostname, attempt, event.answer, now)
        if isinstance(event, VaultObserved):
            return self.seen(event), ()
        if isinstance(event, MonitoringStopped):
            return self.retired(event.hostname)
        if isinstance(event, (BecameLeader, LeaseExtended)):
            return self.leased(event, now)
        if isinstance(event, (LostLeadership, StandingBy)):
            after = attrs.evolve(self, lease_until=None, session="")
            return after.cancel_all("this instance no longer holds the lock", (CancelTimer(LEASE),))
        if event == TimerFired(LEASE):
            if self.lease_until is not None and now >= self.lease_until:
                return self.cancel_all("this instance's lease on the lock ran out", ())
            return self, ()
        hostname = timer_of(FOLLOWER, event.key) if isinstance(event, TimerFired) else None
        if hostname is not None:
            attempt = self.attempts.get(hostname)
            if attempt is None or attempt.wait_until is None:
                return self, ()
            reading = attrs.evolve(attempt, calling=True)
            return self.with_attempt(hostname, reading), (ReadSealStatus(hostname, attempt.url, attempt.number),)
        return self, ()

    def retired(self, hostname: str) -> Decision[Unsealing]:
        """A Vault no longer monitored (its node demoted or gone, its URL changed): forget what was seen of it, so
        that taking the lock later sends it nothing (its hostname may name another machine by then), and end an
        attempt on it with no share after (a new monitor of the same name asks again). That the keys do not unseal
        it stays said until its reminder: a URL that changes and changes back is not news about the keys (the
        simulator's seeds 1670 and 2250 said it again within the period)."""
        after = attrs.evolve(
            self,
            sealed={name: url for name, url in self.sealed.items() if name != hostname},
            stalled={name: keys for name, keys in self.stalled.items() if name != hostname},
        )
        attempt = after.attempts.get(hostname)
        if attempt is None:
            return after, ()
        if attempt.calling:
            after = attrs.evolve(after, busy={**after.busy, hostname: attempt.number})
        after, finished = after.finish(
            hostname, False, "its Vault is no longer monitored: stopped unsealing, no share after it", Level.INFO
        )
        return after, (CancelAttempt(hostname, attempt.number), *finished)

    def seen(self, reading: VaultObserved) -> Unsealing:
        """A monitor's reading: a node seen unsealed (a follower that finished after our wait, someone's unseal by
        hand) leaves no stalled combination to count, and a refusal of the keys later is news again."""
        host = reading.hostname
        state = self
        shamir_sealed = reading.state is VaultState.SEALED and reading.seal_type == "shamir"
        if shamir_sealed and self.sealed.get(host) != reading.url:
            state = attrs.evolve(self, sealed={**self.sealed, host: reading.url})
        elif not shamir_sealed and host in self.sealed:
            state = attrs.evolve(self, sealed={name: url for name, url in self.sealed.items() if name != host})
        if reading.state is not VaultState.UNSEALED or (
            host not in self.stalled and host not in self.keys_refused_said and host not in self.stall_refused
        ):
            return state
        return attrs.evolve(
            state.stalls_forgotten(host),
            stalled={name: keys for name, keys in self.stalled.items() if name != host},
            keys_refused_said={name: at for name, at in self.keys_refused_said.items() if name != host},
        )

    def stalls_forgotten(self, hostname: str) -> Unsealing:
        """The node seen unsealed (or unsealed by us): the combinations that only stalled there were no verdict on the
        keys (it restarted before it finished, or finished after our wait), so they are usable again."""
        stalls = self.stall_refused.get(hostname, frozenset())
        if not stalls and hostname not in self.stalled_again:
            return self
        rejected = {**self.rejected, hostname: self.rejected.get(hostname, frozenset()) - stalls}
        return attrs.evolve(
            self,
            rejected={name: sets for name, sets in rejected.items() if sets},
            stall_refused={name: sets for name, sets in self.stall_refused.items() if name != hostname},
            stalled_again={name: sets for name, sets in self.stalled_again.items() if name != hostname},
        )

    # ---------------------------------------------------------------------------------------- the lease

    def leased(self, event: BecameLeader | LeaseExtended, now: float) -> Decision[Unsealing]:
        if isinstance(event, LeaseExtended) and event.session != self.session and event.valid_until <= now:
            return self, ()  # another session's lease, already over: nothing to act on
        # Only our Leadership extends a lease, and only while it leads: a session we were not told of means its
        # BecameLeader was lost on the way (or the lease was won again since); its deadline holds all the same.
        # A deadline is always given (Leadership's lease); none (0) is a lease already over, never one without end.
        until = event.valid_until
        after = attrs.evolve(self, lease_until=until, session=event.session)
        if isinstance(event, BecameLeader):
            after = attrs.evolve(after, waiting_said=False)
        effects: tuple[Any, ...] = (StartTimer(LEASE, max(0.0, until - now)),)
        if not self.holds_lease(now) and after.holds_lease(now):
            effects += after.unseal_known_sealed()
        return after, effects

    def unseal_known_sealed(self) -> tuple[Any, ...]:
        """Taking the lock: the Vaults the monitors last saw sealed get their attempt now (the switch first, as for
        a monitor's request), not at their next poll."""
        hosts = [host for host in sorted(self.sealed) if host not in self.attempts and host not in self.busy]
        if not hosts:
            return ()
        said = log(Level.INFO, f"took the lock: unsealing the Vaults known sealed now ({', '.join(hosts)})")
        return (said, *(ReadSwitch(host, self.sealed[host]) for host in hosts))

    def cancel_all(self, reason: str, effects: tuple[Any, ...]) -> Decision[Unsealing]:
        after: Unsealing = self
        out = list(effects)
        for hostname in sorted(self.attempts):
            attempt = self.attempts[hostname]
            out.append(CancelAttempt(hostname, attempt.number))
            if attempt.calling:
                after = attrs.evolve(after, busy={**after.busy, hostname: attempt.number})
            after, finished = after.finish(
                hostname, False, f"{reason}: stopped unsealing, no share after it", Level.WARN
            )
            out.extend(finished)
        return after, tuple(out)

    # ---------------------------------------------------------------------------------------- requests

    def requested(self, request: UnsealRequested, now: float) -> Decision[Unsealing]:
        if not self.holds_lease(now):
            effects: list[Any] = [
                AnswerMonitor(UnsealFinished(request.hostname, False, "this instance does not hold the lock"))
            ]
            after = self
            if not self.waiting_said:
                effects.append(
                    log(
                        Level.INFO,
                        f"not unsealing {request.hostname}: unsealing waits for this instance to hold the lock in "
                        f"Consul (and to read {DISABLE_AUTO_UNSEAL_KEY}); the active instance unseals, if there is one",
                    )
                )
                after = attrs.evolve(self, waiting_said=True)
            return after, tuple(effects)
        if request.hostname in self.attempts:
            return self, ()  # its attempt is running: its outcome goes to the node's monitor, whichever it is now
        if request.hostname in self.busy:
            return self, (AnswerMonitor(UnsealFinished(request.hostname, False, "a cancelled attempt's call is out")),)
        return self, (ReadSwitch(request.hostname, request.url),)

    def switch_told(self, event: SwitchRead | SwitchUnreadable, now: float) -> Decision[Unsealing]:
        refused = AnswerMonitor(UnsealFinished(event.hostname, False, "auto-unseal is off or undecided"))
        if isinstance(event, SwitchUnreadable):
            # One line when it starts (and every 5 minutes), not one per sealed Vault per poll.
            due = self.switch_problem is None or now - self.switch_logged_at >= SWITCH_REMINDER_SECONDS
            after = attrs.evolve(
                self, switch_problem=event.error, switch_logged_at=now if due else self.switch_logged_at
            )
            said = f"cannot read {DISABLE_AUTO_UNSEAL_KEY} from Consul ({event.error}); not unsealing until it can"
            return after, ((log(Level.ERROR, said),) if due else ()) + (refused,)
        effects: list[Any] = []
        if self.switch_problem is not None:
            effects.append(log(Level.INFO, f"reading {DISABLE_AUTO_UNSEAL_KEY} from Consul again"))
        text = (event.text or "").strip()
        # The one reading of a switch (the CLI's too): `yes`/`on`/`1` count, with a note; other words keep it on.
        switched_off, note = parse_switch(text[:40])
        if note is not None and text != self.odd_switch:
            stays = "off" if switched_off else "on"
            effects.append(log(Level.WARN, f"{DISABLE_AUTO_UNSEAL_KEY}={note}: auto-unseal is {stays}"))
        if switched_off != self.switched_off:
            shown = switch_text(text[:40]) if text else "<missing>"
            state = "off" if switched_off else "on"
            effects.append(log(Level.INFO, f"auto-unseal is switched {state} ({DISABLE_AUTO_UNSEAL_KEY}={shown})"))
        after = attrs.evolve(self, switch_problem=None, odd_switch=text, switched_off=switched_off)
        if switched_off or not after.holds_lease(now):
            return after, (*effects, refused)
        if event.hostname in self.attempts:
            return after, tuple(effects)  # one was started meanwhile: its outcome answers this request
        if event.hostname in self.busy:
            return after, (
                *effects,
                AnswerMonitor(UnsealFinished(event.hostname, False, "a cancelled attempt's call is out")),
            )
        attempt = Attempt(after.next_number, event.url)
        after = attrs.evolve(after, next_number=after.next_number + 1).with_attempt(event.hostname, attempt)
        return after, (*effects, ReadSealStatus(event.hostname, event.url, attempt.number))

    # ---------------------------------------------------------------------------------------- answers

    def answered(self, hostname: str, attempt: Attempt, answer: UnsealAnswer, now: float) -> Decision[Unsealing]:
        if isinstance(answer, (Unreachable, Garbage)):
            why = answer.reason if isinstance(answer, Unreachable) else answer.detail
            return self.finish(hostname, False, f"unseal attempt failed ({why}); trying again at the next poll")
        if isinstance(answer, NotSent):
            return self.finish(hostname, False, f"stopped unsealing: {answer.reason}", Level.WARN)
        if isinstance(answer, Rejected):
            return self.rejected_by_vault(hostname, attempt, answer, now)
        if not answer.initialized:
            return self.finish(hostname, False, "Vault is not initialized; it cannot be unsealed")
        if not answer.sealed:
            return self.finish(hostname, True, "")
        if attempt.wait_until is not None:
            return self.follower_read(hostname, attempt, answer, now)
        if attempt.pending is not None:
            return self.share_taken(hostname, attempt, answer, now)
        if not attempt.subset:
            return self.first_read(hostname, attempt, answer, now)
        # The answer to our reset: Vault now holds no attempt; give the first share.
        return self.next_share(hostname, attrs.evolve(attempt, progress=answer.progress, nonce=answer.nonce), now)

    def first_read(self, hostname: str, attempt: Attempt, status: SealStatus, now: float) -> Decision[Unsealing]:
        """The seal status at the start: pick the shares to give; reset a partial attempt someone else left."""
        if status.why_not_unsealable:  # never a share to an auto seal (they would be recovery keys) or a removed node
            return self.finish(hostname, False, status.why_not_unsealable, Level.WARN)
        after = attrs.evolve(self, stalled={name: keys for name, keys in self.stalled.items() if name != hostname})
        said: tuple[Any, ...] = ()
        words = ""
        stalled = self.stalled.get(hostname)
        if stalled is not None and len(stalled) == status.threshold and status.progress == 0:
            # Given whole at the last request and still sealed a poll later: no raft follower takes that long.
            after = after.refuse(hostname, stalled)
            stalls = after.stall_refused.get(hostname, frozenset()) | {stalled}
            after = attrs.evolve(after, stall_refused={**after.stall_refused, hostname: stalls})
            words = f"Vault took unseal keys {shown_keys(stalled)} and stayed sealed for a whole poll"
            said = (log(after.refusal_level(hostname), f"{hostname}: {words}: that combination does not unseal it"),)
        subset = after.choose(hostname, status.threshold)
        once = after.stall_refused.get(hostname, frozenset()) - after.stalled_again.get(hostname, frozenset())
        if isinstance(subset, Refusal) and subset.start_over and once:
            # Every combination counted refused, but some only because they stalled once: a Vault that restarted
            # before it finished in the background looks the same (the simulator's seed 4914: the only combination,
            # good keys, its follower read held up by the network past the unseal, the node restarted before any
            # reading saw it unsealed). Those are given once more; a second stall of each is the verdict.
            after = attrs.evolve(
                after,
                rejected={**after.rejected, hostname: after.rejected.get(hostname, frozenset()) - once},
                stalled_again={**after.stalled_again, hostname: after.stalled_again.get(hostname, frozenset()) | once},
            )
            tried = "; ".join(f"keys {shown_keys(stall)}" for stall in sorted(once))
            said = (
                log(
                    Level.DEBUG if hostname in after.keys_refused_said else Level.WARN,  # said: quiet, as refusals
                    f"{hostname}: {words or 'a combination stayed sealed for a whole poll'}; no other combination is "
                    f"left, and a Vault that restarted before it finished looks the same: giving {tried} once more "
                    "(a second stall is the verdict on them)",
                ),
            )
            subset = after.choose(hostname, status.threshold)
        decision: Decision[Unsealing]
        if isinstance(subset, Refusal) and subset.start_over:
            decision = after.keys_refused(hostname, subset, words, now)
        elif isinstance(subset, Refusal):
            decision = after.finish(hostname, False, subset.reason)
        else:
            attempt = attrs.evolve(attempt, subset=subset, threshold=status.threshold, progress=status.progress)
            if status.progress > 0:
                partial = f"{status.progress}/{status.threshold}"
                decision = after.reset(
                    hostname,
                    attrs.evolve(attempt, reset_done=True),
                    now,
                    f"{hostname}: a partial unseal attempt that is not ours ({partial}) is there",
                )
            else:
                decision = after.next_share(hostname, attempt, now)
        return decision[0], (*said, *decision[1])

    def choose(self, hostname: str, threshold: int) -> tuple[int, ...] | Refusal:
        """The first combination of `threshold` usable shares not yet refused on this node; a reason when none is."""
        bad = self.bad.get(hostname, frozenset())
        usable = [index for index in range(self.share_count) if index not in bad]
        if threshold < 1:
            return Refusal(f"Vault says its threshold is {threshold}; not unsealing")
        if threshold > len(usable):
            refused = f" ({len(bad)} refused by this Vault)" if bad else ""
            return Refusal(f"Vault needs {threshold} unseal keys; the credentials hold {len(usable)} usable{refused}")
        refused_sets = self.rejected.get(hostname, frozenset())
        candidates = [subset for subset in itertools.combinations(usable, threshold) if subset not in refused_sets]
        if candidates:
            # The one sharing the fewest keys with the combinations refused so far: a bad key is among those, so
            # with one bad key the second attempt (or at most threshold + 1 in all) is made of good ones.
            return min(candidates, key=lambda subset: sum(len(set(subset) & set(r)) for r in refused_sets))
        return Refusal(
            f"the unseal keys do not unseal this Vault (rotated, or another cluster's): every combination of "
            f"{threshold} of the {len(usable)} keys was refused",
            start_over=True,
        )

    def share_taken(self, hostname: str, attempt: Attempt, status: SealStatus, now: float) -> Decision[Unsealing]:
        """Vault's answer to one of our shares, still sealed."""
        index = attempt.pending
        assert index is not None  # a share was pending: only then is this called
        completed = attempt.progress + 1 >= attempt.threshold
        if status.progress == 0 and completed:
            # The threshold is reached and the node still says sealed: a raft follower unsealing in the background.
            waiting = attrs.evolve(
                attempt,
                given=(*attempt.given, index),
                pending=None,
                progress=0,
                nonce="",
                wait_until=now + FOLLOWER_WAIT_SECONDS,
            )
            return self.with_attempt(hostname, waiting), (StartTimer(follower_timer(hostname), FOLLOWER_POLL_SECONDS),)
        if status.progress == 0 or (attempt.nonce and status.nonce != attempt.nonce):
            # Our progress was discarded (someone reset it) and our share began a new attempt, or was lost with it.
            interfered = attempt.interfered + 1
            if interfered > INTERFERENCE_LIMIT:
                return self.finish(
                    hostname, False, "another client keeps resetting its unseal attempts; leaving it alone"
                )
            given = (index,) if status.progress > 0 else ()
            attempt = attrs.evolve(attempt, given=given, interfered=interfered)
        else:
            attempt = attrs.evolve(attempt, given=(*attempt.given, index))
        attempt = attrs.evolve(attempt, pending=None, progress=status.progress, nonce=status.nonce)
        return self.next_share(hostname, attempt, now)

    def next_share(self, hostname: str, attempt: Attempt, now: float) -> Decision[Unsealing]:
        """Give the next share of the subset, if the lease allows it now."""
        left = [index for index in attempt.subset if index not in attempt.given]
        if not left:
            still = f"{attempt.progress}/{attempt.threshold}"
            return self.finish(
                hostname, False, f"all {len(attempt.subset)} unseal keys given; Vault is still sealed ({still})"
            )
        if not self.holds_lease(now):
            return self.finish(
                hostname, False, "this instance's lease on the lock ran out: stopped unsealing", Level.WARN
            )
        assert self.lease_until is not None
        pending = attrs.evolve(attempt, pending=left[0], calling=True)
        share = SubmitShare(hostname, attempt.url, attempt.number, left[0], self.lease_until)
        return self.with_attempt(hostname, pending), (share,)

    def reset(self, hostname: str, attempt: Attempt, now: float, said: str) -> Decision[Unsealing]:
        if not self.holds_lease(now):
            return self.finish(
                hostname, False, "this instance's lease on the lock ran out: stopped unsealing", Level.WARN
            )
        assert self.lease_until is not None
        effects = (
            log(Level.WARN, f"{said}; resetting it"),
            ResetProgress(hostname, attempt.url, attempt.number, self.lease_until),
        )
        return self.with_attempt(hostname, attrs.evolve(attempt, pending=None, calling=True)), effects

    def rejected_by_vault(self, hostname: str, attempt: Attempt, answer: Rejected, now: float) -> Decision[Unsealing]:
        index = attempt.pending
        if index is None:
            return self.finish(hostname, False, f"Vault refused to reset the unseal attempt: {answer.message}")
        given = len(attempt.given) + 1
        said = f"Vault rejected unseal key {given} of {len(attempt.subset)}: {answer.message}"
        if not about_the_key(answer.message) and not combination_refused(answer.message):
            # Refused for the node's sake (not initialized yet: a follower after a whole-cluster restart), at any
            # progress: OpenBao says `Vault is not initialized` before it records the share (vault/core.go's
            # unsealFragment checks it before the key's length and recordUnsealPart), so neither the share nor the
            # combination was judged, even at our threshold (the long run's seed 10419: the cluster restarted between
            # our second share and our third, and the only combination was taken as refused). The next attempt tries
            # again.
            return self.finish(hostname, False, f"{said}; trying again at the next poll")
        if attempt.progress + 1 >= attempt.threshold:
            if attempt.progress > len(attempt.given):
                # Vault counted shares that are not ours: another client reset our attempt and gave its own (the nonce
                # changed). The refusal may be its share's, not our combination's: try the same one again.
                return self.finish(
                    hostname,
                    False,
                    f"{said}; another client's unseal key was in that attempt: trying again at the next poll",
                    Level.WARN,
                )
            # Refused once the threshold was reached: the combination as a whole (OpenBao 2.7: 400 "unable to
            # retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message authentication
            # failed"); the next attempt tries another, unless none is left.
            return self.refused_combination(hostname, attempt.subset, said, now)
        if combination_refused(answer.message):
            # The refusal of a whole combination, before our own count reached the threshold: Vault counted shares
            # that are not ours in this attempt (another client gave them without a reset, so the nonce held: the
            # long run's seed 8984, an instance whose lock Consul lost while its lease ran). Not this key's fault.
            return self.finish(
                hostname,
                False,
                f"{said}; another client's unseal key was in that attempt: trying again at the next poll",
                Level.WARN,
            )
        # Refused on its own, before the threshold, for what it is (malformed, the wrong length): unusable here.
        after = attrs.evolve(self, bad={**self.bad, hostname: self.bad.get(hostname, frozenset()) | {index}})
        return after.finish(hostname, False, f"{said}; leaving that key out from now on")

    def follower_read(self, hostname: str, attempt: Attempt, status: SealStatus, now: float) -> Decision[Unsealing]:
        assert attempt.wait_until is not None
        if status.progress == 0 and now < attempt.wait_until:
            return self, (StartTimer(follower_timer(hostname), FOLLOWER_POLL_SECONDS),)
        after = self
        if status.progress == 0:  # remembered: still sealed at the next request, the combination counts as refused
            after = attrs.evolve(self, stalled={**self.stalled, hostname: attempt.subset})
        said = f"{hostname}: still unsealing in the background; checking at next poll"
        after, effects = after.finish(hostname, False, "still unsealing", None)
        return after, (log(Level.INFO, said), *effects)

    def refuse(self, hostname: str, subset: tuple[int, ...]) -> Unsealing:
        """With `subset` refused as a whole on this node: the next attempt tries another combination."""
        return attrs.evolve(
            self, rejected={**self.rejected, hostname: self.rejected.get(hostname, frozenset()) | {subset}}
        )

    def refusal_level(self, hostname: str) -> Level:
        """One combination refused is an ERROR, as the interface promises for a share Vault rejects (one bad share
        among good ones: the next attempt, a poll later, tries another combination); DEBUG once the keys are known
        not to unseal the node, whose own ERROR is then said on the reminder period."""
        return Level.DEBUG if hostname in self.keys_refused_said else Level.ERROR

    def refused_combination(self, hostname: str, subset: tuple[int, ...], said: str, now: float) -> Decision[Unsealing]:
        after = self.refuse(hostname, subset)
        stalls = self.stall_refused.get(hostname, frozenset())
        if stalls:
            # Vault refused this combination itself: the node checks keys, it is no follower finishing in the
            # background, so a combination that only stalled here (the node restarted before it finished, say) was
            # never refused: it is tried again (the simulator's seed 2317: the good keys 1, 2 and 3 stalled once, the
            # node then refused the others, and the keys were said not to unseal it). Each time this happens one
            # more combination is refused by Vault itself, so it cannot go on for ever.
            after = attrs.evolve(
                after,
                rejected={**after.rejected, hostname: after.rejected.get(hostname, frozenset()) - stalls},
                stall_refused={name: sets for name, sets in after.stall_refused.items() if name != hostname},
                stalled_again={name: sets for name, sets in after.stalled_again.items() if name != hostname},
            )
            tried = "; ".join(f"keys {shown_keys(stall)}" for stall in sorted(stalls))
            said = f"{said} ({tried}: only stayed sealed before, never refused by this Vault: tried again)"
        left = after.choose(hostname, len(subset))
        if isinstance(left, Refusal) and left.start_over:
            return after.keys_refused(hostname, left, said, now)
        level = after.refusal_level(hostname)
        return after.finish(hostname, False, f"{said}; the next attempt tries another combination of the keys", level)

    def keys_refused(self, hostname: str, refusal: Refusal, last: str, now: float) -> Decision[Unsealing]:
        """Every combination refused: the keys do not unseal this node. ERROR when it is news or a reminder is due
        (DEBUG otherwise); the refusals are forgotten, so the next attempt starts again at the first combination
        (the Vault may be re-keyed back), and UnsealFinished says `keys_refused` (the metric the alert reads)."""
        said_at = self.keys_refused_said.get(hostname)
        due = said_at is None or now - said_at >= REMINDER_SECONDS
        said = {**self.keys_refused_said, hostname: now} if due else self.keys_refused_said
        after = attrs.evolve(
            self,
            rejected={name: sets for name, sets in self.rejected.items() if name != hostname},
            stall_refused={name: sets for name, sets in self.stall_refused.items() if name != hostname},
            stalled_again={name: sets for name, sets in self.stalled_again.items() if name != hostname},
            keys_refused_said=said,
        )
        vault_said = f" (last: {last})" if last else ""
        reason = f"{refusal.reason}{vault_said}; put this Vault's current keys in the credentials"
        return after.finish(hostname, False, reason, Level.ERROR if due else Level.DEBUG, keys_refused=True)

    # ---------------------------------------------------------------------------------------- bookkeeping

    def with_attempt(self, hostname: str, attempt: Attempt) -> Unsealing:
        return attrs.evolve(self, attempts={**self.attempts, hostname: attempt})

    def finish(
        self,
        hostname: str,
        unsealed: bool,
        reason: str,
        level: Level | None = Level.ERROR,
        keys_refused: bool = False,
    ) -> Decision[Unsealing]:
        """End the node's attempt: say it (unless `level` is None), answer its monitor, tell the subscribers."""
        attempt = self.attempts.get(hostname)
        attempts = {name: other for name, other in self.attempts.items() if name != hostname}
        after = attrs.evolve(self, attempts=attempts)
        if unsealed:  # the keys do unseal it (again): a refusal later is news, a stall before was no verdict
            after = attrs.evolve(
                after.stalls_forgotten(hostname),
                keys_refused_said={name: at for name, at in self.keys_refused_said.items() if name != hostname},
            )
        finished = UnsealFinished(hostname, unsealed, reason, keys_refused)
        effects: list[Any] = [CancelTimer(follower_timer(hostname))]
        if unsealed and attempt is not None and attempt.subset:
            given = len(attempt.given) + (attempt.pending is not None)
            if given:
                effects.append(log(Level.INFO, f"unsealed the Vault on {hostname} ({attempt.url}) with {given} keys"))
        elif not unsealed and level is not None:
            effects.append(log(level, f"{hostname}: {reason}"))
        effects += [AnswerMonitor(finished), Publish(finished)]
        return after, tuple(effects)


def shown_keys(subset: tuple[int, ...]) -> str:
    """A combination of the credentials' shares in words, by position (1-based), never the shares: `1 and 3`."""
    numbers = [str(index + 1) for index in subset]
    return " and ".join(numbers) if len(numbers) < 3 else f"{', '.join(numbers[:-1])} and {numbers[-1]}"


def combination_refused(words: str) -> bool:
    """Whether Vault's refusal is of a whole combination, said only once the threshold is reached (OpenBao 2.7 and
    Vault: `unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: cipher: message
    authentication failed`), not of one share for what it is (`invalid key: key is shorter than minimum ...`)."""
    lowered = words.lower()
    return "message authentication failed" in lowered or "failed to decrypt keys" in lowered


def about_the_key(words: str) -> bool:
    """Whether Vault's refusal of a share speaks of the share itself (`invalid key: ...`, `'key' must be a valid hex
    or base64 string`), not of the node (`Vault is not initialized`)."""
    return "key" in words.lower()
