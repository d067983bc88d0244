"""sim/judge.py: every invariant on small hand-built histories, kept and broken (the same functions judge the
simulator's runs and the real-stack fault runs, tests/integration/test_judge.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sim import judge as j
from sim.judge import History

BOUNDS = j.Bounds(check_ttl=3.0, vault_poll=3.0, report_margin=4.5, restart=5.0, reminder=60.0)
"""Two polls + margin: a sealed Vault is reported within 10.5 s of its clock."""


def names(findings: list[j.Finding]) -> list[str]:
    return [finding.invariant for finding in findings]


def leader(owner: str = "i1", session: str = "s1", at: float = 0.5, until: float = 5.0) -> list[j.Record]:
    """`owner` takes the lock at `at` and its Leadership tells a lease until `until`."""
    return [j.LockAcquired(at, owner, session), j.LeaseTold(at + 0.01, owner, session, until)]


# ------------------------------------------------------------------------------------------ never two unsealers


def test_shares_and_resets_of_the_lease_holder_are_fine() -> None:
    history = History([*leader(), j.ShareReceived(1.0, "m1", "i1"), j.ResetReceived(2.0, "m1", "i1")])

    assert [] == j.never_two_unsealers(history, BOUNDS)


def test_two_senders_shares_inside_one_lease_period_are_flagged() -> None:
    """The negative control: i2 never held the lock, yet a Vault received its share while i1's lease ran."""
    history = History([*leader(), j.ShareReceived(1.0, "m1", "i1"), j.ShareReceived(1.2, "m1", "i2")])

    findings = j.never_two_unsealers(history, BOUNDS)

    assert ["never two unsealers"] == names(findings)
    assert "from i2 at 1.200" in findings[0].text


def test_a_reset_counts_as_a_share() -> None:
    """A reset discards what the other unsealer gave: it is a second unsealer as much as a share."""
    history = History([*leader(), j.ResetReceived(1.2, "m1", "i2")])

    assert ["never two unsealers"] == names(j.never_two_unsealers(history, BOUNDS))


def test_a_share_received_after_the_lease_and_its_margin_ended_is_flagged_even_if_sent_before() -> None:
    """Counted at receipt: a share may still be on its way when the sender's deadline passes, and the lock cannot be
    lost before the check expires, the lease's margin later; a share that reaches the Vault after that is flagged
    (defect 2 of issue 26: a slow connect carried one 1.8 s past the deadline)."""
    in_flight = History([*leader(until=5.0), j.ShareReceived(5.001, "m1", "i1")])
    too_late = History([*leader(until=5.0), j.ShareReceived(5.0 + BOUNDS.lease_margin, "m1", "i1")])

    findings = j.never_two_unsealers(too_late, BOUNDS)

    assert [] == j.never_two_unsealers(in_flight, BOUNDS)
    assert ["never two unsealers"] == names(findings)
    assert "lease ended at 5.000" in findings[0].text


def test_a_share_after_another_took_the_lock_is_flagged_unless_the_loss_was_abrupt() -> None:
    """Another instance took the lock: the old holder's shares are flagged, even before its deadline, unless Consul
    released its lock abruptly (news its Leadership cannot have yet): then its shares before the deadline its lease
    had then are not counted; a lease extended after it is not."""
    expired = History(
        [
            *leader(until=5.0),
            j.LockLost(1.0, "i1", "s1", ""),
            *leader("i2", "s2", at=1.5, until=6.0),
            j.ShareReceived(4.9, "m1", "i1"),
        ]
    )
    abrupt = History(
        [
            *leader(until=5.0),
            j.LockLost(1.0, "i1", "s1", "its session was destroyed"),
            *leader("i2", "s2", at=1.5, until=6.0),
            j.ShareReceived(4.9, "m1", "i1"),
        ]
    )
    extended = History([*abrupt, j.LeaseTold(2.0, "i1", "s1", 9.0), j.ShareReceived(6.0, "m1", "i1")])

    assert ["never two unsealers"] == names(j.never_two_unsealers(expired, BOUNDS))
    assert [] == j.never_two_unsealers(abrupt, BOUNDS)
    findings = j.never_two_unsealers(extended, BOUNDS)
    assert ["never two unsealers"] == names(findings)
    assert "i2 took the lock at 1.500" in findings[0].text


def test_a_lease_earned_before_an_abrupt_loss_and_told_after_it_is_the_one_the_loss_cut() -> None:
    """Long-run seed 8302 of 6ddc47d: i1 passed its check at 0.9 and acquired the lock at 0.95, and the answer came
    0.8 s late; meanwhile its session was destroyed (1.0) and i2 took the lock (1.5). The lease i1 then told (at 2.0,
    counted from that pass: until 0.9 + TTL - 1) is the one Consul cut, news Leadership cannot have: its shares
    within it + the margin are not counted. A lease counted from a pass after the loss is no such lease."""
    cut = [
        j.LockAcquired(0.95, "i1", "s1"),
        j.LockLost(1.0, "i1", "s1", "its session was destroyed"),
        *leader("i2", "s2", at=1.5, until=6.0),
        j.LeaseTold(2.0, "i1", "s1", 0.9 + BOUNDS.check_ttl - 1.0),
    ]
    within = History([*cut, j.ShareReceived(2.1, "m1", "i1"), j.ShareReceived(3.8, "m1", "i1")])
    past = History([*cut, j.ShareReceived(2.9 + BOUNDS.lease_margin, "m1", "i1")])
    later_pass = History([*cut[:3], j.LeaseTold(2.0, "i1", "s1", 3.5), j.ShareReceived(2.1, "m1", "i1")])

    assert [] == j.never_two_unsealers(within, BOUNDS)
    assert ["never two unsealers"] == names(j.never_two_unsealers(past, BOUNDS))
    findings = j.never_two_unsealers(later_pass, BOUNDS)
    assert ["never two unsealers"] == names(findings)
    assert "i2 took the lock at 1.500" in findings[0].text


def test_someone_elses_share_is_not_judged() -> None:
    """A client that is no instance (an operator, another tool) is not one of the unsealers judged."""
    history = History([*leader(), j.ShareReceived(1.2, "m1", None)])

    assert [] == j.never_two_unsealers(history, BOUNDS)


# ------------------------------------------------------------------------------------------ never a stale writer


def test_a_write_by_the_holder_is_fine_and_by_anyone_else_is_flagged() -> None:
    kept = History([*leader(), j.Written(1.0, "i1", "i1", "neon/definition")])
    broken = History([*leader(), j.Written(1.0, "i2", "i1", "neon/definition")])
    nobody = History([j.Written(1.0, "i1", None, "neon/definition")])

    assert [] == j.never_a_stale_writer(kept, BOUNDS)
    assert ["never a stale writer"] == names(j.never_a_stale_writer(broken, BOUNDS))
    assert ["never a stale writer"] == names(j.never_a_stale_writer(nobody, BOUNDS))


def test_the_holder_at_a_time_follows_the_lock_records() -> None:
    history = History([*leader(), j.LockLost(3.0, "i1", "s1", ""), *leader("i2", "s2", at=4.0)])

    assert [None, "i1", None, "i2"] == [j.holder_at(history, t) for t in (0.2, 2.0, 3.5, 4.2)]


# ------------------------------------------------------------------------------------------ a lease told is held


def test_a_lease_told_on_a_session_holding_the_lock_is_fine() -> None:
    history = History([*leader(), j.LeaseTold(2.0, "i1", "s1", 6.0)])

    assert [] == j.a_lease_told_is_a_lease_held(history, BOUNDS)


def test_a_lease_told_on_a_session_not_holding_the_lock_is_flagged() -> None:
    """A deadline still to come told for a session that lost the lock (its TTL expired); a deadline already past
    claims nothing."""
    history = History([*leader(), j.LockLost(3.0, "i1", "s1", ""), j.LeaseTold(3.5, "i1", "s1", 3.2)])
    broken = History([*history, j.LeaseTold(3.6, "i1", "s1", 6.0)])

    assert [] == j.a_lease_told_is_a_lease_held(history, BOUNDS)
    findings = j.a_lease_told_is_a_lease_held(broken, BOUNDS)
    assert ["a lease told is a lease held"] == names(findings)
    assert "holds no lock" in findings[0].text


def test_a_lease_told_just_after_an_abrupt_loss_is_excused() -> None:
    """Its session destroyed at 3.0: Leadership cannot know yet; a deadline counted from a pass since (at most
    TTL - 1 before it) is excused, a later one is not."""
    lost = [*leader(), j.LockLost(3.0, "i1", "s1", "its session was destroyed")]

    assert [] == j.a_lease_told_is_a_lease_held(History([*lost, j.LeaseTold(3.1, "i1", "s1", 4.9)]), BOUNDS)
    late = History([*lost, j.LeaseTold(4.5, "i1", "s1", 6.5)])
    assert ["a lease told is a lease held"] == names(j.a_lease_told_is_a_lease_held(late, BOUNDS))


# ------------------------------------------------------------------------------------------ always reported


def sealed_manager(at: float = 0.0) -> list[j.Record]:
    return [j.RoleChanged(0.0, "m1", manager=True), j.Listed(0.0, "m1"), j.Sealed(at, "m1")]


def test_a_sealed_vault_reported_at_error_is_fine() -> None:
    history = History([*sealed_manager(), *leader(), j.ErrorLogged(4.0, "i1", "m1")])

    assert [] == j.always_reported(history, BOUNDS, end=30.0)


def test_a_sealed_vault_nobody_reports_is_flagged_past_the_bound() -> None:
    """Two polls + the margin (10.5 s): looked at every 0.5 s, first broken at 11.0."""
    history = History([*sealed_manager(), *leader(until=100.0)])

    assert [] == j.always_reported(history, BOUNDS, end=10.5)
    findings = j.always_reported(history, BOUNDS, end=11.5)
    assert ["always reported"] == names(findings)
    assert 11.0 == findings[0].t


def test_a_report_ends_when_its_monitor_sees_the_vault_unsealed() -> None:
    """An ERROR counts until that instance's monitor sees the Vault unsealed; sealed again, it must be said again."""
    history = History(
        [
            *sealed_manager(),
            *leader(until=100.0),
            j.ErrorLogged(4.0, "i1", "m1"),
            j.Unsealed(5.0, "m1"),
            j.SeenUnsealed(6.0, "i1", "m1"),
            j.Sealed(7.0, "m1"),
        ]
    )

    findings = j.always_reported(history, BOUNDS, end=20.0)
    assert ["always reported"] == names(findings)
    assert "sealed since 7.000" in findings[0].text


def test_what_a_restarted_containers_old_process_said_no_longer_counts() -> None:
    """The old process's ERROR (and its reminders) died with it: the new one must say a Vault still sealed again,
    within the bound from its start (helper wrep: the judge kept counting the old ERROR for good)."""
    said = [*sealed_manager(), *leader(until=100.0), j.ErrorLogged(4.0, "i1", "m1"), j.ContainerRestarted(10.0, "i1")]

    assert [] == j.always_reported(History(said), BOUNDS, end=20.0)
    findings = j.always_reported(History(said), BOUNDS, end=30.0)
    assert ["always reported"] == names(findings)
    assert [] == j.always_reported(History([*said, j.ErrorLogged(15.0, "i1", "m1")]), BOUNDS, end=30.0)


def test_a_vault_said_by_a_replaced_process_is_the_new_reporters_from_its_lease_run() -> None:
    """Long-run seeds 386, 511, 569, 604, 1020, 1252 (e47c176): the active i1 said it, then a rolling update replaced
    its container and i2 took the lock at 12 s: i2 must say it within the bound from then, not from the seal."""
    records = [
        *sealed_manager(),
        *leader(until=10.0),
        j.ErrorLogged(4.0, "i1", "m1"),
        j.ContainerRestarted(10.0, "i1"),
        j.LockAcquired(12.0, "i2", "s2"),
        j.LeaseTold(12.0, "i2", "s2", 100.0),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=22.5)
    assert 23.0 == j.always_reported(History(records), BOUNDS, end=30.0)[0].t


def test_the_reporters_disturbance_restarts_its_clock_and_a_standbys_does_not() -> None:
    """Sealed at 5 s; i1 holds the lease: its pause (counted from its resumption) restarts the clock; a pause of the
    standby i2 does not (the active one reports meanwhile)."""
    base = [*sealed_manager(at=5.0), *leader(until=100.0)]
    active_paused = History([*base, j.Paused(8.0, "i1", 12.0)])
    standby_paused = History([*base, j.Paused(8.0, "i2", 12.0)])

    assert [] == j.always_reported(active_paused, BOUNDS, end=22.5)
    assert ["always reported"] == names(j.always_reported(active_paused, BOUNDS, end=23.0))
    assert 16.0 == j.always_reported(standby_paused, BOUNDS, end=23.0)[0].t


def test_an_outage_longer_than_the_bound_breaks_it() -> None:
    """A Consul outage is no disturbance: nobody holding a lease, every instance should report at ERROR; a
    silence as long as the outage (14 s) breaks the bound."""
    history = History([*sealed_manager(), *leader(until=2.0), j.LockLost(2.0, "i1", "s1", "")])

    assert ["always reported"] == names(j.always_reported(history, BOUNDS, end=14.0))


def test_an_unreadable_vault_or_an_unlisted_manager_starts_its_clock_later() -> None:
    unreadable = History([*sealed_manager(), *leader(until=100.0), j.Unreadable(1.0, "m1", 6.0)])
    promoted = History(
        [
            j.RoleChanged(0.0, "m2", manager=True),
            j.Sealed(0.0, "m2"),
            *leader(until=100.0),
            j.Listed(5.0, "m2"),
        ]
    )

    assert [] == j.always_reported(unreadable, BOUNDS, end=16.5)
    assert 17.0 == j.always_reported(unreadable, BOUNDS, end=20.0)[0].t
    assert [] == j.always_reported(promoted, BOUNDS, end=15.5)
    assert 16.0 == j.always_reported(promoted, BOUNDS, end=20.0)[0].t


def test_a_longer_poll_set_widens_the_bound() -> None:
    history = History([*sealed_manager(), *leader(until=100.0), j.PollsSet(1.0, 3.0, 4.0)])

    assert [] == j.always_reported(history, BOUNDS, end=12.5)
    assert 13.0 == j.always_reported(history, BOUNDS, end=20.0)[0].t


def test_a_standbys_error_past_its_threshold_counts_whoever_holds_the_lock() -> None:
    """A standby (not the reporter when it said it) that says it at ERROR (neon_cm/monitoring.py's escalation) reports
    it, until its monitor sees the Vault unsealed."""
    said = [*sealed_manager(), *leader(until=100.0), j.ErrorLogged(4.0, "i2", "m1")]
    seen = History([*said, j.Unsealed(5.0, "m1"), j.SeenUnsealed(5.5, "i2", "m1"), j.Sealed(6.0, "m1")])

    assert [] == j.always_reported(History(said), BOUNDS, end=30.0)
    assert "sealed since 6.000" in j.always_reported(seen, BOUNDS, end=30.0)[0].text


def test_a_vault_the_active_instance_does_not_monitor_is_the_standbys_past_their_threshold() -> None:
    """Seeds 191, 194, 209: the lock holder's fleet wants no monitor of m1 (dead, or nothing listed), a standby's does:
    the bound + the standbys' threshold (2 polls + TTL + a follower's wait: 12 s) from the seal, not the bound."""
    records = [
        *sealed_manager(),
        *leader(until=100.0),
        j.MonitorsWanted(0.1, "i1", ()),
        j.MonitorsWanted(0.2, "i2", ("m1",)),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=22.5)
    assert 23.0 == j.always_reported(History(records), BOUNDS, end=30.0)[0].t
    reported = History([*records, j.ErrorLogged(21.0, "i2", "m1")])
    assert [] == j.always_reported(reported, BOUNDS, end=30.0)


def test_every_container_restarted_is_no_hand_built_history_and_nobody_watches_then() -> None:
    """Long-run seed 7685: both instances' containers restarted, and neither new fleet wanted a monitor yet (the
    holder lists nothing, the standby's fleet in a crash loop): with no MonitorsWanted left, the judge took the history
    for a hand-built one (the holder watching since 0) and wanted the holder's ERROR within the bound. Nobody watches
    the Vault then: the standbys' rule applies, from the standby's restart."""
    records = [
        *sealed_manager(),
        *leader(until=100.0),
        j.MonitorsWanted(0.1, "i1", ("m1",)),
        j.MonitorsWanted(0.2, "i2", ("m1",)),
        j.ContainerRestarted(5.0, "i1"),
        j.ContainerRestarted(6.0, "i2"),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=28.0)
    assert 29.0 == j.always_reported(History(records), BOUNDS, end=30.0)[0].t


def test_a_standbys_escalation_said_while_no_lease_is_told_counts_once_a_lease_run_begins() -> None:
    """Long-run seed 2289: the holder i1 monitors nothing (its Docker never listed); its lease lapsed at 5 s and it
    leads again at 12.5 s. The standby i2 said its escalation (`standing by, but sealed for 12 s`) at 12 s, when no
    lease was told: counted as the reporter's own ERROR, it stopped counting at i1's new lease run, and the Vault was
    found unreported at 23 s. A standby's escalation counts whoever holds the lock, whenever it is said; a plain ERROR
    of an instance that reported while no lease was told is still the new holder's to say again, and as i1 monitors
    nothing, the standbys' past their threshold counted from i1's lease run (seed 428: a monitor that was the
    reporter starts its standby period when told it stands by): 12.5 + 22.5."""
    records = [
        *sealed_manager(),
        *leader(until=5.0),
        j.MonitorsWanted(0.1, "i1", ()),
        j.MonitorsWanted(0.2, "i2", ("m1",)),
        j.LeaseTold(12.5, "i1", "s1", 100.0),
    ]
    escalation = History([*records, j.ErrorLogged(12.0, "i2", "m1", standby=True)])
    plain = History([*records, j.ErrorLogged(12.0, "i2", "m1")])

    assert [] == j.always_reported(escalation, BOUNDS, end=40.0)
    assert 35.5 == j.always_reported(plain, BOUNDS, end=40.0)[0].t


def test_a_vault_only_the_standbys_monitor_is_counted_from_the_standbys_restart() -> None:
    """Long-run seed 2695: the holder i1's fleet is dead (a crash loop), so the standbys say m1 at ERROR past their
    threshold; the only standby, i2, started again at 10 s (its container restarted): it cannot have seen m1 sealed
    before, so its bound + threshold (22.5 s) counts from then, not from the seal."""
    records = [
        *sealed_manager(),
        *leader(until=100.0),
        j.MonitorsWanted(0.1, "i1", ()),
        j.MonitorsWanted(0.2, "i2", ("m1",)),
        j.ContainerRestarted(10.0, "i2"),
        j.MonitorsWanted(10.1, "i2", ("m1",)),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=32.5)
    assert 33.0 == j.always_reported(History(records), BOUNDS, end=40.0)[0].t
    # the standby up all along (i3) keeps the bound from the seal
    other = History([*records[:4], j.MonitorsWanted(0.3, "i3", ("m1",)), *records[4:]])
    assert 23.0 == j.always_reported(other, BOUNDS, end=40.0)[0].t


def test_a_standbys_watching_is_known_by_the_vaults_url_host_not_its_monitors_name() -> None:
    """Long-run seed 2843: under the template http://{addr}:8200 the world and the judge know a Vault by its node's
    address (10.0.1.6), the fleet's monitor by its manager's name (joined-1). The standby i2 said it past its threshold
    at 13 s; its new process (its container replaced at 120.2 s) watches it from 120.3 s, and the holder i1 monitors
    nothing: the standby's bound + threshold (22.5 s) counts from then, not from the seal at 1 s. Keyed by the
    monitor's name, no standby was seen watching it, and it was found unreported as soon as the old process's
    escalation no longer counted."""
    records = [
        j.RoleChanged(0.0, "10.0.1.6", manager=True),
        j.Listed(0.0, "10.0.1.6"),
        j.Sealed(1.0, "10.0.1.6"),
        *leader(until=1000.0),
        j.MonitorsWanted(0.1, "i1", (), ()),
        j.MonitorsWanted(0.2, "i2", ("joined-1",), ("10.0.1.6",)),
        j.ErrorLogged(13.0, "i2", "10.0.1.6", standby=True),
        j.ContainerRestarted(120.2, "i2"),
        j.MonitorsWanted(120.3, "i2", ("joined-1",), ("10.0.1.6",)),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=142.5)
    assert 143.0 == j.always_reported(History(records), BOUNDS, end=160.0)[0].t
    # by the monitor's name alone (the record before the fix), no standby watched it: from the seal, at once
    by_name = [j.MonitorsWanted(r.t, r.instance, r.vaults) if isinstance(r, j.MonitorsWanted) else r for r in records]
    assert 120.5 == j.always_reported(History(by_name), BOUNDS, end=160.0)[0].t


def test_while_the_holders_lease_lapses_its_standbys_threshold_still_counts_from_their_first_sight() -> None:
    """Long-run seed 2843: the holder i1 (its Docker hung) monitors nothing; the standby i2 said m1 past its threshold
    at 12 s, then its container was replaced at 50.2 s (what it said was its old process's) and it watches m1 from
    50.3 s. i1's lease lapses at 60 s while its lock stays in Consul: i2 still stands by (says it at INFO until its
    threshold), so its bound + threshold counts from its first sight (to 72.8 s), not from the seal (the standbys were
    sought among those not expected to report, and while no lease is told every instance was: found at 60 s)."""
    records = [
        *sealed_manager(),
        *leader(until=60.0),
        j.MonitorsWanted(0.1, "i1", ()),
        j.MonitorsWanted(0.2, "i2", ("m1",)),
        j.ErrorLogged(12.0, "i2", "m1", standby=True),
        j.ContainerRestarted(50.2, "i2"),
        j.MonitorsWanted(50.3, "i2", ("m1",)),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=72.5)
    assert 73.0 == j.always_reported(History(records), BOUNDS, end=90.0)[0].t


def test_a_standby_restarted_and_not_listed_yet_counts_from_its_restart_while_no_standby_watches() -> None:
    """Long-run seed 2843's shape: the only standby's escalation is forgotten with its old process (its container
    restarted at 50 s) and its new fleet wants its monitors 0.3 s later (its first listing); a look in between found
    no standby watching m1 and counted from the seal. Its restart is the earliest it can see m1 again: the bound +
    threshold (22.5 s) counts from then. A restarted standby whose fleet never lists is found all the same."""
    records = [
        *sealed_manager(),
        *leader(until=100.0),
        j.MonitorsWanted(0.1, "i1", ()),
        j.MonitorsWanted(0.2, "i2", ("m1",)),
        j.ErrorLogged(12.0, "i2", "m1", standby=True),
        j.ContainerRestarted(50.0, "i2"),
        j.MonitorsWanted(50.05, "i2", ()),
        j.MonitorsWanted(50.3, "i2", ("m1",)),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=72.5)
    assert 73.0 == j.always_reported(History(records), BOUNDS, end=90.0)[0].t
    never = History(records[:-1])
    assert 73.0 == j.always_reported(never, BOUNDS, end=90.0)[0].t


def test_a_manager_no_instance_can_list_is_judged_once_one_can() -> None:
    """Long-run seed 11656: j1 joins the Swarm as a manager at 11.67 s, sealed. The holder i1's SwarmWatcher is in a
    long crash loop (dead from 4.1 s, each restart dying at once, running again at 38.1 s) and the only standby i2's
    own Docker hangs (from 2.6 s): no instance can list the Swarm, the service's only source of its managers, so no
    fleet monitors j1 and nobody can say it is sealed. The judge counted the standbys' bound + threshold (22.5 s)
    from the seal, as if a standby watched it: found at 34.5 s. Its clock starts when an instance can list again
    (i1's SwarmWatcher running at 38.1 s); i1 lists j1 and says it at once. While another instance could list all
    along (i2's Docker fine), a standby would have listed and escalated: judged from the seal as before."""
    records = [
        *sealed_manager(),
        j.ActorStarted(0.1, "i1", "swarm-watcher"),
        j.ActorStarted(0.3, "i2", "swarm-watcher"),
        j.MonitorsWanted(0.2, "i1", ("m1",)),
        j.MonitorsWanted(0.4, "i2", ("m1",)),
        j.ErrorLogged(1.0, "i1", "m1"),
        j.OwnDockerFails(2.6, "i2"),
        j.ActorDied(4.1, "i1", "swarm-watcher", ("definition", "service")),
        *leader(at=11.58, until=1000.0),
        j.RoleChanged(11.666, "j1", manager=True),
        j.Listed(11.666, "j1"),
        j.Sealed(11.7, "j1"),
        j.ActorRestarted(20.1, "i1", "swarm-watcher"),
        j.ActorDied(20.1, "i1", "swarm-watcher", ("definition", "service")),
        j.ActorRestarted(38.1, "i1", "swarm-watcher"),
    ]
    reported = [*records, j.MonitorsWanted(38.8, "i1", ("j1", "m1")), j.ErrorLogged(38.85, "i1", "j1")]

    assert [] == j.always_reported(History(reported), BOUNDS, end=70.0)
    # never listed once an instance can: the standbys' bound + threshold from then
    assert 61.0 == j.always_reported(History(records), BOUNDS, end=70.0)[0].t
    # another instance that could list all along: from the seal, as before
    could = History([r for r in records if not isinstance(r, j.OwnDockerFails)])
    assert 34.5 == j.always_reported(could, BOUNDS, end=70.0)[0].t


def test_a_manager_only_the_reporter_can_list_while_its_fleet_is_dead_is_judged_once_a_standby_can() -> None:
    """Sweep seed 50202 (there i2 holds, i1 stands by): the holder i1 lists m1 (sealed) but its vault-fleet dies at
    every start (a 36 s crash loop), so it monitors nothing; the only standby i2 cannot list (its own Docker hangs) and
    the stored
    definition names no manager (two nodes share a hostname: never published), so it monitors nothing either. The
    standbys, which must say it when the reporter cannot, have no way to learn of m1: the judge counted their bound +
    threshold from the seal, since the reporter could list. It counts from when an instance that can list has a
    running fleet; with a standby that could list all along, from the seal as before."""
    records = [
        *sealed_manager(),
        *leader(until=1000.0),
        j.ActorStarted(0.1, "i1", "vault-fleet"),
        j.ActorDied(0.2, "i1", "vault-fleet", ("vault", "service")),
        j.ActorStarted(0.3, "i2", "swarm-watcher"),
        j.OwnDockerFails(0.05, "i2"),
        j.MonitorsWanted(0.4, "i2", ()),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=60.0)
    could = History([r for r in records if not isinstance(r, j.OwnDockerFails)])
    assert 23.0 == j.always_reported(could, BOUNDS, end=60.0)[0].t


def test_while_the_only_instance_that_can_list_is_gone_its_clock_waits_for_its_restart() -> None:
    """Long-run seed 1642 of 629a812: i2's own Docker hangs and the stored definition names no manager, so it monitors
    nothing. i1, the only instance that can list, says m1 at ERROR as a standby (12 s), takes the lock (22.56 s), says
    it again as the active instance (25.46 s) and releases the lock on a rolling update's SIGTERM; its process is gone
    at 25.5 s and starts again at 28.38 s. What its old process said is forgotten with it, and the judge counted from
    the seal, as if some instance could list all along: found at 28.5 s, before the new process could poll. While it
    is gone no instance can list; its clock starts again when it is back."""
    records = [
        *sealed_manager(),
        j.ActorStarted(0.1, "i1", "vault-fleet"),
        j.ActorStarted(0.1, "i2", "vault-fleet"),
        j.OwnDockerFails(0.05, "i2"),
        j.MonitorsWanted(0.2, "i1", ("m1",)),
        j.MonitorsWanted(0.2, "i2", ()),
        *leader(owner="i2", session="s2", at=0.1, until=1000.0),
        j.ErrorLogged(12.0, "i1", "m1", standby=True),
        j.LockLost(22.0, "i2", "s2", "released"),
        j.LeaseTold(22.0, "i2", "s2", 22.0),
        *leader(owner="i1", session="s1", at=22.56, until=27.0),
        j.ErrorLogged(25.46, "i1", "m1"),
        j.LockLost(25.48, "i1", "s1", "released"),
        j.LeaseTold(25.48, "i1", "s1", 25.48),
        j.ContainerExited(25.5, "i1"),
        j.ContainerRestarted(28.38, "i1"),
    ]

    assert [] == j.always_reported(History(records), BOUNDS, end=50.5)
    assert 51.0 == j.always_reported(History(records), BOUNDS, end=60.0)[0].t
    back = [*records, j.MonitorsWanted(28.4, "i1", ("m1",)), j.ErrorLogged(28.5, "i1", "m1")]
    assert [] == j.always_reported(History(back), BOUNDS, end=60.0)


def test_the_reporters_clock_starts_when_it_monitors_the_vault() -> None:
    """The holder's fleet wants m1's monitor from 8 s (its first listing): it must say it within the bound of then."""
    history = History(
        [
            *sealed_manager(),
            *leader(until=100.0),
            j.MonitorsWanted(0.1, "i1", ()),
            j.MonitorsWanted(0.2, "i2", ("m1",)),
            j.MonitorsWanted(8.0, "i1", ("m1",)),
        ]
    )

    assert [] == j.always_reported(history, BOUNDS, end=18.5)
    assert 19.0 == j.always_reported(history, BOUNDS, end=30.0)[0].t


# ------------------------------------------------------------------------------------------ nothing dead unseen


def died(at: float = 1.0, actor: str = "unsealer") -> list[j.Record]:
    return [j.ActorStarted(0.0, "i1", actor), j.ActorDied(at, "i1", actor, ("vault", "service"))]


def test_a_dead_actor_restarted_in_time_is_fine() -> None:
    history = History([*died(), j.ActorRestarted(3.0, "i1", "unsealer")])

    assert [] == j.nothing_dead_unseen(history, BOUNDS, end=30.0)


def test_a_dead_actor_not_restarted_and_health_green_is_flagged() -> None:
    findings = j.nothing_dead_unseen(History(died()), BOUNDS, end=30.0)

    assert ["nothing dead unseen"] == names(findings)
    assert 6.5 == findings[0].t
    assert "i1/unsealer dead since 1.000" in findings[0].text


def test_health_naming_it_or_a_supervisor_above_it_is_seen() -> None:
    assert [] == j.nothing_dead_unseen(History([*died(), j.HealthNamed(2.0, "i1", "unsealer")]), BOUNDS, end=30.0)
    assert [] == j.nothing_dead_unseen(History([*died(), j.HealthNamed(2.0, "i1", "vault")]), BOUNDS, end=30.0)


def test_a_paused_instances_time_and_a_restart_scheduled_later_do_not_count() -> None:
    paused = History([*died(), j.Paused(2.0, "i1", 6.0)])
    scheduled = History([*died(), j.RestartScheduled(4.0, "i1", "unsealer")])

    assert [] == j.nothing_dead_unseen(paused, BOUNDS, end=10.0)
    assert 10.5 == j.nothing_dead_unseen(paused, BOUNDS, end=20.0)[0].t
    assert 9.5 == j.nothing_dead_unseen(scheduled, BOUNDS, end=20.0)[0].t


def test_a_monitor_its_fleet_no_longer_wants_is_not_dead() -> None:
    unwanted = History([j.MonitorsWanted(0.0, "i1", ("m2",)), *died(actor="vault-monitor:m1")])
    wanted = History([j.MonitorsWanted(0.0, "i1", ("m1",)), *died(actor="vault-monitor:m1")])

    assert [] == j.nothing_dead_unseen(unwanted, BOUNDS, end=20.0)
    assert ["nothing dead unseen"] == names(j.nothing_dead_unseen(wanted, BOUNDS, end=20.0))


def test_a_monitor_wanted_again_is_due_from_when_its_fleet_wants_it_again() -> None:
    """Long-run seed 11684: two managers shared the hostname manager-2, so i2's fleet monitored `manager-2 (node
    node02)`; node02 was demoted at 1.86 s and the fleet stopped that monitor (no longer wanted: not dead), then
    promoted again at 11.36 s. Wanted again, its clock ran from its stop 9.5 s before, and the judge found it dead at
    once, before the fleet had even started it. A monitor its fleet did not want is not dead: wanted again, it is due
    within the bound of that, and past that bound it is dead unseen."""
    history = History(
        [
            j.MonitorsWanted(0.0, "i1", ("m1",)),
            *died(actor="vault-monitor:m1"),
            j.MonitorsWanted(1.0, "i1", ()),
            j.MonitorsWanted(11.0, "i1", ("m1",)),
        ]
    )

    assert [] == j.nothing_dead_unseen(history, BOUNDS, end=16.0)
    findings = j.nothing_dead_unseen(history, BOUNDS, end=20.0)
    assert ["nothing dead unseen"] == names(findings)
    assert 16.5 == findings[0].t
    started = History([*history, j.ActorStarted(12.0, "i1", "vault-monitor:m1")])
    assert [] == j.nothing_dead_unseen(started, BOUNDS, end=20.0)


def test_a_monitor_dead_while_wanted_keeps_its_clock_when_other_monitors_change() -> None:
    """Only a monitor its fleet did not want and wants again counts afresh: another Vault's monitor added or dropped
    leaves a dead one's clock where it was."""
    history = History(
        [
            j.MonitorsWanted(0.0, "i1", ("m1",)),
            *died(actor="vault-monitor:m1"),
            j.MonitorsWanted(4.0, "i1", ("m1", "m2")),
        ]
    )

    assert 6.5 == j.nothing_dead_unseen(history, BOUNDS, end=20.0)[0].t


def test_a_container_restart_starts_every_actor_afresh() -> None:
    history = History([*died(), j.ContainerRestarted(2.0, "i1")])

    assert [] == j.nothing_dead_unseen(history, BOUNDS, end=20.0)


# ------------------------------------------------------------------------------------------ a crash loop is given up on


LOOPING = j.Bounds(check_ttl=3.0, vault_poll=3.0, report_margin=4.5, restart=5.0, intensity=(5, 60.0))


def looping(
    deaths: int, actor: str = "unsealer", chain: tuple[str, ...] = ("vault", "service"), t: float = 1.0
) -> list[j.Record]:
    """`actor` dies `deaths` times from `t` at production's backoff (1 s doubling), each restart in time."""
    records: list[j.Record] = [j.ActorStarted(t - 1.0, "i1", actor)]
    for n in range(deaths):
        records.append(j.ActorDied(t, "i1", actor, chain))
        records.append(j.ActorRestarted(t + 2.0**n, "i1", actor))
        t += 2.0**n
    return records


def test_a_sixth_death_within_the_window_must_be_given_up_on() -> None:
    """Five restarts in 60 s and the sixth death (at 32 s): its supervisor must escalate or health name it."""
    findings = j.judge(History(looping(6)), LOOPING, invariants=(j.GIVEN_UP,))

    assert [j.GIVEN_UP] == names(findings)
    assert "i1/unsealer died 6 times from 1.000 to 32.000" in findings[0].text
    assert [] == j.judge(History(looping(5)), LOOPING, invariants=(j.GIVEN_UP,))
    assert [] == j.judge(History(looping(6)), BOUNDS, invariants=(j.GIVEN_UP,))  # no intensity: not judged


def test_escalation_health_or_a_supervisors_new_life_ends_the_loop() -> None:
    escalated = [
        *looping(6)[:-1],
        j.ActorDied(32.1, "i1", "vault", ("service",)),
        j.ActorRestarted(33.1, "i1", "vault"),
    ]
    named = [*looping(6), j.HealthNamed(32.0, "i1", "unsealer")]
    above = [*looping(6), j.HealthNamed(32.0, "i1", "vault")]
    # the supervisor died between: its next life counts from nothing
    restarted = [*looping(3), j.ActorDied(8.5, "i1", "vault", ("service",)), *looping(3, t=10.0)[1:]]

    for history in (escalated, named, above, restarted):
        assert [] == j.judge(History(history), LOOPING, end=70.0, invariants=(j.GIVEN_UP,))
    unbroken = History([*looping(3), *looping(3, t=10.0)[1:]])
    assert [j.GIVEN_UP] == names(j.judge(unbroken, LOOPING, end=70.0, invariants=(j.GIVEN_UP,)))


def test_deaths_spread_past_the_window_are_no_loop() -> None:
    spread: list[j.Record] = [j.ActorStarted(0.0, "i1", "unsealer")]
    spread += [j.ActorDied(1.0 + 15.0 * n, "i1", "unsealer", ("vault", "service")) for n in range(6)]

    assert [] == j.judge(History(spread), LOOPING, end=100.0, invariants=(j.GIVEN_UP,))


# ------------------------------------------------------------------------------------------ converges


def converged(definition: Mapping[str, Any] | None, hash_: str | None = "h1") -> History:
    return History(
        [
            j.RoleChanged(0.0, "m1", manager=True),
            j.Sealed(0.0, "m1"),
            j.BaseWritten(0.0, {"Name": "c", "Nodes": {}}),
            j.SwarmChanged(0.0, {"n1": {"Role": "manager"}}),
            j.Unsealed(5.0, "m1"),
            j.DefinitionStored(6.0, definition, hash_),
        ]
    )


def test_the_swarms_definition_on_the_base_and_every_vault_unsealed_converge() -> None:
    good: dict[str, Any] = {"Name": "c", "Nodes": {"n1": {"Role": "manager"}}, "Hash": "h1"}

    assert [] == j.converges(converged(good), BOUNDS, end=28.0)
    assert ["converges"] == names(j.converges(converged(None), BOUNDS, end=28.0))
    assert ["converges"] == names(j.converges(converged({**good, "Nodes": {}}), BOUNDS, end=28.0))
    hash_broken = j.converges(converged(good, "h2"), BOUNDS, end=28.0)
    assert "hash key" in hash_broken[0].text
    still_sealed = History([*converged(good), j.Sealed(7.0, "m1")])
    findings = j.converges(still_sealed, BOUNDS, end=28.0)
    assert "the Vault on m1 is still sealed" == findings[0].text
    assert [] == j.converges(still_sealed, j.Bounds(3.0, 3.0, 4.5, 5.0, unsealable=False), end=28.0)


def test_every_running_instance_stands_ready_at_the_end() -> None:
    """Converges: at the end one running instance holds the lock and every running one holds a session of its own
    (a standby whose check is gone for good, its pass read as an outage, is no standby: issue 26's surviving mutant)."""
    ready = History([j.StandingReady(45.0, ("i1", "i2"), ("i1", "i2"), "i1")])
    no_session = History([j.StandingReady(45.0, ("i1", "i2"), ("i1",), "i1")])
    held_by_none = History([j.StandingReady(45.0, ("i1", "i2"), ("i1", "i2"), None)])

    assert [] == j.converges(ready, BOUNDS, end=45.0)
    assert "i2 holds no Consul session" in j.converges(no_session, BOUNDS, end=45.0)[0].text
    assert "no running instance holds the lock" in j.converges(held_by_none, BOUNDS, end=45.0)[0].text


def test_a_free_lock_is_taken_within_the_bound_once_nothing_stands_in_the_way() -> None:
    """A free lock is taken: counted from the later of its loss and the last moment Consul was troubled, an instance
    paused or started again (Consul's default lock-delay of 15 s after an invalidation breaks it)."""
    bounds = j.Bounds(3.0, 3.0, 4.5, 5.0, takeover=7.0)
    lost = [*leader(until=2.0), j.LockLost(3.0, "i1", "s1", "its session was destroyed")]
    taken = History([*lost, j.LockAcquired(9.5, "i2", "s2")])
    lock_delay = History([*lost, j.LockAcquired(18.0, "i2", "s2")])
    troubled = History([*lost, j.ConsulTroubled(6.0), j.LockAcquired(12.5, "i2", "s2")])
    paused = History([*lost, j.Paused(4.0, "i2", 8.0), j.LockAcquired(14.5, "i2", "s2")])

    assert [] == j.judge(taken, bounds, invariants=(j.TAKEN_OVER,))
    findings = j.judge(lock_delay, bounds, invariants=(j.TAKEN_OVER,))
    assert [j.TAKEN_OVER] == names(findings) and "free since 3.000" in findings[0].text
    assert [] == j.judge(troubled, bounds, invariants=(j.TAKEN_OVER,))
    assert [] == j.judge(paused, bounds, invariants=(j.TAKEN_OVER,))


def test_a_free_lock_is_judged_only_while_an_instance_can_take_it() -> None:
    """Seed 6053 of the long run: the active instance cut off Consul, then told SIGTERM, and the only other one's
    Leadership dying at every start: nobody could take the lock, and the judge said it was not taken. The clock runs
    only while the world lets an instance take it (CanLead: running, not stopping, reaching Consul) and its
    Leadership runs; it starts again when one can."""
    bounds = j.Bounds(3.0, 3.0, 4.5, 5.0, takeover=7.0)
    start: list[j.Record] = [j.CanLead(0.0, ("i1", "i2")), j.ActorStarted(0.1, "i2", "leadership"), *leader(until=2.0)]
    cut: list[j.Record] = [j.CanLead(2.0, ("i2",)), j.LockLost(3.0, "i1", "s1", "its check expired")]  # i1 cut off
    dead: list[j.Record] = [j.ActorDied(1.0, "i2", "leadership", ("service",))]
    back: list[j.Record] = [j.ActorRestarted(12.0, "i2", "leadership")]
    nobody = History([*start, *dead, *cut, *back, j.LockAcquired(18.5, "i2", "s2")])
    too_late = History([*start, *dead, *cut, *back, j.LockAcquired(20.0, "i2", "s2")])
    able = History([*start, *cut, j.LockAcquired(11.0, "i2", "s2")])

    assert [] == j.judge(nobody, bounds, end=18.5, invariants=(j.TAKEN_OVER,))
    findings = j.judge(too_late, bounds, end=20.0, invariants=(j.TAKEN_OVER,))
    assert [j.TAKEN_OVER] == names(findings) and "since 12.000" in findings[0].text
    assert [j.TAKEN_OVER] == names(j.judge(able, bounds, end=11.0, invariants=(j.TAKEN_OVER,)))


# ------------------------------------------------------------------------------------------ said once, follows


def test_keys_refused_said_again_within_the_reminder_is_flagged_unless_by_a_new_unsealer() -> None:
    twice = History([j.KeysRefused(1.0, "i1", "m1"), j.KeysRefused(5.0, "i1", "m1")])
    restarted = History(
        [j.KeysRefused(1.0, "i1", "m1"), j.ActorRestarted(3.0, "i1", "unsealer"), j.KeysRefused(5.0, "i1", "m1")]
    )
    other = History([j.KeysRefused(1.0, "i1", "m1"), j.KeysRefused(5.0, "i2", "m1")])

    assert ["said once"] == names(j.said_once(twice, BOUNDS))
    assert [] == j.said_once(restarted, BOUNDS)
    assert [] == j.said_once(other, BOUNDS)


def test_the_definition_follows_the_swarm_with_one_docker_failing() -> None:
    """From follow_from, the definition is the Swarm's within 2 x (poll + Docker timeout) + 1.5 + margin (31 s
    with 3 s polls)."""
    bounds = j.Bounds(3.0, 3.0, 4.5, 5.0, node_poll=3.0)
    history = History(
        [
            j.SwarmChanged(0.0, {"n1": {}}),
            j.DefinitionStored(0.5, {"Nodes": {"n1": {}}}, "h"),
            j.OwnDockerFails(2.0, "i1", follow_from=2.0),
            j.SwarmChanged(3.0, {"n1": {}, "n2": {}}),
        ]
    )
    followed = History([*history, j.DefinitionStored(20.0, {"Nodes": {"n1": {}, "n2": {}}}, "h")])

    assert [] == j.judge(followed, bounds, end=60.0, invariants=[j.FOLLOWS_THE_SWARM])
    findings = j.judge(history, bounds, end=60.0, invariants=[j.FOLLOWS_THE_SWARM])
    assert ["follows the Swarm"] == names(findings)
    assert 34.5 == findings[0].t


def test_the_definition_need_not_follow_while_no_standby_that_can_list_is_fit() -> None:
    """Seed 2651 of the long run: the only instance that can list has its Leadership given up on (health red, Docker
    replaces its container): no fit standby, the bound does not run; from its container's restart + a listing
    timeout it does."""
    bounds = j.Bounds(3.0, 3.0, 4.5, 5.0, node_poll=3.0)
    history = History(
        [
            j.ActorStarted(0.0, "i1", "leadership"),
            j.ActorStarted(0.0, "i2", "leadership"),
            j.SwarmChanged(0.0, {"n1": {}}),
            j.DefinitionStored(0.5, {"Nodes": {"n1": {}}}, "h"),
            j.OwnDockerFails(2.0, "i1", follow_from=2.0),
            j.SwarmChanged(3.0, {"n1": {}, "n2": {}}),
            j.HealthNamed(20.0, "i2", "leadership"),
            j.ContainerRestarted(100.0, "i2"),
        ]
    )

    findings = j.judge(history, bounds, end=200.0, invariants=[j.FOLLOWS_THE_SWARM])

    assert ["follows the Swarm"] == names(findings)
    assert 100.0 + 10.0 + 31.5 == findings[0].t
    unfit = History([record for record in history if not isinstance(record, j.ContainerRestarted)])
    assert [] == j.judge(unfit, bounds, end=200.0, invariants=[j.FOLLOWS_THE_SWARM])


def test_the_definitions_clock_starts_again_when_a_listing_actor_runs_again_after_its_crash_loop() -> None:
    """Seeds 5176 and 5191 of the long run: the failing holder's SwarmWatcher died as it started for 32-36 s (a long
    crash loop, past the other faults' end); dead, it makes no listing that could fail, so the holder learns that its
    Docker hangs only from its restart. The bound counts from that restart + a listing timeout (the fault's end); a
    restart of an actor that is not on the listing side (a Vault monitor) moves nothing."""
    bounds = j.Bounds(3.0, 3.0, 4.5, 5.0, node_poll=3.0)
    history = History(
        [
            j.ActorStarted(0.0, "i1", "swarm-watcher"),
            j.ActorStarted(0.0, "i2", "swarm-watcher"),
            j.SwarmChanged(0.0, {"n1": {}}),
            j.DefinitionStored(0.5, {"Nodes": {"n1": {}}}, "h"),
            j.OwnDockerFails(2.0, "i1", follow_from=22.0),
            j.SwarmChanged(3.0, {"n1": {}, "n2": {}}),
            j.ActorRestarted(21.8, "i1", "swarm-watcher"),
            j.ActorDied(21.8, "i1", "swarm-watcher"),
            j.ActorRestarted(37.8, "i1", "swarm-watcher"),
            j.ActorRestarted(45.0, "i2", "vault-monitor:m1"),
        ]
    )
    followed = History([*history, j.DefinitionStored(61.3, {"Nodes": {"n1": {}, "n2": {}}}, "h")])

    findings = j.judge(history, bounds, end=120.0, invariants=[j.FOLLOWS_THE_SWARM])

    assert ["follows the Swarm"] == names(findings)
    assert 37.8 + 10.0 + 31.5 == pytest.approx(findings[0].t, abs=0.5)
    assert [] == j.judge(followed, bounds, end=120.0, invariants=[j.FOLLOWS_THE_SWARM])


# ------------------------------------------------------------------------------------------ the judge as a whole


def test_each_invariant_is_reported_once_and_the_live_judge_agrees_with_the_function() -> None:
    """Fed one record at a time (as the simulator does), the Judge finds what `judge` finds on the whole History."""
    records = [
        *leader(),
        j.ShareReceived(1.2, "m1", "i2"),
        j.ShareReceived(1.3, "m1", "i2"),
        j.Written(1.4, "i2", "i1", "k"),
    ]
    live = j.Judge(BOUNDS)
    found = [finding for record in records for finding in live.feed(record)]

    assert ["never two unsealers", "never a stale writer"] == names(found)
    assert found == j.judge(History(records), BOUNDS)
