"""What the real Consul 1.8.7 answers where the Lease and Publishing deciders depend on it, through
gateways/consul.py; and defects 1 (a deregistered check on an ACL Consul) and 7 (a new base at a reused
index after Consul lost its data) reproduced on the real stack."""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import consul
import pykka
import pytest
import requests

import teststack as stack
from actors.consul_watch import ConsulWatch
from actors.logger import Log
from gateways.consul import ConsulGateway, Write, consul_client
from gateways.files import read_text
from messages.consul import KeysChanged
from messages.consul_answers import (
    CheckGone,
    ConsulRefused,
    DefinitionConflict,
    DefinitionFenced,
    DefinitionWritten,
    KeysRead,
    SessionChecksRead,
)
from neon_cm.environment import consul_access
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, SETTINGS_PREFIX
from neon_cm.lease import CHECK_NAME
from tests.consul_server import ConsulServer
from tests.integration.test_consul_acl import POLICY, seed
from tests.integration.test_definition_pipeline import ACTIVE, BASE, PUBLISHED, read_definition, seed_base
from tests.service import Service

PROBE = "neon/lease-probe/"
"""Keys of these tests: under neon/, so the `kv` fixture clears them before the next test."""


@pytest.fixture
def gateway(kv: consul.Consul, real_stack: dict[str, Any]) -> ConsulGateway:
    """The gateway on the stack's Consul (no ACLs)."""
    return ConsulGateway(client_for(real_stack["consul"]["http_addr"]))


def stack_consul(real_stack: dict[str, Any]) -> consul.Consul:
    """A new client of the stack's Consul (after a restart)."""
    host, port = real_stack["consul"]["http_addr"].rsplit(":", 1)
    return consul.Consul(host=host, port=int(port))


def session_holding(kv: consul.Consul, key: str) -> str:
    """A new session (bound to nothing) that holds `key`."""
    session: str = kv.session.create(lock_delay=0, checks=[])
    assert kv.kv.put(key, "holder", acquire=session)
    return session


def test_passing_an_unknown_check_without_acls_is_500_no_associated_ttl(
    real_stack: dict[str, Any], gateway: ConsulGateway
) -> None:
    """Consul 1.8 without ACLs: PUT /v1/agent/check/pass/<unknown> answers 500 `... does not have associated
    TTL`; the gateway reads it as CheckGone (Consul >= 1.11 answers 404 instead: py-consul's False)."""
    check = f"unknown-{uuid.uuid4()}"
    answer = requests.put(f"http://{real_stack['consul']['http_addr']}/v1/agent/check/pass/{check}", timeout=5)

    assert (500, f'CheckID "{check}" does not have associated TTL') == (answer.status_code, answer.text.strip())
    assert isinstance(gateway.pass_check(check), CheckGone)


def test_passing_an_unknown_check_with_acls_is_500_unknown_check(acl_consul: ConsulServer) -> None:
    """Consul 1.8 with ACLs on: the same pass answers 500 `Unknown check`, also read as CheckGone (the old
    Leadership knew only the other text and took this one for an outage forever: defect 1)."""
    token = acl_consul.token_for("semantics-unknown-check", POLICY)
    check = f"unknown-{uuid.uuid4()}"
    answer = requests.put(
        f"{acl_consul.http_url}/v1/agent/check/pass/{check}", headers={"X-Consul-Token": token}, timeout=5
    )
    gateway = ConsulGateway(client_for(acl_consul.http_url, token))

    assert (500, f'Unknown check "{check}"') == (answer.status_code, answer.text.strip())
    assert isinstance(gateway.pass_check(check), CheckGone)


def test_an_unknown_token_is_told_apart_from_a_policy_refusal(acl_consul: ConsulServer) -> None:
    """403 bodies: `ACL not found` for a token Consul does not know, `Permission denied` for a policy lacking the
    right; the gateway words them differently and never shows the token."""
    unknown = str(uuid.uuid4())
    powerless = acl_consul.token_for("semantics-powerless", 'key_prefix "nothing/" { policy = "read" }')

    def create(token: str) -> Any:
        client = consul_client(
            consul_access({"CONSUL_HTTP_ADDR": acl_consul.http_url, "CONSUL_HTTP_TOKEN": token}, read_text)
        )
        return ConsulGateway(client).create_session("probe", ["serfHealth"])

    not_found, denied = create(unknown), create(powerless)

    assert isinstance(not_found, ConsulRefused) and isinstance(denied, ConsulRefused)
    assert "ACL not found" in not_found.detail and unknown not in not_found.detail
    assert "ACL not found" not in denied.detail and "permission denied (403)" in denied.detail


def test_a_kv_put_of_the_same_value_keeps_its_modify_index(kv: consul.Consul, gateway: ConsulGateway) -> None:
    """Writing a key's value again changes nothing, not even its ModifyIndex (so an unchanged definition written
    again would not look like someone else's write); another value moves it."""
    key = PROBE + "same"
    kv.kv.put(key, "v")
    _, first = kv.kv.get(key)
    kv.kv.put(key, "v")
    _, again = kv.kv.get(key)
    kv.kv.put(key, "w")
    _, changed = kv.kv.get(key)

    assert first["ModifyIndex"] == again["ModifyIndex"]
    assert changed["ModifyIndex"] > first["ModifyIndex"]


def test_a_missing_key_answers_the_kv_stores_index_one_on_a_fresh_agent(tmp_path: Path) -> None:
    """GET of a missing key: 404 with X-Consul-Index 1 on an agent that holds no key yet (never 0), and the
    KV store's latest index (not the key's: it has none) once keys were written. A cas on index 0 means
    "still missing", whatever that index says."""
    fresh = ConsulServer(tmp_path)
    try:
        headers = {"X-Consul-Token": fresh.master}
        before = requests.get(f"{fresh.http_url}/v1/kv/missing", headers=headers, timeout=5)
        fresh.put("other", b"x")
        written = requests.get(f"{fresh.http_url}/v1/kv/other", headers=headers, timeout=5).json()[0]["ModifyIndex"]
        after = requests.get(f"{fresh.http_url}/v1/kv/missing", headers=headers, timeout=5)
    finally:
        fresh.stop()

    assert (404, "1") == (before.status_code, before.headers["X-Consul-Index"])
    assert (404, str(written)) == (after.status_code, after.headers["X-Consul-Index"])


def test_a_blocking_query_on_an_index_past_the_stores_waits_out_its_wait(tmp_path: Path) -> None:
    """A settings watch's index from before Consul lost its data (or before a snapshot restore) is past the store's:
    Consul holds the query until the prefix's index passes it or the wait (plus up to wait/16) runs out, a write
    under that index answering nothing, then answers the store's lower index (what sim/consul.py's `_blocking`
    does). Consul 1.8.7, 2026-12-07: 5.17-5.3 s for a 5 s wait, 8.04 s for 8 s with a write at 2 s (helper w323)."""
    fresh = ConsulServer(tmp_path)
    try:
        watch = ConsulGateway(client_for(fresh.http_url.removeprefix("http://"), fresh.master))
        fresh.put(f"{PROBE}a", b"1")
        first = watch.read_keys(PROBE)
        assert isinstance(first, KeysRead)
        past = first.index + 1000
        writer = threading.Timer(1.0, fresh.put, (f"{PROBE}b", b"2"))
        writer.start()
        start = time.monotonic()
        answer = watch.read_keys(PROBE, past, 3)
        took = time.monotonic() - start
        writer.join()
    finally:
        fresh.stop()

    assert isinstance(answer, KeysRead)
    assert 3.0 <= took <= 3.0 + 3 / 16 + 1.0
    assert first.index < answer.index < past
    assert {f"{PROBE}a", f"{PROBE}b"} == {key for key, _ in answer.values}


def test_a_query_held_at_a_snapshot_restore_is_answered_at_once_with_what_was_there(tmp_path: Path) -> None:
    """A snapshot restore abandons the state store: a query held then is answered at once with what the old store
    held and the index it waited on (no change, for a client that compares indexes); a read on that index then waits
    out its wait on the restored store, whose index is lower (what sim/consul.py's `restore` does, and why the
    ConsulWatch reads afresh after an unchanged index answered before its wait). Consul 1.8.7, 2026-12-07: 2.09 s
    into a 20 s wait with the restore at 2 s; then 6.38 s for a 6 s wait (helper w323)."""
    fresh = ConsulServer(tmp_path)
    try:
        watch = ConsulGateway(client_for(fresh.http_url.removeprefix("http://"), fresh.master))
        headers = {"X-Consul-Token": fresh.master}
        fresh.put(f"{PROBE}a", b"1")
        snapshot = requests.get(f"{fresh.http_url}/v1/snapshot", headers=headers, timeout=10)
        snapshot.raise_for_status()
        fresh.put(f"{PROBE}a", b"2")
        fresh.put(f"{PROBE}b", b"3")
        first = watch.read_keys(PROBE)
        assert isinstance(first, KeysRead)

        def restore() -> None:
            requests.put(f"{fresh.http_url}/v1/snapshot", data=snapshot.content, headers=headers, timeout=10)

        restorer = threading.Timer(1.0, restore)
        restorer.start()
        start = time.monotonic()
        held = watch.read_keys(PROBE, first.index, 10)
        took_held = time.monotonic() - start
        restorer.join()
        start = time.monotonic()
        waited = watch.read_keys(PROBE, first.index, 2)
        took_waited = time.monotonic() - start
    finally:
        fresh.stop()

    assert held == first
    assert 1.0 <= took_held < 5.0
    assert isinstance(waited, KeysRead) and waited.index < first.index
    assert ((f"{PROBE}a", b"1"),) == waited.values
    assert 2.0 <= took_waited <= 2.0 + 2 / 16 + 1.0


class Inbox(pykka.ThreadingActor):
    """Puts every message it is told in `received`."""

    def __init__(self, received: queue.Queue[Any]) -> None:
        super().__init__()
        self.received = received

    def on_receive(self, message: Any) -> None:
        self.received.put(message)


def test_the_consul_watch_follows_a_snapshot_restore_at_once(tmp_path: Path, log: Log) -> None:
    """The restore answers the watch's held read at once with the old values and the index it waited on, and the
    restored store's indexes are lower: the ConsulWatch reads afresh (after its backoff's first 0.5 s) and tells the
    restored values; blocking on that index again, it told them when its next wait ran out (30 s and more)."""
    fresh = ConsulServer(tmp_path)
    received: queue.Queue[Any] = queue.Queue()
    try:
        headers = {"X-Consul-Token": fresh.master}
        fresh.put(f"{PROBE}a", b"1")
        snapshot = requests.get(f"{fresh.http_url}/v1/snapshot", headers=headers, timeout=10)
        snapshot.raise_for_status()
        fresh.put(f"{PROBE}a", b"2")
        client = client_for(fresh.http_url.removeprefix("http://"), fresh.master)
        ConsulWatch.start(client, PROBE, Inbox.start(received), log)
        first = received.get(timeout=10)
        time.sleep(1.0)  # its next read is held
        restored_at = time.monotonic()
        requests.put(f"{fresh.http_url}/v1/snapshot", data=snapshot.content, headers=headers, timeout=10)
        restored = received.get(timeout=10)
        took = time.monotonic() - restored_at
    finally:
        fresh.stop()

    assert KeysChanged(PROBE, ((f"{PROBE}a", b"2"),)) == first
    assert KeysChanged(PROBE, ((f"{PROBE}a", b"1"),)) == restored
    assert took < 3.0


def test_check_session_fences_a_transaction_of_a_session_not_holding_the_lock(
    kv: consul.Consul, gateway: ConsulGateway
) -> None:
    """A transaction whose check-session names a session that does not hold the lock is rolled back (409): the
    gateway says DefinitionFenced, and nothing is written; the holder's transaction goes through; a stale cas
    is a DefinitionConflict."""
    lock, target = PROBE + "lock", PROBE + "target"
    holder = session_holding(kv, lock)
    other: str = kv.session.create(lock_delay=0, checks=[])
    try:
        fenced = gateway.write_definition([Write(target, b"stale writer", 0)], (lock, other))
        _, after_fenced = kv.kv.get(target)
        written = gateway.write_definition([Write(target, b"holder", 0)], (lock, holder))
        conflict = gateway.write_definition([Write(target, b"holder again", 0)], (lock, holder))
        _, stored = kv.kv.get(target)
    finally:
        kv.session.destroy(holder)
        kv.session.destroy(other)

    assert isinstance(fenced, DefinitionFenced)
    assert None is after_fenced
    assert isinstance(written, DefinitionWritten)
    assert isinstance(conflict, DefinitionConflict)
    assert b"holder" == stored["Value"]


def test_a_restarted_dev_consul_counts_its_indexes_again(kv: consul.Consul, real_stack: dict[str, Any]) -> None:
    """The stack's dev Consul restarted has lost its data and starts its indexes again: a key written after the
    restart can get a ModifyIndex an earlier key had (why the publisher keys its cache on the bytes too)."""
    for number in range(30):
        kv.kv.put(f"{PROBE}pump", str(number))
    _, before = kv.kv.get(f"{PROBE}pump")
    stack.consul_restart()
    restarted = stack_consul(real_stack)
    restarted.kv.put(f"{PROBE}after", "x")
    _, after = restarted.kv.get(f"{PROBE}after")

    assert after["ModifyIndex"] < before["ModifyIndex"]


def agent_checks(server: ConsulServer) -> dict[str, Any]:
    checks: dict[str, Any] = server.api("GET", "/v1/agent/checks")
    return {check_id: check for check_id, check in checks.items() if check.get("Name") == CHECK_NAME}


def test_a_deregistered_check_on_an_acl_consul_is_registered_again(
    acl_consul: ConsulServer, real_stack: dict[str, Any], start_service: Callable[..., Service], tmp_path: Path
) -> None:
    """Defect 1 on the real ACL Consul: deregister the active instance's check (as a peer's start-up cleanup or
    an agent restarted without its data does). Its session dies with it; the next pass answers 500 `Unknown
    check`; the instance says its check is gone, registers it again, takes a new session and is active again
    (the old Leadership took `Unknown check` for an outage forever and stayed standing down)."""
    seed(acl_consul)
    token_file = tmp_path / "consul-token"
    token_file.write_text(acl_consul.token_for("semantics-defect-1", POLICY))
    service = start_service(CONSUL_HTTP_ADDR=acl_consul.http_url, CONSUL_HTTP_TOKEN_FILE=str(token_file))
    service.wait_for(ACTIVE)
    (check_id,) = agent_checks(acl_consul)

    mark = service.mark()
    acl_consul.api("PUT", f"/v1/agent/check/deregister/{check_id}")
    service.wait_for(
        r"\[WARN\] \[module:leadership\] this instance's Consul check is gone \(.*Unknown check", after=mark
    )
    service.wait_for(ACTIVE, after=mark, timeout=20)

    assert [check_id] == list(agent_checks(acl_consul))
    assert [] == service.lines(r"\[ERROR\]", after=mark)


def test_a_new_base_at_a_reused_index_is_published_after_consul_lost_its_data(
    kv: consul.Consul, real_stack: dict[str, Any], start_service: Callable[..., Service]
) -> None:
    """Defect 7 on the real stack: the service decoded its definition at ModifyIndex W. Consul loses its data (a
    dev agent restarted, or a restore) and counts its indexes again; cluster setup publishes a new base that
    lands at W again. The service must decode it and publish the new base's nodes, not the old base (the old
    publisher cached the decoded base by ModifyIndex alone and wrote the old base over the new one)."""
    seed_base(kv)
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "0.5")
    service = start_service()
    service.wait_for(PUBLISHED)
    service.wait_for(r"definition unchanged", count=2)  # its own write decoded: the cache holds index W
    _, _, reused, _ = read_definition(kv)
    new_base = {**BASE, "Name": "restored-cluster", "Datacenter": "dc-restored"}

    mark = service.mark()
    os.kill(service.process.pid, signal.SIGSTOP)  # no write of its own may move the indexes meanwhile
    try:
        stack.consul_restart()
        restarted = stack_consul(real_stack)
        restarted.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "0.5")
        index = 0
        while index < reused - 1:
            restarted.kv.put(f"{PROBE}pump", str(index))
            _, item = restarted.kv.get(f"{PROBE}pump")
            index = item["ModifyIndex"]
        seed_base(restarted, new_base)
        _, item = restarted.kv.get(DEFINITION_KEY)
    finally:
        os.kill(service.process.pid, signal.SIGCONT)
    if item["ModifyIndex"] != reused:
        pytest.skip(f"Consul wrote something else meanwhile: the base landed at {item['ModifyIndex']}, not {reused}")
    service.wait_for(PUBLISHED, after=mark, timeout=60)
    definition, digest, _, _ = read_definition(kv)
    _, hash_item = kv.kv.get(HASH_KEY)

    assert ("restored-cluster", "dc-restored") == (definition["Name"], definition["Datacenter"])
    assert 5 == len(definition["Nodes"])
    assert digest == hash_item["Value"].decode()
    assert json.loads(json.dumps(definition))["Hash"] == digest


def client_for(address: str, token: str = "") -> consul.Consul:
    """A Consul client for `address` (and `token`), built as the service builds its own."""
    return consul_client(consul_access({"CONSUL_HTTP_ADDR": address, "CONSUL_HTTP_TOKEN": token}, read_text))


def test_a_restored_session_whose_check_the_agent_lacks_is_named_by_the_gateway(
    kv: consul.Consul, gateway: ConsulGateway, real_stack: dict[str, Any]
) -> None:
    """Consul 1.8.7 keeps a session a snapshot restore brings back though the agent no longer has its check (the
    catalog got the check back, passing, until the agent's anti-entropy sync 0-2 min later; see
    scripts/consul_restore_probe.py): the gateway names the check the agent lacks (a standby's orphan rule), and
    nothing for a session it cannot place on this agent's node."""
    address = real_stack["consul"]["http_addr"]
    tag = uuid.uuid4().hex[:8]
    own, dead = f"{CHECK_NAME}:probe-own-{tag}", f"{CHECK_NAME}:probe-dead-{tag}"
    for check in (own, dead):
        kv.agent.check.register(CHECK_NAME, check={"TTL": "30s", "Status": "passing"}, check_id=check)
    session: str = kv.session.create(lock_delay=0, checks=["serfHealth", dead])
    try:
        assert kv.kv.put(f"{PROBE}lock", "dead", acquire=session)
        assert SessionChecksRead(session, ()) == gateway.read_session_checks(session, own)
        snapshot = requests.get(f"http://{address}/v1/snapshot", timeout=10)
        snapshot.raise_for_status()
        kv.agent.check.deregister(dead)
        assert kv.session.info(session)[1] is None  # deregistering the check ended the session
        requests.put(f"http://{address}/v1/snapshot", data=snapshot.content, timeout=10).raise_for_status()

        named = gateway.read_session_checks(session, own)
        elsewhere = gateway.read_session_checks(session, f"{CHECK_NAME}:not-on-this-agent")
        if kv.session.info(session)[1] is None:
            pytest.skip("the agent's anti-entropy sync ran right after the restore (about 1 run in 60)")
        assert SessionChecksRead(session, (dead,)) == named
        assert SessionChecksRead(session, ()) == elsewhere
        assert session == kv.kv.get(f"{PROBE}lock")[1]["Session"]
    finally:
        kv.session.destroy(session)
        kv.agent.check.deregister(own)
