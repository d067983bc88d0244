"""The simulated servers answer as the real ones do (Consul 1.8.7, OpenBao 2.7, dockerd 20.10): each fact the
deciders rely on, pinned here on the sim and by the integration tests on Consul 1.8.7, OpenBao and dockerd."""

from __future__ import annotations

from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY
from sim.consul import FRESH_INDEX, CheckFlavour, SimConsul
from sim.docker import SimDocker
from sim.vault import WRONG_SHARE, SimVault

SHARES = ("a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32)


def locked(consul: SimConsul, owner: str = "i1", ttl: float = 3.0) -> str:
    """A session of `owner` bound to a fresh TTL check, holding the lock."""
    consul.check_register(0.0, f"check-{owner}", "neon-cluster-manager", ttl)
    session: str = consul.session_create(0.0, ("serfHealth", f"check-{owner}"), owner).body["ID"]
    assert consul.kv_put(0.0, LEADER_KEY, owner.encode(), owner, acquire=session).body is True
    return session


def test_a_put_of_the_same_value_keeps_the_modify_index() -> None:
    """Consul: a KV PUT writing the same value leaves ModifyIndex as it was; a new value gets a new one."""
    consul = SimConsul(CheckFlavour.PLAIN)
    consul.kv_put(0.0, "k", b"v", "setup")
    first = consul.kv_get(0.0, "k").body[0]["ModifyIndex"]
    consul.kv_put(1.0, "k", b"v", "setup")
    same = consul.kv_get(1.0, "k").body[0]["ModifyIndex"]
    consul.kv_put(2.0, "k", b"w", "setup")

    assert first == same
    assert first < consul.kv_get(2.0, "k").body[0]["ModifyIndex"]


def test_a_missing_key_answers_404_with_index_1_then_the_kv_stores_index() -> None:
    """Consul 1.8.7 (tests/integration/test_consul_semantics.py): GET of a missing key is 404 with X-Consul-Index 1
    while the store never held a key, then the KV store's latest index (not a key's: it has none)."""
    consul = SimConsul(CheckFlavour.PLAIN)
    before = consul.kv_get(0.0, "missing")
    consul.kv_put(0.0, "other", b"v", "setup")
    written = consul.kv_get(0.0, "other").body[0]["ModifyIndex"]
    after = consul.kv_get(0.0, "missing")

    assert (404, 1) == (before.status, before.index)
    assert (404, written) == (after.status, after.index)


def test_passing_an_unknown_check_answers_as_each_consul_does() -> None:
    """1.8 with ACLs: 500 Unknown check; 1.8 without: 500 does not have associated TTL; >= 1.11: 404."""
    answers = {flavour: SimConsul(flavour).check_pass(0.0, "gone") for flavour in CheckFlavour}

    assert (500, 'Unknown check "gone"') == (answers[CheckFlavour.ACL].status, answers[CheckFlavour.ACL].body)
    assert 500 == answers[CheckFlavour.PLAIN].status
    assert "does not have associated TTL" in answers[CheckFlavour.PLAIN].body
    assert 404 == answers[CheckFlavour.NEW].status


def test_a_ttl_check_expires_its_ttl_after_the_last_pass_and_releases_the_lock() -> None:
    """A TTL check goes critical TTL seconds after its last pass; Consul invalidates the sessions bound to it,
    releasing their locks, at that moment (not later, not earlier)."""
    consul = SimConsul(CheckFlavour.ACL)
    session = locked(consul)
    consul.check_pass(1.0, "check-i1")

    assert "i1" == consul.holder(3.99)
    assert consul.holder(4.0) is None
    assert 404 == consul.session_renew(4.0, session).status
    assert [(4.0, "i1", False, "")] == [(e.time, e.owner, e.acquired, e.cause) for e in consul.lock_events[1:]]


def test_a_critical_check_passed_again_does_not_bring_its_session_back() -> None:
    """Passing a check that went critical makes it passing again; the session it invalidated stays gone."""
    consul = SimConsul(CheckFlavour.ACL)
    session = locked(consul)

    assert 200 == consul.check_pass(5.0, "check-i1").status
    assert 404 == consul.session_renew(5.0, session).status


def test_a_deregistered_check_or_an_agent_losing_its_checks_invalidates_the_session_at_once() -> None:
    """Deregistering the check (a peer's clean-up) or an agent restarted without its checks: the lock is released
    then, before the TTL, and the release says why (the invariants' exception)."""
    consul = SimConsul(CheckFlavour.ACL)
    locked(consul)
    consul.check_deregister(1.0, "check-i1", "a peer")
    other = SimConsul(CheckFlavour.ACL)
    locked(other)
    other.agent_restart(1.0, 0.5, lose_checks=True)

    assert (None, "a peer") == (consul.holder(1.0), consul.lock_events[-1].cause)
    assert other.holder(1.0) is None
    assert not other.reachable(1.2)
    assert other.reachable(1.5)


def test_a_session_needs_its_checks_passing() -> None:
    """Session create bound to a critical or missing check is refused (500)."""
    consul = SimConsul(CheckFlavour.ACL)
    consul.check_register(0.0, "c", "n", 3.0)

    assert 500 == consul.session_create(5.0, ("serfHealth", "c"), "i1").status
    assert 500 == consul.session_create(5.0, ("serfHealth", "missing"), "i1").status


def test_the_lock_is_held_by_one_session_at_a_time() -> None:
    """acquire by another session answers false; release by the holder frees it."""
    consul = SimConsul(CheckFlavour.ACL)
    first = locked(consul, "i1")
    consul.check_register(0.0, "check-i2", "n", 3.0)
    second = consul.session_create(0.0, ("check-i2",), "i2").body["ID"]

    assert consul.kv_put(0.5, LEADER_KEY, b"i2", "i2", acquire=second).body is False
    assert consul.kv_put(0.5, LEADER_KEY, b"i1", "i1", release=first).body is True
    assert consul.kv_put(0.6, LEADER_KEY, b"i2", "i2", acquire=second).body is True
    assert "i2" == consul.holder(0.6)


def test_a_transaction_is_all_or_nothing_with_cas_and_check_session() -> None:
    """A stale cas index or a failed check-session rolls the whole transaction back (409 naming the operation);
    a transaction applied writes its keys at one index."""
    consul = SimConsul(CheckFlavour.ACL)
    session = locked(consul)
    consul.kv_put(0.0, DEFINITION_KEY, b"d0", "setup")
    index = consul.kv_get(0.0, DEFINITION_KEY).body[0]["ModifyIndex"]

    def txn(cas: int, holder: str) -> int:
        return consul.txn(
            0.5,
            [
                {"KV": {"Verb": "cas", "Key": DEFINITION_KEY, "Value": b"d1", "Index": cas}},
                {"KV": {"Verb": "cas", "Key": HASH_KEY, "Value": b"h1", "Index": 0}},
                {"KV": {"Verb": "check-session", "Key": LEADER_KEY, "Session": holder}},
            ],
        ).status

    assert 409 == txn(index + 100, session)
    assert 409 == txn(index, "not-the-holder")
    assert b"d0" == consul.kv_get(0.5, DEFINITION_KEY).body[0]["Value"]
    assert 200 == txn(index, session)
    definition, hash_ = consul.kv_get(0.5, DEFINITION_KEY).body[0], consul.kv_get(0.5, HASH_KEY).body[0]
    assert definition["ModifyIndex"] == hash_["ModifyIndex"]


def test_a_restart_without_state_starts_the_indexes_again() -> None:
    """A Consul restarted without its data has an empty store and counts from about 10: an index seen before can
    come back with another value. With its data, everything stays."""
    consul = SimConsul(CheckFlavour.PLAIN)
    for number in range(5):
        consul.kv_put(0.0, DEFINITION_KEY, f"old {number}".encode(), "setup")
    consul.restart(1.0, 0.5, keep_state=False)
    kept = SimConsul(CheckFlavour.PLAIN)
    kept.kv_put(0.0, "k", b"v", "setup")
    kept.restart(1.0, 0.5, keep_state=True)

    assert 404 == consul.kv_get(2.0, DEFINITION_KEY).status
    assert FRESH_INDEX <= consul.index <= FRESH_INDEX + 3
    assert b"v" == kept.kv_get(2.0, "k").body[0]["Value"]


def test_vault_shares_add_up_and_a_duplicate_is_ignored() -> None:
    """Progress counts distinct shares of one attempt (with a nonce); the same share again changes nothing; the
    threshold unseals."""
    vault = SimVault("m1", SHARES, 3, 0.0)
    first = vault.unseal(0.0, SHARES[0]).body
    again = vault.unseal(0.0, SHARES[0]).body
    vault.unseal(0.0, SHARES[1])
    done = vault.unseal(0.0, SHARES[2]).body

    assert (1, 1) == (first["progress"], again["progress"])
    assert first["nonce"] == again["nonce"] != ""
    assert (False, 0, "") == (done["sealed"], done["progress"], done["nonce"])


def test_a_wrong_share_is_refused_at_the_threshold_and_ends_the_attempt() -> None:
    """One wrong share among the threshold's: 400 with Vault's words, progress back to 0, still sealed."""
    vault = SimVault("m1", SHARES, 3, 0.0)
    vault.unseal(0.0, "f" * 32)
    vault.unseal(0.0, SHARES[0])
    reply = vault.unseal(0.0, SHARES[1])

    assert (400, {"errors": [WRONG_SHARE]}) == (reply.status, reply.body)
    assert (True, 0) == (vault.sealed, vault.seal_status(0.0).body["progress"])


def test_reset_discards_an_attempt_and_is_refused_when_unsealed() -> None:
    """{"reset": true} discards the progress (someone else's partial attempt); on an unsealed node it is a 400."""
    vault = SimVault("m1", SHARES, 3, 0.0)
    vault.unseal(0.0, SHARES[0])
    reset = vault.unseal(0.0, None, reset=True).body
    for share in SHARES[:3]:
        vault.unseal(0.0, share)

    assert (0, "") == (reset["progress"], reset["nonce"])
    assert 400 == vault.unseal(0.0, None, reset=True).status


def test_a_raft_follower_unseals_in_the_background() -> None:
    """At the threshold a follower answers sealed with progress 0, and is unsealed a moment later."""
    vault = SimVault("m2", SHARES, 3, 1.5)
    for share in SHARES[:2]:
        vault.unseal(10.0, share)
    answer = vault.unseal(10.0, SHARES[2]).body

    assert (True, 0) == (answer["sealed"], answer["progress"])
    assert vault.seal_status(11.0).body["sealed"] is True
    assert vault.seal_status(11.5).body["sealed"] is False


def test_a_restarted_vault_comes_back_sealed_and_garbage_or_a_hang_is_what_a_client_sees() -> None:
    """A restart seals it and forgets the attempt; a proxy's 503 with `null`; a hung node answers nothing."""
    vault = SimVault("m1", SHARES, 3, 0.0)
    for share in SHARES[:3]:
        vault.unseal(0.0, share)
    vault.restart(1.0)
    vault.garbage_until = 3.0
    garbage = vault.seal_status(2.0)
    vault.hung_until = 5.0

    assert (True, 1.0) == (vault.sealed, vault.sealed_since)
    assert (503, None) == (garbage.status, garbage.body)
    assert 0 == vault.seal_status(4.0).status
    assert 200 == vault.seal_status(5.0).status


def test_a_label_change_is_a_new_node_version_and_an_event() -> None:
    """docker node update: the node's labels and Version.Index change, an event is sent; a listing is a copy."""
    docker = SimDocker(3, 2)
    before = docker.list_nodes(0.0).body
    docker.label(1.0, 4, "io.neon.compute.cores", "8")
    after = docker.list_nodes(1.0).body
    docker.hung_until = 5.0

    assert before[4]["Version"]["Index"] < after[4]["Version"]["Index"]
    assert "4" == before[4]["Spec"]["Labels"]["io.neon.compute.cores"]
    assert "8" == after[4]["Spec"]["Labels"]["io.neon.compute.cores"]
    assert [(1.0, after[4]["ID"])] == docker.events
    assert 0 == docker.list_nodes(2.0).status
    assert ["manager-1", "manager-2", "manager-3"] == docker.managers()


def test_after_a_whole_cluster_restart_a_follower_is_not_initialized_until_the_first_node_is_unsealed() -> None:
    """Seen on OpenBao 2.7: the nodes that joined through retry_join say `initialized: false` while the first node
    is sealed (they have not lost their storage); a share to one is refused; once the first is unsealed they are
    initialized and sealed."""
    first, follower = SimVault("m1", SHARES, 3, 0.0), SimVault("m2", SHARES, 3, 0.0)
    follower.joined_through = first
    before = follower.seal_status(0.0).body
    refused = follower.unseal(0.0, SHARES[0]).status
    for share in SHARES[:3]:
        first.unseal(0.0, share)
    after = follower.seal_status(0.0).body

    assert (False, 0) == (before["initialized"], before["t"])
    assert 400 == refused
    assert (True, True, 3) == (after["initialized"], after["sealed"], after["t"])


def test_a_restored_session_bound_to_a_check_the_agent_lacks_lives_until_the_agents_sync() -> None:
    """Consul 1.8.7 (bench/consul_restore_probe.py): the snapshot brings the session back and its check passing into
    the catalog, whatever the agent has; the session holds its keys until the agent's full anti-entropy sync writes
    the agent's view (critical, or no check) to the catalog, 3.0-86.7 s after the restore there (0-120 s)."""
    for lost in ("critical", "deregistered"):
        consul = SimConsul(CheckFlavour.PLAIN)
        session = locked(consul)
        saved = consul.snapshot()
        consul.expire(4.0)  # no pass: the check goes critical at 3 s, the session with it
        if lost == "deregistered":
            consul.check_deregister(5.0, "check-i1")
        assert consul.holder(5.0) is None
        consul.restore(6.0, saved)
        sync_at = consul.sync_at
        assert sync_at is not None and 6.0 <= sync_at <= 126.0
        assert consul.holder(sync_at - 0.001) == "i1" and session in consul.sessions
        assert consul.next_change(6.0) == sync_at
        assert consul.holder(sync_at) is None and session not in consul.sessions


def test_a_restored_session_whose_check_is_passed_again_before_the_sync_lives_on() -> None:
    """A paused holder passing its (critical) check again before the sync revives it: the sync finds it passing."""
    consul = SimConsul(CheckFlavour.PLAIN)
    locked(consul, ttl=3.0)
    saved = consul.snapshot()
    consul.expire(4.0)
    consul.restore(6.0, saved)
    sync_at = consul.sync_at
    assert sync_at is not None
    consul.check_pass(sync_at - 0.5, "check-i1")
    assert consul.holder(sync_at + 0.1) == "i1"
