"""The Unsealer's decider: the lease checked per share, one attempt per node, share subsets, other clients, the
switch (pure logic, against tests/vault_model.py's model Vault)."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.log import Level
from messages.vault import MonitoringStopped, UnsealFinished, UnsealRequested, VaultObserved, VaultState
from neon_cm.decider import Log, TimerFired
from neon_cm.monitoring import REMINDER_SECONDS
from neon_cm.unsealing import (
    LEASE,
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
from neon_cm.vault import Garbage, NotSent, Rejected, SealStatus
from tests.vault_model import WRONG_COMBINATION, ModelVault, Run

URL = "http://m1:8200"
SEALED = SealStatus(True, True, 2, 0, "")


def decide(state: Unsealing, event: object, now: float = 0.0) -> tuple[Unsealing, tuple[object, ...]]:
    return state.decide(event, now)


def started(until: float = 10.0) -> tuple[Unsealing, int]:
    """Leading until `until`, with an attempt on m1 past its first read (its first share decided); its number."""
    state, _ = decide(Unsealing(3), BecameLeader("me", "s1", until))
    state, effects = decide(state, UnsealRequested("m1", URL))
    assert (ReadSwitch("m1", URL),) == effects
    state, effects = decide(state, SwitchRead("m1", URL, None))
    read = effects[-1]
    assert isinstance(read, ReadSealStatus)
    return state, read.attempt


def next_attempt_unseals(state: Unsealing, vault: ModelVault, now: float = 3.0) -> bool:
    """Whether the next request for m1 (at `now`, the switch on) unseals `vault`, its calls answered by the model."""
    state, effects = decide(state, UnsealRequested("m1", URL), now=now)
    state, effects = decide(state, SwitchRead("m1", URL, None), now=now)
    read = effects[-1]
    assert isinstance(read, ReadSealStatus)
    state, effects = decide(state, VaultAnswered("m1", read.attempt, vault.read()), now=now)
    while effects and isinstance(effects[-1], SubmitShare):
        state, effects = decide(state, VaultAnswered("m1", read.attempt, vault.share(effects[-1].index)), now=now)
    return AnswerMonitor(UnsealFinished("m1", True, "")) in effects


def test_taking_the_lock_unseals_the_vaults_known_sealed_at_once() -> None:
    """Issue 28: a new active instance does not wait for its monitors' next poll (vault_poll_seconds may be 30 s):
    the Vaults last seen sealed with a Shamir seal get their attempt (the switch read first) on BecameLeader; an
    auto seal, one seen unsealed since, and a lease merely extended start nothing."""
    state = Unsealing(3)
    for reading in (
        VaultObserved("m1", URL, VaultState.SEALED, "0/2 unseal keys submitted", "shamir"),
        VaultObserved("m2", "http://m2:8200", VaultState.SEALED, "auto seal transit", "transit"),
        VaultObserved("m3", "http://m3:8200", VaultState.SEALED, "0/2 unseal keys submitted", "shamir"),
        VaultObserved("m3", "http://m3:8200", VaultState.UNSEALED, "standby", "shamir"),
    ):
        state, effects = decide(state, reading)
        assert () == effects

    state, effects = decide(state, BecameLeader("me", "s1", 10.0), now=1.0)

    assert [ReadSwitch("m1", URL)] == [e for e in effects if isinstance(e, ReadSwitch)]
    assert ["took the lock: unsealing the Vaults known sealed now (m1)"] == [
        e.text for e in effects if isinstance(e, Log)
    ]
    state, effects = decide(state, LeaseExtended("s1", 12.0), now=2.0)
    assert [] == [e for e in effects if isinstance(e, ReadSwitch)]
    state, effects = decide(state, SwitchRead("m1", URL, None), now=2.0)
    assert [ReadSealStatus("m1", URL, 1)] == [e for e in effects if isinstance(e, ReadSealStatus)]


def test_a_vault_no_longer_monitored_is_forgotten_and_gets_nothing_when_the_lock_is_taken() -> None:
    """A manager demoted (or gone, or its URL changed) while its Vault was last seen sealed: taking the lock later
    sends its hostname nothing (it may name another machine by then); the Vaults still monitored get their attempt."""
    state = Unsealing(3)
    for reading in (
        VaultObserved("m1", URL, VaultState.SEALED, "0/2 unseal keys submitted", "shamir"),
        VaultObserved("m2", "http://m2:8200", VaultState.SEALED, "0/2 unseal keys submitted", "shamir"),
    ):
        state, _ = decide(state, reading)

    state, effects = decide(state, MonitoringStopped("m1"))
    assert () == effects
    state, effects = decide(state, BecameLeader("me", "s1", 10.0), now=1.0)

    assert [ReadSwitch("m2", "http://m2:8200")] == [e for e in effects if isinstance(e, ReadSwitch)]


def test_a_vault_monitored_again_under_another_url_is_no_news_about_the_keys() -> None:
    """The simulator's seeds 1670 and 2250: the settings' template changed and changed back (Consul restarted
    without its data), each change a MonitoringStopped; forgetting that the keys do not unseal the Vault made the
    Unsealer say it again within its reminder period (`said once`)."""
    state = attrs.evolve(Unsealing(3), keys_refused_said={"m1": 5.0}, sealed={"m1": URL})

    state, _ = decide(state, MonitoringStopped("m1"), now=6.0)

    assert {"m1": 5.0} == state.keys_refused_said
    assert {} == state.sealed


def test_an_attempt_on_a_vault_no_longer_monitored_ends_with_no_share_after_it() -> None:
    """Its worker is told to send nothing more, the share already out keeps the node busy until it is back, and a
    new monitor of the same name (the URL changed) gets a new attempt after that."""
    state, attempt = started(until=10.0)
    state, effects = decide(state, VaultAnswered("m1", attempt, SEALED), now=1.0)
    assert any(isinstance(e, SubmitShare) for e in effects)

    state, effects = decide(state, MonitoringStopped("m1"), now=1.1)

    assert CancelAttempt("m1", attempt) in effects
    assert {} == state.attempts and {"m1": attempt} == state.busy
    assert [] == [e for e in effects if isinstance(e, (SubmitShare, ResetProgress, ReadSealStatus))]
    state, effects = decide(state, VaultAnswered("m1", attempt, SealStatus(True, True, 2, 1, "n1")), now=1.2)
    assert ((), {}) == (effects, state.busy)
    state, effects = decide(state, UnsealRequested("m1", "http://m1-new:8200"), now=1.3)
    assert (ReadSwitch("m1", "http://m1-new:8200"),) == effects


def test_a_standby_knows_sealed_vaults_but_unseals_none() -> None:
    state, effects = decide(Unsealing(3), VaultObserved("m1", URL, VaultState.SEALED, "0/2", "shamir"))
    assert () == effects
    state, effects = decide(state, StandingBy("other"))
    assert [] == [e for e in effects if isinstance(e, ReadSwitch)]


def test_no_share_is_decided_at_or_after_the_lease_deadline() -> None:
    """Defect 5: the lease is checked for every share, not once when the attempt starts. The answer to share 1
    arrives after the deadline: share 2 is not sent, the attempt ends with a WARN, the monitor is answered."""
    state, attempt = started(until=10.0)
    state, effects = decide(state, VaultAnswered("m1", attempt, SEALED), now=1.0)
    assert [SubmitShare("m1", URL, attempt, 0, 10.0)] == [e for e in effects if isinstance(e, SubmitShare)]

    state, effects = decide(state, VaultAnswered("m1", attempt, SealStatus(True, True, 2, 1, "n1")), now=10.0)

    assert [] == [e for e in effects if isinstance(e, SubmitShare)]
    assert (
        AnswerMonitor(UnsealFinished("m1", False, "this instance's lease on the lock ran out: stopped unsealing"))
        in effects
    )
    assert {} == dict(state.attempts)


def test_a_lease_extended_in_time_lets_the_attempt_go_on() -> None:
    """LeaseExtended moves the deadline: the next share goes out with the new one."""
    state, attempt = started(until=10.0)
    state, _ = decide(state, VaultAnswered("m1", attempt, SEALED), now=1.0)
    state, _ = decide(state, LeaseExtended("s1", 20.0), now=9.0)

    state, effects = decide(state, VaultAnswered("m1", attempt, SealStatus(True, True, 2, 1, "n1")), now=12.0)

    assert [SubmitShare("m1", URL, attempt, 1, 20.0)] == [e for e in effects if isinstance(e, SubmitShare)]


def test_a_lease_extended_for_another_session_is_a_new_lease_unless_over() -> None:
    """Only this instance's Leadership extends a lease, and only while it leads: a LeaseExtended naming a session
    BecameLeader did not name means that BecameLeader was lost on the way (the simulator found an Unsealer idle for
    a whole leadership that way), so its deadline is taken; one already over moves nothing."""
    state, _ = decide(Unsealing(3), BecameLeader("me", "s1", 10.0))

    assert (state, ()) == decide(state, LeaseExtended("s0", 0.5), now=1.0)
    after, _ = decide(state, LeaseExtended("s2", 50.0), now=1.0)
    assert ("s2", 50.0) == (after.session, after.lease_until)


@pytest.mark.parametrize("ended", [LostLeadership("Consul unreachable"), StandingBy("other"), TimerFired(LEASE)])
def test_the_end_of_the_lease_cancels_an_attempt_in_flight(ended: object) -> None:
    """Defect 5: losing the lock (or the lease timer running out) cancels the attempt: its worker sends nothing
    more, its late answer is ignored, its monitor is told."""
    state, attempt = started(until=10.0)
    state, _ = decide(state, VaultAnswered("m1", attempt, SEALED), now=1.0)

    state, effects = decide(state, ended, now=10.0)

    assert CancelAttempt("m1", attempt) in effects
    assert any(isinstance(e, AnswerMonitor) and not e.finished.unsealed for e in effects)
    assert {"m1": attempt} == state.busy  # its share is out: no new attempt on m1 before it is back
    leading_again, _ = decide(state, BecameLeader("me", "s2", 30.0), now=10.1)
    assert (AnswerMonitor(UnsealFinished("m1", False, "a cancelled attempt's call is out")),) == decide(
        leading_again, UnsealRequested("m1", URL), now=10.2
    )[1]
    state, effects = decide(state, VaultAnswered("m1", attempt, SealStatus(True, True, 2, 1, "n1")), now=10.5)
    assert ((), {}) == (effects, state.busy)


def test_at_most_one_attempt_per_node_and_a_second_request_is_answered_by_the_first() -> None:
    """A request for a node being unsealed starts nothing (defect 10: its outcome goes to the node's monitor by
    name, whichever monitor that is by then, so a restarted monitor is not left waiting)."""
    state, attempt = started()

    state, effects = decide(state, UnsealRequested("m1", URL))

    assert () == effects
    state, effects = decide(state, VaultAnswered("m1", attempt, SealStatus(True, False, 2, 0, "")))
    assert AnswerMonitor(UnsealFinished("m1", True, "")) in effects


def test_one_bad_share_among_the_first_threshold_does_not_stop_the_others_from_unsealing() -> None:
    """Defect 11: shares 0 and 1 rejected together; the next attempts try (0, 2), then (1, 2), which unseals.
    (The old UnsealAttempt always sent shares 0 and 1 first: every attempt failed the same way.)"""
    vault = ModelVault(2, {1, 2})
    run = Run.leading(3, {"m1": vault})

    outcomes = [run.request("m1") for _ in range(3)]

    assert [False, False, True] == [outcome.unsealed for outcome in outcomes]
    assert [0, 1, 0, 2, 1, 2] == vault.received
    said = f"m1: Vault rejected unseal key 2 of 2: {WRONG_COMBINATION}; the next attempt tries another combination"
    assert 2 == run.lines().count(f"{said} of the keys")


def test_shares_that_never_unseal_say_so_and_start_over() -> None:
    """Every combination refused: the ERROR saying the keys do not unseal this Vault comes with the last refusal (not
    one poll later); the next attempt starts over at the first combination (the Vault may be re-keyed back)."""
    vault = ModelVault(2, set())
    run = Run.leading(2, {"m1": vault})

    outcomes = [run.request("m1") for _ in range(2)]

    assert [True, True] == [outcome.keys_refused for outcome in outcomes]
    assert KEYS_REFUSED.format(t=2, n=2, given="2 of 2") == outcomes[0].reason
    assert [0, 1, 0, 1] == vault.received


#: The conclusion, as the operator reads it (after "m1: "), with OpenBao 2.7's words for a wrong combination.
KEYS_REFUSED = (
    "the unseal keys do not unseal this Vault (rotated, or another cluster's): every combination of {t} of the {n} "
    f"keys was refused (last: Vault rejected unseal key {{given}}: {WRONG_COMBINATION}); put this Vault's current "
    "keys in the credentials"
)


def levelled(run: Run) -> list[tuple[Level, str]]:
    return [(effect.level, effect.text) for effect in run.effects if isinstance(effect, Log)]


def test_rotated_keys_are_one_error_then_one_per_reminder_period_while_attempts_go_on() -> None:
    """Issue 19: three shares of a split the Vault no longer uses (rotated). Each combination refused but the last is
    an ERROR, as the interface promises for a rejected share (one bad share among good ones would be found by the
    next); the last gives ONE ERROR more saying the keys do not unseal this Vault, marked `keys_refused` for the
    metric. Attempts go on every poll, starting over, quietly (DEBUG), until the reminder period has passed:
    then the ERROR once more."""
    vault = ModelVault(2, set())
    run = Run.leading(3, {"m1": vault})

    first = [run.request("m1") for _ in range(3)]
    run.now = 600.0
    quiet = [run.request("m1") for _ in range(3)]
    run.now = REMINDER_SECONDS + 1.0
    reminded = [run.request("m1") for _ in range(3)]

    conclusion = "m1: " + KEYS_REFUSED.format(t=2, n=3, given="2 of 2")
    assert [False, False, True] * 3 == [outcome.keys_refused for outcome in first + quiet + reminded]
    errors = [text for level, text in levelled(run) if level is Level.ERROR]
    assert conclusion == errors[2] == errors[3] and 4 == len(errors)
    assert all("the next attempt tries another combination of the keys" in error for error in errors[:2])
    assert 18 == len(vault.received)  # 2 shares per poll, every poll: the attempts go on


def test_keys_that_unseal_again_make_a_later_refusal_news() -> None:
    """After the keys unsealed the node (re-keyed back, or the Vault restored), a new refusal is an ERROR at once."""
    vault = ModelVault(2, set())
    run = Run.leading(2, {"m1": vault})
    run.request("m1")
    vault.good = {0, 1}
    vault.sealed = True

    assert run.request("m1").unsealed
    vault.good, vault.sealed = set(), True
    run.now = 60.0
    run.request("m1")

    assert 2 == len([text for level, text in levelled(run) if level is Level.ERROR and "do not unseal" in text])


def test_a_combination_taken_whole_that_leaves_the_vault_sealed_for_a_poll_counts_as_refused() -> None:
    """Issue 19: a Vault that takes every share with 200 and stays sealed with progress 0 (as a follower unsealing in
    the background would, or a joining OpenBao node given another cluster's keys): the decider waits the follower's
    time, says INFO; still sealed at the next request, that combination counts as refused and the next is given in
    the same attempt. None left but one that only stalled once (seed 4914: a node that restarted before it finished
    looks the same): it is given once more (WARN); stalled again, the keys-refused ERROR."""
    vault = ModelVault(2, set(), silent=True)
    run = Run.leading(2, {"m1": vault})

    first = run.request("m1")
    second = run.request("m1")
    third = run.request("m1")

    assert (False, "still unsealing") == (first.keys_refused, first.reason)
    assert "m1: still unsealing in the background; checking at next poll" in run.lines()
    assert (False, "still unsealing") == (second.keys_refused, second.reason)
    assert [(Level.WARN, "giving keys 1 and 2 once more (a second stall is the verdict on them)")] == [
        (level, text.split("looks the same: ")[1]) for level, text in levelled(run) if "once more" in text
    ]
    assert third.keys_refused
    assert "Vault took unseal keys 1 and 2 and stayed sealed for a whole poll" in third.reason
    assert [0, 1, 0, 1] == vault.received  # the only combination, given twice: nothing more in the third attempt
    said = len(levelled(run))
    later = [run.request("m1") for _ in range(4)]  # the attempts go on, quietly until the reminder
    assert [False, False, True, False] == [outcome.keys_refused for outcome in later]  # the verdict, quietly
    assert [] == [(level, text) for level, text in levelled(run)[said:] if level in (Level.WARN, Level.ERROR)]


def test_a_combination_that_stalled_is_tried_again_once_the_vault_refuses_keys_itself() -> None:
    """The simulator's seed 2317: a follower took keys 1, 2 and 3 (the good ones; key 4 is another cluster's) and
    restarted before it finished in the background, so it stayed sealed for a whole poll and that combination counted
    as refused; then the Vault refused keys 1, 2 and 4 itself (400 at the threshold). A Vault that refuses keys itself
    is no follower finishing: the combination that only stalled is no verdict on the keys and is tried again (before,
    the last two combinations were refused too and the Unsealer said at ERROR that the keys do not unseal it)."""
    vault = ModelVault(3, {0, 1, 2}, follower_lag=10**6)
    run = Run.leading(4, {"m1": vault})

    first = run.request("m1")
    vault.lag, vault.follower_lag, vault.sealed = 0, 0, True  # restarted: sealed, and no follower any more
    outcomes = [run.request("m1") for _ in range(2)]

    assert "still unsealing" == first.reason
    assert [(False, False), (True, False)] == [(outcome.unsealed, outcome.keys_refused) for outcome in outcomes]
    assert [0, 1, 2, 0, 1, 3, 0, 1, 2] == vault.received
    assert [] == [line for line in run.lines() if "do not unseal this Vault" in line]


def test_keys_that_stall_then_are_refused_by_the_vault_itself_are_still_said_refused() -> None:
    """The other way round: the keys do not unseal the Vault; it stalls on the first combination (a follower not
    finishing), then refuses combinations itself. The stalled one is tried again, refused too, and the keys-refused
    ERROR comes once every combination was refused by Vault (one attempt more than before, never a loop)."""
    vault = ModelVault(2, set(), silent=True)
    run = Run.leading(3, {"m1": vault})

    first = run.request("m1")
    vault.silent = False
    outcomes = [run.request("m1") for _ in range(3)]

    assert "still unsealing" == first.reason
    assert [False, False, True] == [outcome.keys_refused for outcome in outcomes]
    assert 1 == len([line for line in run.lines() if "do not unseal this Vault" in line])


def test_keys_that_only_stalled_once_are_given_again_before_they_are_said_not_to_unseal_it() -> None:
    """The simulator's seed 4914: a follower took the only combination (three keys, threshold three), its read after
    the threshold held up by the network past its background unseal, then restarted (sealed, progress 0) before any
    reading saw it unsealed: at the next attempt that combination had stalled, so every combination counted refused
    and the Unsealer said at ERROR that the keys do not unseal the Vault, whose shares they were. One stall is a
    guess (a node that restarts looks the same), so the keys are given once more: they unseal it, nothing is said."""
    vault = ModelVault(2, {0, 1}, follower_lag=10**6)
    run = Run.leading(2, {"m1": vault})

    first = run.request("m1")
    vault.lag, vault.follower_lag, vault.sealed = 0, 0, True  # restarted: sealed, and no follower any more
    second = run.request("m1")

    assert "still unsealing" == first.reason
    assert (True, False) == (second.unsealed, second.keys_refused)
    assert [0, 1, 0, 1] == vault.received
    assert [] == [line for line in run.lines() if "do not unseal" in line]
    assert [] == [text for level, text in levelled(run) if level is Level.ERROR]


def test_a_slow_follower_that_unseals_by_the_next_poll_costs_nothing() -> None:
    """A follower slower than the wait, seen unsealed at the next poll (its monitor's reading reaches the Unsealer):
    the combination is not counted; sealed again later (restarted), its first combination is given as always."""
    vault = ModelVault(2, {0, 1}, follower_lag=100)
    run = Run.leading(2, {"m1": vault})

    first = run.request("m1")
    vault.lag, vault.sealed, vault.follower_lag = 0, False, 0
    run.feed(VaultObserved("m1", "http://m1:8200", VaultState.UNSEALED, "standby", "shamir"))
    run.now += 3600.0
    vault.sealed = True
    second = run.request("m1")

    assert (False, True) == (first.unsealed, second.unsealed)


def test_a_share_refused_on_its_own_is_left_out() -> None:
    """A share Vault refuses before the threshold (malformed for it) is left out of later attempts."""
    vault = ModelVault(2, {0, 1, 2}, malformed={0})
    run = Run.leading(3, {"m1": vault})

    outcomes = [run.request("m1") for _ in range(2)]

    assert [False, True] == [outcome.unsealed for outcome in outcomes]
    assert [0, 1, 2] == vault.received


def test_progress_zero_from_another_clients_reset_is_not_taken_for_a_follower() -> None:
    """Defect 11: another client resets between our shares; our next share starts a new nonce. The attempt sees
    the nonce change, gives the shares again, and unseals, rather than waiting for a 'follower'."""
    vault = ModelVault(3, {0, 1, 2})
    state, attempt = started()
    status = vault.read()
    state, effects = decide(state, VaultAnswered("m1", attempt, status))
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(0)))
    vault.reset()  # someone else
    share = effects[-1]
    assert isinstance(share, SubmitShare) and 1 == share.index
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(1)))
    while effects and isinstance(effects[-1], SubmitShare):
        state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(effects[-1].index)))

    assert AnswerMonitor(UnsealFinished("m1", True, "")) in effects
    assert [0, 1, 0, 2] == vault.received


def test_a_refusal_with_another_clients_share_in_the_attempt_does_not_count_against_our_keys() -> None:
    """Another client resets our attempt and gives a wrong share of its own between two of ours: Vault refuses the
    attempt at the threshold for that share. Our combination is not counted as refused (with three keys that would
    say at ERROR that the keys do not unseal the Vault: found by the simulator, seed 24 of the `another client
    attempt` setup); the next attempt gives the same keys and unseals."""
    vault = ModelVault(3, {0, 1, 2})
    state, attempt = started()
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.read()))
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(0)))
    vault.reset()  # someone else, with a share of their own (not this Vault's)
    vault.share(7)
    while effects and isinstance(effects[-1], SubmitShare):
        state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(effects[-1].index)))

    finished = [e.finished for e in effects if isinstance(e, AnswerMonitor)]
    assert [False] == [message.unsealed for message in finished]
    assert "another client's unseal key was in that attempt" in finished[0].reason
    assert not finished[0].keys_refused
    assert not state.rejected.get("m1")
    assert [0, 7, 1, 0] == vault.received

    assert next_attempt_unseals(state, vault)


def test_a_combination_refused_before_our_threshold_is_another_clients_share_not_a_bad_key() -> None:
    """Long-run seed 8984: another instance, its lock lost abruptly (Consul rebuilt) but its lease still running, gave
    shares between ours without a reset, so the nonce did not change; Vault reached the threshold at our second share
    and refused the mixed combination (`... message authentication failed`). Read as our share refused on its own,
    that key was left out, and with the four keys down to three the next refusals said at ERROR that the keys do not
    unseal the Vault. A combination's refusal before our own count reaches the threshold is another client's doing:
    no key is left out and the next attempt tries again."""
    vault = ModelVault(3, {0, 1, 2})
    state, attempt = started()
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.read()))
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(0)))
    vault.share(7)  # someone else's share, in our attempt (same nonce): Vault counts 2
    share = effects[-1]
    assert isinstance(share, SubmitShare) and 1 == share.index
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(1)))  # the threshold: refused

    finished = [e.finished for e in effects if isinstance(e, AnswerMonitor)]
    assert [False] == [message.unsealed for message in finished]
    assert "another client's unseal key was in that attempt" in finished[0].reason
    assert not finished[0].keys_refused
    assert not state.bad.get("m1") and not state.rejected.get("m1")

    assert next_attempt_unseals(state, vault)


def test_a_vault_not_initialized_at_our_threshold_refuses_no_combination() -> None:
    """Long-run seed 10419: the whole Vault cluster restarted between our second share and our third; the node, a
    raft member that joins through the first, said `initialized: false` and refused the third share with 400 `Vault is
    not initialized`. OpenBao checks that before it records any share (vault/core.go's unsealFragment: ErrNotInit
    before the key's length and recordUnsealPart), so the answer says nothing of the combination; taken for its refusal
    because it came at our threshold, it was the only combination of the three keys and the Unsealer said at ERROR that
    the keys do not unseal the Vault. The attempt ends, nothing is refused, and the next one unseals."""
    vault = ModelVault(3, {0, 1, 2})
    state, attempt = started()
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.read()))
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(0)))
    state, effects = decide(state, VaultAnswered("m1", attempt, vault.share(1)))
    share = effects[-1]
    assert isinstance(share, SubmitShare) and 2 == share.index
    vault.given, vault.nonce = [], ""  # the node restarted: its attempt forgotten, and it is not initialized yet

    state, effects = decide(state, VaultAnswered("m1", attempt, Rejected("Vault is not initialized")), now=1.0)

    finished = [e.finished for e in effects if isinstance(e, AnswerMonitor)]
    assert [False] == [message.unsealed for message in finished]
    assert not finished[0].keys_refused
    assert "trying again at the next poll" in finished[0].reason
    assert [] == [e for e in effects if isinstance(e, Log) and e.level is Level.ERROR and "do not unseal" in e.text]
    assert not state.bad.get("m1") and not state.rejected.get("m1")

    assert next_attempt_unseals(state, vault)


def test_a_client_that_keeps_resetting_is_left_alone() -> None:
    """Our progress discarded again and again (each answer in a new nonce, someone having reset the one before):
    after INTERFERENCE_LIMIT times the attempt ends with a reason, rather than fight for ever."""
    state, attempt = started()
    state, effects = decide(state, VaultAnswered("m1", attempt, SealStatus(True, True, 3, 0, "")))
    for nonce in ("n1", "n2", "n3", "n4"):
        state, effects = decide(state, VaultAnswered("m1", attempt, SealStatus(True, True, 3, 1, nonce)))

    assert (
        AnswerMonitor(
            UnsealFinished("m1", False, "another client keeps resetting its unseal attempts; leaving it alone")
        )
        in effects
    )


def test_garbage_from_a_vault_ends_the_attempt_with_one_error_and_no_crash() -> None:
    """Defect 4 on the Unsealer's side: an answer that is not Vault's is an outcome, never an exception."""
    state, attempt = started()

    state, effects = decide(state, VaultAnswered("m1", attempt, Garbage("seal-status answered HTTP 503 (JSON null)")))

    assert (
        AnswerMonitor(
            UnsealFinished(
                "m1",
                False,
                "unseal attempt failed (seal-status answered HTTP 503 (JSON null)); trying again at the next poll",
            )
        )
        in effects
    )


def test_without_the_lock_nothing_is_read_or_sent_and_it_is_said_once() -> None:
    """Not leading: the monitor is answered at once, one INFO for all requests, no switch read."""
    run = Run(Unsealing(2), {"m1": ModelVault(2, {0, 1})})

    first, second = run.request("m1"), run.request("m1")

    assert (False, False) == (first.unsealed, second.unsealed)
    assert 1 == len(run.lines())
    assert not any(isinstance(effect, (ReadSwitch, SubmitShare)) for effect in run.effects)


def test_the_switch_is_read_as_the_cli_reads_it() -> None:
    """`yes` switches auto-unseal off, as `vault auto-unlock` and the environment read it (one boolean reader),
    with one WARN saying how it was read; `ture` leaves it on, with one WARN; neither is said again."""
    run = Run.leading(2, {"m1": ModelVault(2, {0, 1})})
    run.switch = "yes"
    run.request("m1")
    run.request("m1")

    assert [
        "neon/cluster/disable-auto-unseal='yes' read as true: auto-unseal is off",
        "auto-unseal is switched off (neon/cluster/disable-auto-unseal=yes)",
    ] == run.lines()


def test_switch_off_and_unreadable() -> None:
    """disable-auto-unseal=true: no attempt, said once; unreadable: one ERROR per outage, not per request."""
    run = Run.leading(2, {"m1": ModelVault(2, {0, 1})})
    run.switch = "true"
    run.request("m1")
    run.request("m1")
    assert ["auto-unseal is switched off (neon/cluster/disable-auto-unseal=true)"] == run.lines()

    unreadable = Run(run.state, {"m1": ModelVault(2, {0, 1})})
    for now in (0.0, 1.0, 2.0, 301.0):
        unreadable.now = now
        unreadable.feed(SwitchUnreadable("m1", URL, "ConnectionError: refused"))
    unreadable.feed(SwitchRead("m1", URL, "false"))

    said = (
        "cannot read neon/cluster/disable-auto-unseal from Consul (ConnectionError: refused); "
        "not unsealing until it can"
    )
    assert [said, said, "reading neon/cluster/disable-auto-unseal from Consul again",
            "auto-unseal is switched on (neon/cluster/disable-auto-unseal=false)",
            "unsealed the Vault on m1 (http://m1:8200) with 2 keys"] == unreadable.lines()  # fmt: skip


# ------------------------------------------------------------------------------------------ stateful


class UnsealerMachine(RuleBasedStateMachine):
    """Any order of leases, requests, answers (delayed), other clients' shares and resets, and time: no share is
    decided or sent at or after the lease deadline or without the lock, at most one call per node is out, and an
    attempt that ends always answers its node's monitor."""

    @initialize(threshold=st.integers(1, 3), bad=st.sets(st.integers(0, 3), max_size=2))
    def setup(self, threshold: int, bad: set[int]) -> None:
        self.now = 0.0
        self.state = Unsealing(4)
        self.vaults = {name: ModelVault(threshold, set(range(4)) - bad) for name in ("m1", "m2")}
        self.out: dict[str, object] = {}
        """Per node, the call its worker is carrying out."""
        self.cancelled: set[tuple[str, int]] = set()
        self.lease: float | None = None
        self.requests: set[str] = set()

    def feed(self, event: object) -> None:
        pending = [event]
        while pending:
            self.state, effects = self.state.decide(pending.pop(0), self.now)
            for effect in effects:
                if isinstance(effect, (SubmitShare, ResetProgress)):
                    assert self.lease is not None and self.now < self.lease and effect.not_after <= self.lease
                if isinstance(effect, (ReadSealStatus, SubmitShare, ResetProgress)):
                    assert effect.hostname not in self.out, "two calls out for one node"
                    self.out[effect.hostname] = effect
                elif isinstance(effect, CancelAttempt):
                    self.cancelled.add((effect.hostname, effect.attempt))
                elif isinstance(effect, ReadSwitch):
                    pending.append(SwitchRead(effect.hostname, effect.url, None))
                elif isinstance(effect, AnswerMonitor):
                    self.requests.discard(effect.finished.hostname)

    @rule(until=st.floats(0.5, 5.0))
    def become_leader(self, until: float) -> None:
        self.lease = self.now + until
        self.feed(BecameLeader("me", "s", self.lease))

    @precondition(lambda self: self.lease is not None)
    @rule(more=st.floats(0.1, 3.0))
    def extend(self, more: float) -> None:
        assert self.lease is not None
        self.lease = max(self.lease, self.now + more)
        self.feed(LeaseExtended("s", self.lease))

    @rule()
    def lose(self) -> None:
        self.lease = None
        self.feed(LostLeadership("gone"))

    @rule(seconds=st.floats(0.0, 2.0))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        if self.lease is not None and self.now >= self.lease:
            self.feed(TimerFired(LEASE))

    @rule(node=st.sampled_from(["m1", "m2"]))
    def request(self, node: str) -> None:
        self.requests.add(node)
        self.feed(UnsealRequested(node, f"http://{node}:8200"))

    @rule(node=st.sampled_from(["m1", "m2"]))
    def worker_answers(self, node: str) -> None:
        effect = self.out.pop(node, None)
        if effect is None:
            return
        vault = self.vaults[node]
        assert isinstance(effect, (ReadSealStatus, SubmitShare, ResetProgress))
        if isinstance(effect, ReadSealStatus):
            answer: object = vault.read()
        elif (node, effect.attempt) in self.cancelled or self.now >= effect.not_after:
            answer = NotSent("not sent")
        else:
            answer = vault.reset() if isinstance(effect, ResetProgress) else vault.share(effect.index)
        self.feed(VaultAnswered(node, effect.attempt, answer))  # type: ignore[arg-type]

    @rule(node=st.sampled_from(["m1", "m2"]), share=st.integers(0, 3), reset=st.booleans())
    def another_client(self, node: str, share: int, reset: bool) -> None:
        vault = self.vaults[node]
        vault.reset() if reset else vault.share(share)

    @rule(node=st.sampled_from(["m1", "m2"]))
    def follower_timer(self, node: str) -> None:
        self.feed(TimerFired(f"follower:{node}"))

    @invariant()
    def attempts_only_with_a_call_out_or_waiting(self) -> None:
        for node, attempt in self.state.attempts.items():
            assert node in self.out or attempt.wait_until is not None


TestUnsealerMachine = UnsealerMachine.TestCase


def test_no_share_ever_goes_to_an_auto_sealed_vault() -> None:
    """Issue 19: asked anyway (a monitor of an older instance), the Unsealer reads the seal type and sends nothing."""
    state, attempt = started()
    auto = SealStatus(True, True, 1, 0, "", seal_type="static", recovery_seal=True)

    state, effects = decide(state, VaultAnswered("m1", attempt, auto))

    assert [] == [e for e in effects if isinstance(e, (SubmitShare, ResetProgress))]
    assert (
        AnswerMonitor(UnsealFinished("m1", False, "auto seal static: Vault unseals itself; check its seal backend"))
        in effects
    )
