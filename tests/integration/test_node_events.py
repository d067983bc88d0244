"""Event-driven convergence on the real Swarm: node events reach Consul without waiting for a poll."""

from __future__ import annotations

from collections.abc import Callable

import consul
import pytest

import teststack as stack
from neon_cm.keys import HASH_KEY, SETTINGS_PREFIX
from tests.integration.test_definition_pipeline import PUBLISHED, read_definition, seed_base
from tests.service import Service


def started_with_slow_polls(kv: consul.Consul, start_service: Callable[..., Service]) -> Service:
    """A service polling 5 minutes apart (anything that shows up sooner came through the event stream),
    once it has published and its event stream is connected."""
    seed_base(kv)
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "300")
    service = start_service()
    service.wait_for(PUBLISHED)
    service.wait_for(r"node events: connected")
    return service


def test_label_change_reaches_consul_through_events_not_the_poll(
    kv: consul.Consul, start_service: Callable[..., Service], labels: Callable[..., None]
) -> None:
    """With a 300 s poll, a label change is published within seconds: the event path works."""
    service = started_with_slow_polls(kv, start_service)

    mark = service.mark()
    labels("worker-1", "io.neon.compute.cores", "12")
    service.wait_for(PUBLISHED, after=mark, timeout=20)
    definition, _, _, _ = read_definition(kv)

    assert 12 == definition["Nodes"]["worker-1"]["Labels"]["ComputeCores"]
    assert service.lines(r"\[DEBUG\] \[module:node-events\] node event update ")


@pytest.mark.serial  # a burst is events closer than 0.15 s apart: a loaded machine spaces `docker node update`s wider
def test_burst_of_label_changes_costs_at_most_two_writes(
    kv: consul.Consul, start_service: Callable[..., Service], labels: Callable[..., None]
) -> None:
    """Ten label changes in a row (an operator's loop) are coalesced: at most two definition writes."""
    service = started_with_slow_polls(kv, start_service)
    _, _, _, hash_index = read_definition(kv)

    mark = service.mark()
    for n in range(10):
        labels(["worker-1", "worker-2", "manager-1", "manager-2", "manager-3"][n % 5], f"burst.n{n}", str(n))
    # The write with the burst's last change, logged: nothing after it changes the definition again.
    service.wait_for(PUBLISHED + r".*burst\.n9", after=mark, timeout=20)
    definition, _, _, _ = read_definition(kv)
    writes = len(service.lines(PUBLISHED, after=mark))

    assert 1 <= writes <= 2
    assert "9" == definition["Nodes"]["manager-3"]["Labels"]["Custom"]["burst.n9"]
    assert kv.kv.get(HASH_KEY)[1]["ModifyIndex"] > hash_index


def test_event_stream_survives_a_docker_daemon_restart(
    kv: consul.Consul, start_service: Callable[..., Service], labels: Callable[..., None]
) -> None:
    """The manager's dockerd restarts: one WARN that says what happened without guessing why (the same words when a
    proxy in front of Docker restarts), the stream reconnects, and a later label change still arrives by event."""
    service = started_with_slow_polls(kv, start_service)

    mark = service.mark()
    stack.docker_restart("manager-1")
    service.wait_for(r"node events: connected", after=mark, timeout=60)
    after_restart = service.mark()
    labels("worker-2", "io.neon.physical.power", "ups-b")
    service.wait_for(PUBLISHED, after=after_restart, timeout=20)
    definition, _, _, _ = read_definition(kv)

    assert "ups-b" == definition["Nodes"]["worker-2"]["Labels"]["PhysicalPower"]
    assert service.lines(r"\[WARN\] \[module:node-events\] node events: .*; reconnecting", after=mark)
    assert [] == service.lines(r"daemon restarted\?")
