"""The Vault monitor's decider: states, who reports, reminders, the poll timer, unseal requests (pure logic)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from messages.log import Level
from messages.timing import SetInterval
from messages.vault import ReportingRole, UnsealFinished, UnsealRequested, VaultObserved, VaultState
from neon_cm.decider import CancelTimer, Log, Publish, StartTimer, TimerFired
from neon_cm.lease import CHECK_TTL_SECONDS
from neon_cm.monitoring import (
    ESCALATE,
    ESCALATED,
    POLL,
    REMINDER_SECONDS,
    ROLE_WAIT,
    ROLE_WAIT_SECONDS,
    UNSEAL_ANSWER_SECONDS,
    AskUnsealer,
    MonitorStarted,
    Probe,
    Probed,
    UnsealerAbsent,
    VaultMonitoring,
    escalation_seconds,
)
from neon_cm.vault import FOLLOWER_WAIT_SECONDS, SealStatus, observation

URL = "http://127.0.0.12:8200"
REPORTING = ReportingRole(None)
STANDBY = ReportingRole("host:1:abc")


def monitor(role: ReportingRole | None = REPORTING, interval: float = 30.0) -> VaultMonitoring:
    state, _ = VaultMonitoring("manager-2", URL, interval, role).decide(MonitorStarted(), 0.0)
    return state


def poll(state: VaultMonitoring, found: Probed, now: float) -> tuple[VaultMonitoring, tuple[Any, ...]]:
    """A poll timer firing at `now`, its probe finding `found`: the state and every effect after the probe."""
    state, effects = state.decide(TimerFired(POLL), now)
    assert (Probe(),) == effects
    return state.decide(found, now)


def logged(effects: tuple[Any, ...], at_least: Level = Level.INFO) -> list[tuple[Level, str]]:
    return [(e.level, e.text) for e in effects if isinstance(e, Log) and e.level <= at_least]


def test_unexpected_is_an_error_on_the_reporting_instance() -> None:
    """Issue 21 item 6: a URL answering 404 (or a proxy's garbage) means no Vault is watched there: ERROR, as for
    unreachable. (Old code: VaultState.UNEXPECTED was no problem, so the active instance said it at INFO.)"""
    state = monitor()

    _, effects = poll(state, Probed(VaultState.UNEXPECTED, "seal-status answered HTTP 404 (JSON an object)"), 1.0)

    assert [
        (Level.ERROR, f"Vault on manager-2 ({URL}) is unexpected: seal-status answered HTTP 404 (JSON an object)")
    ] == logged(effects)
    assert VaultState.UNEXPECTED.is_problem


def test_a_standby_says_it_at_info_naming_the_reporter() -> None:
    """A standby logs the same change at INFO with the active instance's name."""
    state = monitor(STANDBY)

    _, effects = poll(state, Probed(VaultState.SEALED, "0/2 unseal keys submitted"), 1.0)

    assert [
        (
            Level.INFO,
            f"Vault on manager-2 ({URL}) is sealed: 0/2 unseal keys submitted (standing by: host:1:abc reports it)",
        )
    ] == logged(effects)


def test_an_undecided_role_holds_a_problem_at_most_role_wait_seconds() -> None:
    """Role unknown: the problem waits; the role told reports it at once; or the wait's end reports it at ERROR."""
    state = monitor(None)
    held, effects = poll(state, Probed(VaultState.SEALED, "0/2 unseal keys submitted"), 0.5)
    assert [] == logged(effects)
    assert StartTimer(ROLE_WAIT, ROLE_WAIT_SECONDS - 0.5) in effects

    _, told = held.decide(STANDBY, 1.0)
    _, waited = held.decide(TimerFired(ROLE_WAIT), ROLE_WAIT_SECONDS)

    assert Level.INFO == logged(told)[0][0]
    assert Level.ERROR == logged(waited)[0][0]


def test_a_lasting_problem_is_said_once_then_every_reminder_period() -> None:
    """Sealed poll after poll: one ERROR, then one per REMINDER_SECONDS; progress changing is not news; a new
    state is; unsealed again is one INFO."""
    state = monitor()
    said = []
    for now, found in [
        (1.0, Probed(VaultState.SEALED, "0/2 unseal keys submitted")),
        (31.0, Probed(VaultState.SEALED, "1/2 unseal keys submitted")),
        (REMINDER_SECONDS + 2.0, Probed(VaultState.SEALED, "1/2 unseal keys submitted")),
        (REMINDER_SECONDS + 32.0, Probed(VaultState.UNREACHABLE, "cannot connect")),
        (REMINDER_SECONDS + 62.0, Probed(VaultState.UNSEALED, "standby")),
        (REMINDER_SECONDS + 92.0, Probed(VaultState.UNSEALED, "standby")),
    ]:
        state, effects = poll(state, found, now)
        said += [level for level, _ in logged(effects)]

    assert [Level.ERROR, Level.ERROR, Level.ERROR, Level.INFO] == said


def test_the_poll_timer_counts_from_the_start_of_the_last_poll() -> None:
    """A slow probe does not stretch the interval; SetInterval applies from the last poll's start."""
    state = monitor(interval=10.0)
    state, _ = state.decide(TimerFired(POLL), 100.0)
    state, effects = state.decide(Probed(VaultState.UNSEALED, "active"), 103.0)
    assert StartTimer(POLL, 7.0) in effects
    assert Publish(VaultObserved("manager-2", URL, VaultState.UNSEALED, "active")) in effects

    _, effects = state.decide(SetInterval(5.0), 104.0)

    assert (StartTimer(POLL, 1.0),) == effects


def test_at_most_one_unseal_request_is_outstanding() -> None:
    """Sealed at every poll: one request until answered, or until UNSEAL_ANSWER_SECONDS without an answer; an
    answer saying unsealed probes at once (defect 10: the answer comes by node name, so a restarted monitor,
    whose request was merged into the running attempt, gets it too)."""
    sealed = Probed(VaultState.SEALED, "0/2 unseal keys submitted")
    state = monitor()
    asks = []
    for now in (1.0, 31.0, UNSEAL_ANSWER_SECONDS + 2.0):
        state, effects = poll(state, sealed, now)
        asks += [e for e in effects if isinstance(e, AskUnsealer)]
    assert [AskUnsealer(UnsealRequested("manager-2", URL))] * 2 == asks

    state, effects = state.decide(UnsealFinished("manager-2", True), 70.0)
    assert (Probe(),) == effects
    state, effects = state.decide(UnsealerAbsent(), 71.0)
    assert None is state.unseal_asked_at


SEALED = Probed(VaultState.SEALED, "0/2 unseal keys submitted")
STANDING_BY = f"Vault on manager-2 ({URL}) is sealed: 0/2 unseal keys submitted (standing by: host:1:abc reports it)"


def escalated(seconds: float) -> str:
    return (
        f"Vault on manager-2 ({URL}) is sealed: 0/2 unseal keys submitted (standing by, but sealed for {seconds:.0f}"
        " s: longer than the active instance host:1:abc needs to unseal or report it; check that instance)"
    )


def test_the_escalation_threshold_is_two_polls_the_lock_checks_ttl_and_a_followers_wait() -> None:
    """Longer than the active instance's normal unseal (its first sight a poll late, a bad share costing a poll, a
    takeover within the check's TTL, a raft follower finishing in the background): from the settings and the
    constants they name, not a figure of its own."""
    assert 2 * 30.0 + CHECK_TTL_SECONDS + FOLLOWER_WAIT_SECONDS == escalation_seconds(30.0) == 66.0
    assert 12.0 == escalation_seconds(3.0)


def test_a_standby_that_sees_a_vault_sealed_past_the_threshold_says_it_at_error_once() -> None:
    """Seed 191: the active instance's fleet crash-loops and cannot report; its standbys saw the Vault sealed and said
    it only at INFO. A standby's first sight of the seal starts the ESCALATE timer; when it runs out, the monitor reads
    the Vault at once and, still sealed, says it at ERROR naming the active instance; then nothing more at the polls
    after (said once per sealed period), until the reminder, at ERROR too."""
    state = monitor(STANDBY)
    state, effects = poll(state, SEALED, 1.0)
    assert [(Level.INFO, STANDING_BY)] == logged(effects)
    assert StartTimer(ESCALATE, 66.0) in effects

    state, effects = poll(state, SEALED, 31.0)
    assert [] == logged(effects)
    assert not any(isinstance(e, StartTimer) and e.key == ESCALATE for e in effects)

    state, effects = state.decide(TimerFired(ESCALATE), 67.0)
    assert (Probe(),) == effects
    state, effects = state.decide(SEALED, 67.1)
    assert [(Level.ERROR, escalated(66.1))] == logged(effects)
    assert StartTimer(POLL, 67.0 + 30.0 - 67.1) in effects  # the cadence goes on from this reading's start

    said = []
    for now in (97.0, 127.0, 67.0 + REMINDER_SECONDS - 1.0, 67.0 + REMINDER_SECONDS + 1.0):
        state, effects = poll(state, SEALED, now)
        said += logged(effects)
    assert [(Level.ERROR, escalated(REMINDER_SECONDS + 67.0))] == said


def test_a_poll_change_moves_the_standbys_deadline_with_it() -> None:
    """The operator tryout (slot 24): `vault_poll_seconds` raised from 5 to 30 while a Vault was sealed, and the
    standby said it at ERROR at the old 16 s while the active instance, now polling every 30 s, unsealed it at its
    next poll (a false alarm); lowered from 30 to 0.2, the ERROR still waited 66 s. A change counts from now: raised,
    the deadline is never earlier than the active needs at the new interval; lowered, never later than before."""
    state = monitor(STANDBY, interval=5.0)
    state, effects = poll(state, SEALED, 1.0)
    assert StartTimer(ESCALATE, 16.0) in effects

    state, effects = state.decide(SetInterval(30.0), 11.0)  # deadline 17 -> 11 + 66
    assert StartTimer(ESCALATE, 66.0) in effects

    state, effects = state.decide(SetInterval(0.2), 21.0)  # 77 -> 21 + 6.4
    assert [pytest.approx(escalation_seconds(0.2))] == [
        e.seconds for e in effects if isinstance(e, StartTimer) and e.key == ESCALATE
    ]

    state, effects = state.decide(SetInterval(30.0), 22.0)  # 27.4 -> 22 + 66
    state, effects = state.decide(SetInterval(5.0), 23.0)  # 88 -> min(88, 23 + 16 = 39)
    assert StartTimer(ESCALATE, 16.0) in effects
    _, effects = monitor(REPORTING, interval=5.0).decide(SetInterval(30.0), 1.0)
    assert not any(isinstance(e, StartTimer) and e.key == ESCALATE for e in effects)


def test_a_standby_says_a_vault_sealed_for_less_than_the_threshold_at_info_only() -> None:
    """A Vault the active instance unseals within its normal time (escalation_seconds) gets no ERROR from a standby:
    sealed at two polls in a row, then unsealed; the timer is cancelled, and one that fired anyway says nothing."""
    state = monitor(STANDBY)
    said = []
    for now, found in ((1.0, SEALED), (31.0, SEALED), (61.0, Probed(VaultState.UNSEALED, "standby"))):
        state, effects = poll(state, found, now)
        said += logged(effects)
    assert [(Level.INFO, STANDING_BY), (Level.INFO, f"Vault on manager-2 ({URL}) is unsealed: standby")] == said
    assert CancelTimer(ESCALATE) in effects
    assert None is state.lasting_since

    state, effects = state.decide(TimerFired(ESCALATE), 67.0)
    assert () == effects


def test_a_vault_unsealed_by_the_deadline_is_not_escalated() -> None:
    """The reading taken when the timer runs out decides: unsealed by then, no ERROR."""
    state = monitor(STANDBY)
    state, _ = poll(state, SEALED, 1.0)
    state, _ = state.decide(TimerFired(ESCALATE), 67.0)

    state, effects = state.decide(Probed(VaultState.UNSEALED, "standby"), 67.1)

    assert [(Level.INFO, f"Vault on manager-2 ({URL}) is unsealed: standby")] == logged(effects)
    assert (None, False, False) == (state.lasting_since, state.escalation_due, state.escalated)


def test_a_vault_sealed_again_starts_a_new_sealed_period() -> None:
    """Unsealed resets the period: sealed again is INFO, and the ERROR comes a full threshold after that."""
    state = monitor(STANDBY, interval=3.0)
    state, _ = poll(state, SEALED, 1.0)
    state, _ = state.decide(TimerFired(ESCALATE), 13.0)
    state, effects = state.decide(SEALED, 13.0)
    assert [(Level.ERROR, escalated(12.0))] == logged(effects)
    state, _ = poll(state, Probed(VaultState.UNSEALED, "standby"), 16.0)

    state, effects = poll(state, SEALED, 19.0)

    assert [(Level.INFO, STANDING_BY)] == logged(effects)
    assert StartTimer(ESCALATE, 12.0) in effects
    state, _ = state.decide(TimerFired(ESCALATE), 31.0)
    _, effects = state.decide(SEALED, 31.0)
    assert [(Level.ERROR, escalated(12.0))] == logged(effects)


def test_a_standby_that_becomes_the_reporter_says_it_at_error_as_today() -> None:
    """Taking the lock forgets the sealed period (the timer cancelled): the next reading says it at ERROR as the
    reporting instance's plain line, and the timer running out afterwards changes nothing."""
    state = monitor(STANDBY)
    state, _ = poll(state, SEALED, 1.0)

    state, effects = state.decide(REPORTING, 20.0)
    assert (CancelTimer(ESCALATE),) == effects
    state, effects = poll(state, SEALED, 31.0)
    assert [(Level.ERROR, f"Vault on manager-2 ({URL}) is sealed: 0/2 unseal keys submitted")] == logged(effects)
    assert not any(isinstance(e, StartTimer) and e.key == ESCALATE for e in effects)

    _, effects = state.decide(TimerFired(ESCALATE), 67.0)
    assert () == effects


def test_what_the_vault_says_of_itself_is_escalated_not_what_may_be_the_standbys_own_path() -> None:
    """Not initialized (seeds 191, 194: Vaults restarted together), removed, disconnected are the Vault's own answer,
    the same from every instance: escalated as sealed is. Unreachable and unexpected may be the standby's own path
    to the node: INFO only, whatever their length."""
    for state in (VaultState.NOT_INITIALIZED, VaultState.REMOVED, VaultState.DISCONNECTED):
        standby, effects = poll(monitor(STANDBY, interval=3.0), Probed(state, "detail"), 1.0)
        assert StartTimer(ESCALATE, 12.0) in effects
        standby, _ = standby.decide(TimerFired(ESCALATE), 13.0)
        _, effects = standby.decide(Probed(state, "detail"), 13.0)
        assert [Level.ERROR] == [level for level, _ in logged(effects)], state
    for state in (VaultState.UNREACHABLE, VaultState.UNEXPECTED):
        standby, effects = poll(monitor(STANDBY), Probed(state, "cannot connect"), 1.0)
        assert not any(isinstance(e, StartTimer) and e.key == ESCALATE for e in effects)
        assert None is standby.lasting_since


def test_one_period_lasts_through_the_states_the_vault_says_of_itself() -> None:
    """Seed 194: sealed, then not initialized (Vaults restarted together) is one period: the new state is news at INFO,
    the timer goes on from the first sight; the ERROR says the state it finds. Once escalated, another such state is
    said at ERROR too; unreachable is said at INFO and does not end the period (an unsealed reading does)."""
    state = monitor(STANDBY, interval=3.0)
    state, _ = poll(state, SEALED, 1.0)

    state, effects = poll(state, Probed(VaultState.NOT_INITIALIZED, ""), 4.0)
    assert [Level.INFO] == [level for level, _ in logged(effects)]
    assert not any(isinstance(e, StartTimer) and e.key == ESCALATE for e in effects)
    state, _ = state.decide(TimerFired(ESCALATE), 13.0)
    state, effects = state.decide(Probed(VaultState.NOT_INITIALIZED, ""), 13.0)
    assert [Level.ERROR] == [level for level, _ in logged(effects)]
    assert "(standing by, but not-initialized for 12 s: longer than" in logged(effects)[0][1]

    state, effects = poll(state, SEALED, 16.0)
    assert [(Level.ERROR, escalated(15.0))] == logged(effects)
    state, effects = poll(state, Probed(VaultState.UNREACHABLE, "cannot connect"), 19.0)
    assert [Level.INFO] == [level for level, _ in logged(effects)]
    assert CancelTimer(ESCALATE) not in effects
    state, effects = poll(state, Probed(VaultState.UNSEALED, "standby"), 22.0)
    assert CancelTimer(ESCALATE) in effects


def test_a_standbys_unreadable_poll_neither_ends_nor_resets_a_sealed_period() -> None:
    """Helper wrep's finding (seed 2695): one poll that could not read the Vault (a slow path, a tail latency)
    started the standby's period again, so on a flaky path to a node whose active instance cannot report it, a
    sealed Vault was never said at ERROR. Unreachable or unexpected says nothing of the seal: the period goes on
    from the first sight, and a deadline that finds the Vault unreadable is met by the next sealed reading."""
    unreachable = Probed(VaultState.UNREACHABLE, "cannot connect")
    state = monitor(STANDBY, interval=3.0)
    state, _ = poll(state, SEALED, 1.0)
    state, effects = poll(state, unreachable, 4.0)
    assert [Level.INFO] == [level for level, _ in logged(effects)]
    assert not any(isinstance(e, (StartTimer, CancelTimer)) and e.key == ESCALATE for e in effects)
    state, _ = poll(state, SEALED, 7.0)

    state, _ = state.decide(TimerFired(ESCALATE), 13.0)
    state, effects = state.decide(unreachable, 13.0)  # the deadline's reading cannot read it either
    assert [Level.INFO] == [level for level, _ in logged(effects)]
    state, effects = poll(state, SEALED, 16.0)
    assert [(Level.ERROR, escalated(15.0))] == logged(effects)


def test_a_period_seen_before_the_role_is_known_counts_for_the_standby() -> None:
    """Seed 209: a standby's first reading (sealed, held while the role is not known yet) starts the period; told it
    stands by, the timer counts from that first sight."""
    state = monitor(None, interval=3.0)
    state, effects = poll(state, SEALED, 0.5)
    assert StartTimer(ESCALATE, 12.0) in effects
    state, _ = state.decide(STANDBY, 0.6)
    for now in (3.5, 6.5, 9.5):
        state, _ = poll(state, SEALED, now)

    state, effects = state.decide(TimerFired(ESCALATE), 12.5)
    assert (Probe(),) == effects
    _, effects = state.decide(SEALED, 12.5)

    assert [(Level.ERROR, escalated(12.0))] == logged(effects)


# ------------------------------------------------------------------------------------------ stateful


class MonitorMachine(RuleBasedStateMachine):
    """Any order of readings, roles, answers and time: a standby logs at ERROR only a Vault it has read in a state of
    ESCALATED, and found well at no reading, for longer than `escalation_seconds`, once per period (again only for
    another state, or after a reading that could not read it; no reminder is due in these runs);
    a problem on a reporting
    instance is at ERROR within ROLE_WAIT_SECONDS of start or of the change; requests never overlap unless the
    previous one is older than UNSEAL_ANSWER_SECONDS; every reading is published and the next poll scheduled."""

    @initialize(role=st.sampled_from([None, REPORTING, STANDBY]))
    def setup(self, role: ReportingRole | None) -> None:
        self.now = 0.0
        self.state, _ = VaultMonitoring("manager-2", URL, 2.0, role).decide(MonitorStarted(), 0.0)
        self.asked_at: float | None = None
        self.unreported: VaultState | None = None
        """A problem not yet said at ERROR while this instance reports."""
        self.sealed_from: float | None = None
        """Unless reporting: since when every reading was a problem, the first of them one of ESCALATED; None
        otherwise."""
        self.said: VaultState | None = None
        """The state a standby last said at ERROR in the period under way."""
        self.escalate_at: float | None = None
        """When the pending ESCALATE timer runs out."""

    def feed(self, event: Any) -> list[Any]:
        self.state, effects = self.state.decide(event, self.now)
        out = list(effects)
        for effect in effects:
            if isinstance(effect, Log) and effect.level is Level.ERROR:
                if self.state.role is not None and self.state.role.standby_of is not None:
                    assert isinstance(event, Probed) and event.state in ESCALATED
                    assert self.sealed_from is not None
                    assert self.now - self.sealed_from >= escalation_seconds(self.state.interval) - 1e-9
                    assert self.said is not event.state  # once per period, again only for another state
                    self.said = event.state
                self.unreported = None
            if isinstance(effect, StartTimer) and effect.key == ESCALATE:
                self.escalate_at = self.now + effect.seconds
            if effect == CancelTimer(ESCALATE):
                self.escalate_at = None
            if isinstance(effect, AskUnsealer):
                assert self.asked_at is None or self.now - self.asked_at > UNSEAL_ANSWER_SECONDS
                self.asked_at = self.now
        return out

    def read(self, state: VaultState) -> list[Any]:
        reporting = self.state.role is not None and self.state.role.standby_of is None
        if not state.is_problem or reporting:
            self.sealed_from, self.said = None, None
        elif state not in ESCALATED:
            self.said = None  # unreadable: the period goes on, and the seal read next is news again
        if state in ESCALATED and not reporting and self.sealed_from is None:
            self.sealed_from = self.now
        return self.feed(Probed(state, "detail"))

    @rule(state=st.sampled_from(list(VaultState)), seconds=st.floats(0.0, 3.0))
    def poll(self, state: VaultState, seconds: float) -> None:
        self.now += seconds
        self.feed(TimerFired(POLL))
        effects = self.read(state)
        assert Publish(VaultObserved("manager-2", URL, state, "detail")) in effects
        assert any(isinstance(e, StartTimer) and e.key == POLL for e in effects)
        reporting = self.state.role is None or self.state.role.standby_of is None
        if not state.is_problem or not reporting:
            self.unreported = None
        elif not logged(tuple(effects), Level.ERROR) and self.state.problem != state:
            self.unreported = state

    @rule(role=st.sampled_from([REPORTING, STANDBY]))
    def role(self, role: ReportingRole) -> None:
        self.feed(role)
        if role.standby_of is not None:
            self.unreported = None
        else:
            self.sealed_from, self.said = None, None

    @rule(state=st.sampled_from(list(VaultState)))
    def escalation_timer_runs_out(self, state: VaultState) -> None:
        """The pending ESCALATE timer runs out (the shell drops a cancelled or replaced one); the probe it asks for
        reads `state`."""
        if self.escalate_at is None:
            return
        if self.state.held and self.escalate_at >= ROLE_WAIT_SECONDS:
            self.role_wait_ends()  # the timers run out in their order
        self.now, self.escalate_at = max(self.now, self.escalate_at), None
        if self.feed(TimerFired(ESCALATE)):
            self.read(state)

    @rule()
    def role_wait_ends(self) -> None:
        self.now = max(self.now, ROLE_WAIT_SECONDS)
        self.feed(TimerFired(ROLE_WAIT))

    @rule(unsealed=st.booleans())
    def unsealer_answers(self, unsealed: bool) -> None:
        self.feed(UnsealFinished("manager-2", unsealed))
        self.asked_at = None

    @invariant()
    def a_reported_problem_waits_only_for_the_role(self) -> None:
        if self.unreported is not None:
            assert self.state.held and self.now < ROLE_WAIT_SECONDS


TestMonitorMachine = MonitorMachine.TestCase


def test_an_auto_sealed_vault_is_reported_and_never_sent_to_the_unsealer() -> None:
    """Issue 19: sealed with an auto seal: ERROR saying so, no unseal request (its keys are recovery keys)."""
    detail = "auto seal static: Vault unseals itself; check its seal backend"

    _, effects = poll(monitor(), Probed(VaultState.SEALED, detail, unsealable=False), 1.0)

    assert [(Level.ERROR, f"Vault on manager-2 ({URL}) is sealed: {detail}")] == logged(effects)
    assert [] == [e for e in effects if isinstance(e, AskUnsealer)]


def test_a_vault_removed_from_its_cluster_is_an_error_of_its_own_and_never_sent_to_the_unsealer() -> None:
    """Issue 19: `removed` (health 530, or seal-status `removed_from_cluster`): ERROR with its own words, said once
    and then on the reminder period, and never an unseal request, sealed or not."""
    detail = "removed from its raft cluster: not unsealing it; re-join or replace the node"
    state = monitor()
    said = []
    asked = []
    for now in (1.0, 31.0, REMINDER_SECONDS + 2.0):
        state, effects = poll(state, Probed(VaultState.REMOVED, detail, unsealable=False, seal_type="shamir"), now)
        said += logged(effects, Level.ERROR)
        asked += [e for e in effects if isinstance(e, AskUnsealer)]

    assert [(Level.ERROR, f"Vault on manager-2 ({URL}) is removed: {detail}")] * 2 == said
    assert [] == asked
    assert VaultObserved("manager-2", URL, VaultState.REMOVED, detail, "shamir") == state.last


def test_a_standby_that_cannot_reach_the_active_node_is_an_error_and_not_unsealed() -> None:
    """Issue 19: `disconnected` (health 474): ERROR with its own words; unsealed already, so no unseal request."""
    detail = "standby cannot reach the active node (health 474)"

    _, effects = poll(monitor(), Probed(VaultState.DISCONNECTED, detail, seal_type="shamir"), 1.0)

    assert [(Level.ERROR, f"Vault on manager-2 ({URL}) is disconnected: {detail}")] == logged(effects)
    assert [] == [e for e in effects if isinstance(e, AskUnsealer)]


def test_a_vault_not_initialized_says_what_to_do_and_a_line_with_no_detail_ends_with_its_state() -> None:
    """Operator tryout on the real stack (an OpenBao never initialised): the ERROR said `is not-initialized: ` and
    stopped there. The words now say what the operator does; a state with no detail ends the line without a colon."""
    reading = observation(SealStatus(initialized=False, sealed=True, threshold=0, progress=0, nonce=""), None)
    _, effects = poll(monitor(), Probed(reading.state, reading.detail), 1.0)

    assert [
        (
            Level.ERROR,
            f"Vault on manager-2 ({URL}) is not-initialized: it has no root key yet: initialise it (`bao operator "
            "init`, `vault operator init`), or, for a raft follower, let it join its cluster; no unseal key is sent to "
            "it",
        )
    ] == logged(effects)
    _, effects = poll(monitor(), Probed(VaultState.UNSEALED, ""), 1.0)
    assert [(Level.INFO, f"Vault on manager-2 ({URL}) is unsealed")] == logged(effects)


def test_an_unsealed_auto_sealed_vault_says_its_seal_in_the_state_line() -> None:
    """Issue 19: unsealed with a static seal, the INFO state line says the seal beside the role."""
    _, effects = poll(monitor(), Probed(VaultState.UNSEALED, "active, auto seal static", seal_type="static"), 1.0)

    assert [(Level.INFO, f"Vault on manager-2 ({URL}) is unsealed: active, auto seal static")] == logged(effects)
