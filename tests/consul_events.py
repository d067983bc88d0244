"""Production Consul's events under two running instances, on teststack's 3-server Consul (teststack/
consul_cluster.py): what each event is, how it is made and undone, and what it cost, measured from outside
(tests/integration/test_consul_cluster.py asserts on it; bench/consul_events.py prints the figures).

Each event: the fault, a label change right after it (made with `docker node update`), then the wait until the
definition in Consul carries the label, then the fault undone. Measured, in UNIX seconds of this machine's clock
(the services' log lines carry it to the millisecond):

- Consul's part: from the fault until the agent's /v1/status/leader names a leader that is running and a read
  through the agent answers;
- the service's part: from then until the definition write that carried the label (its `published` line);
- without an active instance: the time, from the fault to that write, that no instance's log said it was active;
- two active: the time both said they were.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import requests

import teststack
from neon_cm.encoding import decode_definition
from neon_cm.keys import DEFINITION_KEY, LEADER_KEY
from tests.service import Service
from teststack import consul_cluster as cluster

ACTIVE = r"\[module:leadership\] this instance \(.*\) is active"
NO_LONGER = r"\[module:leadership\] this instance is no longer active"
PUBLISHED = r"\[module:definition-publisher\] published the cluster definition"
STAMP = re.compile(r"^\[([^]]+)\]")
EVENTS = ("leader-kill", "leader-stop", "agent-kill", "session-destroy", "snapshot-restore")
#: How long the leader stays SIGSTOPped, and the agent dead: longer than the lock check's TTL (3 s).
STOP_SECONDS = 5.0


def logged_at(line: str) -> float:
    """The UNIX time of a log line's timestamp."""
    match = STAMP.match(line)
    assert match is not None, line
    return datetime.datetime.fromisoformat(match.group(1)).timestamp()


def agent_get(path: str, timeout: float = 2.0) -> requests.Response | None:
    """GET `path` from the cluster's agent; None when it does not answer."""
    try:
        return requests.get(f"http://{cluster.load_cluster()['agent']}{path}", timeout=timeout)
    except requests.RequestException:
        return None


def stored_definition() -> dict[str, Any] | None:
    """The definition in Consul as the agent reads it (None while it cannot)."""
    answer = agent_get(f"/v1/kv/{DEFINITION_KEY}")
    if answer is None or answer.status_code != 200:
        return None
    return decode_definition(base64.b64decode(answer.json()[0]["Value"]))


def custom_label(definition: dict[str, Any] | None, node: str, key: str) -> str | None:
    if definition is None:
        return None
    return definition.get("Nodes", {}).get(node, {}).get("Labels", {}).get("Custom", {}).get(key)


def holder_session() -> str | None:
    answer = agent_get(f"/v1/kv/{LEADER_KEY}")
    return answer.json()[0].get("Session") if answer is not None and answer.status_code == 200 else None


def consul_snapshot(command: str, path: str) -> str:
    """`consul snapshot save|restore PATH` against the agent, as an operator runs it."""
    agent = cluster.load_cluster()["agent"]
    done = subprocess.run(
        [teststack.load()["binaries"]["consul"], "snapshot", command, f"-http-addr={agent}", path],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class LeaderWatch:
    """Polls the agent every 50 ms: when (UNIX time) it first named a running leader and answered a read after
    `since`, the faulted server (if any) excluded."""

    def __init__(self, since: float, excluded: str = "") -> None:
        self.since, self.excluded = since, excluded
        self.ready: float | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        members = cluster.load_cluster()["members"]
        excluded = members[self.excluded]["addr"] if self.excluded else ""
        while not self.stop.is_set() and self.ready is None:
            now = time.time()
            leader = agent_get("/v1/status/leader", timeout=1)
            named = leader.json() if leader is not None and leader.status_code == 200 else ""
            if named and not (excluded and named.startswith(excluded + ":")):
                read = agent_get(f"/v1/kv/{LEADER_KEY}", timeout=1)
                if read is not None and read.status_code in (200, 404):
                    self.ready = now
            time.sleep(0.05)

    def close(self) -> float | None:
        self.stop.set()
        self.thread.join(timeout=5)
        return self.ready


@attrs.frozen
class Outcome:
    """What one event cost (seconds)."""

    event: str
    consul_part: float
    service_part: float
    without_active: float
    two_active: float
    """The time, from the fault to that write, that both instances' logs said they were active."""
    writes: int
    """Definition writes (the published lines of both instances) from the fault to convergence."""


def active_spans(services: Sequence[Service]) -> list[tuple[float, float]]:
    """When each instance said it was active: (from, to) pairs, `to` inf while it still is."""
    spans = []
    for service in services:
        start: float | None = None
        for line in service.lines(f"{ACTIVE}|{NO_LONGER}"):
            if re.search(ACTIVE, line) and start is None:
                start = logged_at(line)
            elif re.search(NO_LONGER, line) and start is not None:
                spans.append((start, logged_at(line)))
                start = None
        if start is not None:
            spans.append((start, float("inf")))
    return spans


def uncovered(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """The seconds of [start, end] that no span covers."""
    covered, cursor = 0.0, start
    for low, high in sorted(spans):
        low, high = max(low, cursor), min(high, end)
        if high > low:
            covered += high - low
            cursor = high
    return max(0.0, end - start - covered)


def overlapped(each: list[list[tuple[float, float]]], start: float, end: float) -> float:
    """The seconds of [start, end] that spans of two instances (`each`: one list per instance) both cover."""
    first, second = each
    total = 0.0
    for a_low, a_high in first:
        for b_low, b_high in second:
            low, high = max(a_low, b_low, start), min(a_high, b_high, end)
            total += max(0.0, high - low)
    return total


def published_while_active(service: Service) -> list[str]:
    """The instance's published lines that its own log does not place inside one of its active spans."""
    spans = active_spans([service])
    return [line for line in service.lines(PUBLISHED) if not any(a <= logged_at(line) <= b for a, b in spans)]


def fault(event: str) -> tuple[str, Callable[[], None]]:
    """Make the fault `event` now; return the server it took away ("" for none) and how to undo it."""
    if event in ("leader-kill", "leader-stop"):
        name = cluster.leader_name()
        assert name, "the cluster has no leader before the fault"
        if event == "leader-kill":
            cluster.member_signal(name, signal.SIGKILL)
            return name, lambda: cluster.member_start(name)
        cluster.member_signal(name, signal.SIGSTOP)
        return name, lambda: cluster.member_signal(name, signal.SIGCONT)
    if event == "agent-kill":
        cluster.member_signal("agent", signal.SIGKILL)
        return "", lambda: cluster.member_start("agent")
    if event == "session-destroy":
        session = holder_session()
        assert session, "nobody holds the lock before the fault"
        answer = requests.put(f"http://{cluster.load_cluster()['agent']}/v1/session/destroy/{session}", timeout=5)
        assert answer.status_code == 200, answer.text
        return "", lambda: None
    raise ValueError(event)


def label(node: str, key: str, value: str) -> None:
    teststack.docker("manager-1", "node", "update", "--label-add", f"{key}={value}", node)


def run_event(event: str, services: Sequence[Service], value: str, timeout: float = 60.0) -> Outcome:
    """The fault `event`, a label change right after, the wait for the definition to carry it, the fault undone.
    The snapshot restore is: save, a label change, restore (the restored definition lacks it), and the wait
    for the definition to carry it again."""
    key = f"consul-event.{event}"
    marks = [service.mark() for service in services]
    started = time.time()
    if event == "snapshot-restore":
        snapshot = os.path.join(tempfile.mkdtemp(prefix="neon-cm-snapshot-"), "consul.snap")
        consul_snapshot("save", snapshot)
        label("worker-1", key, value)
        wait_for_label(key, value, timeout)
        started = time.time()
        consul_snapshot("restore", snapshot)
        shutil.rmtree(os.path.dirname(snapshot))
        undo, excluded = (lambda: None), ""
        watch = LeaderWatch(started)
        label("worker-2", key, value)
    else:
        excluded, undo = fault(event)
        watch = LeaderWatch(started, excluded)
        label("worker-1", key, value)
        if event in ("leader-stop", "agent-kill"):
            time.sleep(STOP_SECONDS)
            undo()
    try:
        node = "worker-2" if event == "snapshot-restore" else "worker-1"
        wait_for_label(key, value, timeout, node)
        if event == "snapshot-restore":
            wait_for_label(key, value, timeout, "worker-1")
    finally:
        undo()
        ready = watch.close()
    cluster.wait_cluster()
    published = [
        logged_at(line)
        for service, mark in zip(services, marks, strict=True)
        for line in service.lines(PUBLISHED, after=mark)
        if logged_at(line) >= started
    ]
    assert published, "the label reached Consul without a published line"
    written = max(published)
    ready = ready if ready is not None else started
    return Outcome(
        event,
        round(ready - started, 3),
        round(max(0.0, written - ready), 3),
        round(uncovered(active_spans(services), started, written), 3),
        round(overlapped([active_spans([service]) for service in services], started, written), 3),
        len(published),
    )


def wait_for_label(key: str, value: str, timeout: float, node: str = "worker-1") -> None:
    deadline = time.monotonic() + timeout
    while custom_label(stored_definition(), node, key) != value:
        assert time.monotonic() < deadline, f"the definition in Consul never carried {key}={value} on {node}"
        time.sleep(0.05)


def as_json(outcomes: Sequence[Outcome]) -> str:
    return json.dumps([attrs.asdict(outcome) for outcome in outcomes], indent=2)
