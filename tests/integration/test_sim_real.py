"""The simulated Consul against the real one (Consul 1.8.7 of the stack): one sequence of calls on both, the
answers the deciders depend on compared. The real stack is the judge of the simulator's semantics."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import consul
import pytest
import requests

from sim.consul import CheckFlavour, SimConsul

PREFIX = "neon/sim-probe/"
"""Keys of this test (cleared before and after it)."""


@pytest.fixture
def stack_consul(real_stack: dict[str, Any]) -> Iterator[tuple[str, consul.Consul]]:
    """The stack's Consul (its URL and a client), under the session's hold on the stack (real_stack: taking the
    stack's lock again here, inside a session that holds it, would wait for ever)."""
    host, port = real_stack["consul"]["http_addr"].rsplit(":", 1)
    client = consul.Consul(host=host, port=int(port))
    client.kv.delete(PREFIX, recurse=True)
    yield f"http://{host}:{port}", client
    client.kv.delete(PREFIX, recurse=True)


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Until `condition()` holds (a positive sign), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.1)


def test_the_simulated_consul_answers_as_the_real_one(stack_consul: tuple[str, consul.Consul]) -> None:
    """Same value, same ModifyIndex; a stale cas and a failed check-session roll a transaction back (409) at the
    operation's index; a session bound to a TTL check is invalidated when the check expires, releasing the lock;
    the check passed again does not bring it back; a session on a critical check is refused; an unknown check's
    pass answers 500 `does not have associated TTL` (no ACLs on the stack)."""
    url, kv = stack_consul
    sim = SimConsul(CheckFlavour.PLAIN)
    tag = uuid.uuid4().hex[:8]
    key, lock, check = f"{PREFIX}value", f"{PREFIX}lock-{tag}", f"sim-probe-{tag}"
    real: dict[str, Any] = {}
    simulated: dict[str, Any] = {}

    # The same value written twice keeps its index; another value moves it.
    kv.kv.put(key, "v")
    first = kv.kv.get(key)[1]["ModifyIndex"]
    kv.kv.put(key, "v")
    real["same value"] = kv.kv.get(key)[1]["ModifyIndex"] == first
    sim.kv_put(0.0, key, b"v", "t")
    index = sim.kv_get(0.0, key).body[0]["ModifyIndex"]
    sim.kv_put(0.0, key, b"v", "t")
    simulated["same value"] = sim.kv_get(0.0, key).body[0]["ModifyIndex"] == index

    # A TTL check (2 s) and a session bound to it holding the lock.
    kv.agent.check.register(check, check_id=check, check={"TTL": "2s", "Status": "passing"})
    try:
        session = kv.session.create(checks=["serfHealth", check], lock_delay=0)
        real["acquired"] = kv.kv.put(lock, "i1", acquire=session)
        sim.check_register(0.0, check, check, 2.0)
        sim_session = sim.session_create(0.0, ("serfHealth", check), "i1").body["ID"]
        simulated["acquired"] = sim.kv_put(0.0, lock, b"i1", "i1", acquire=sim_session).body

        # A transaction: a stale cas rolls it back at its operation (0); then the fence (check-session) of
        # another session rolls it back at its operation (1).
        def txn(base: str, cas: int, holder: str) -> tuple[int, list[int]]:
            operations = [
                {"KV": {"Verb": "cas", "Key": key, "Value": "dw==", "Index": cas}},
                {"KV": {"Verb": "check-session", "Key": lock, "Session": holder}},
            ]
            answer = requests.put(f"{base}/v1/txn", json=operations, timeout=5)
            errors = answer.json().get("Errors") or [] if answer.status_code == 409 else []
            return answer.status_code, sorted(error["OpIndex"] for error in errors)

        current = kv.kv.get(key)[1]["ModifyIndex"]
        real["stale cas"] = txn(url, current + 1000, session)
        real["fenced"] = txn(url, current, str(uuid.uuid4()))

        def sim_txn(cas: int, holder: str) -> tuple[int, list[int]]:
            operations: list[dict[str, Any]] = [
                {"KV": {"Verb": "cas", "Key": key, "Value": b"w", "Index": cas}},
                {"KV": {"Verb": "check-session", "Key": lock, "Session": holder}},
            ]
            answer = sim.txn(0.0, operations)
            errors = answer.body["Errors"] if answer.status == 409 else []
            return answer.status, sorted(error["OpIndex"] for error in errors)

        simulated["stale cas"] = sim_txn(index + 1000, sim_session)
        simulated["fenced"] = sim_txn(index, "another")

        # Not passed for its TTL: critical, the session invalidated, the lock released (a positive sign).
        wait_for(lambda: not (kv.kv.get(lock)[1] or {}).get("Session"))
        real["lock released"] = True
        real["session gone"] = kv.session.info(session)[1] is None
        requests.put(f"{url}/v1/agent/check/pass/{check}", timeout=5).raise_for_status()
        real["passed again, session back"] = kv.session.info(session)[1] is not None
        sim.expire(2.5)
        simulated["lock released"] = sim.holder(2.5) is None
        simulated["session gone"] = sim.session_renew(2.5, sim_session).status == 404
        sim.check_pass(2.6, check)
        simulated["passed again, session back"] = sim.session_renew(2.6, sim_session).status == 200

        # A session bound to a critical check is refused.
        wait_for(lambda: kv.agent.checks()[check]["Status"] == "critical")
        refused = requests.put(f"{url}/v1/session/create", json={"Checks": [check]}, timeout=5)
        real["critical check refused"] = refused.status_code
        simulated["critical check refused"] = sim.session_create(5.0, (check,), "i1").status
    finally:
        kv.agent.check.deregister(check)

    # A pass of a check the agent does not know.
    unknown = requests.put(f"{url}/v1/agent/check/pass/{check}", timeout=5)
    real["unknown check"] = (unknown.status_code, "does not have associated TTL" in unknown.text)
    sim.check_deregister(6.0, check)
    gone = sim.check_pass(6.0, check)
    simulated["unknown check"] = (gone.status, "does not have associated TTL" in gone.body)

    assert real == simulated
