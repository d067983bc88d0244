"""Describing what changed between two definitions' Nodes (pure logic, hammered with hypothesis)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from messages.swarm import SwarmNode
from neon_cm.changes import describe_node_changes
from neon_cm.definition import build_nodes
from tests.strategies import json_values, swarm_changes, swarms


def nodes_of(swarm: list[SwarmNode]) -> dict[str, Any]:
    return build_nodes(swarm).nodes


def worker(name: str, role: str = "worker", **labels: str) -> SwarmNode:
    return SwarmNode(id=name, hostname=name, role=role, addr="10.0.0.1", manager_addr="", labels=labels)


def test_a_label_change_and_an_added_node_read_as_the_operator_made_them() -> None:
    """Typed labels under their Docker names, custom labels as they are, whole nodes added or removed."""
    before = nodes_of([worker("worker-1", **{"io.neon.compute.cores": "4", "rack": "r1"}), worker("worker-2")])
    after = nodes_of(
        [worker("worker-1", **{"io.neon.compute.cores": "8", "zone": "z"}), worker("worker-3", role="manager")]
    )

    assert (
        "worker-1: io.neon.compute.cores 4 -> 8, rack removed, zone added (z); worker-2 removed; worker-3 added"
        == describe_node_changes(before, after)
    )


def test_an_empty_or_space_padded_value_is_quoted_so_it_can_be_read() -> None:
    """Operator tryout 2026-12-07: `--label-add 'io.neon.physical.location= rack 1 '` was logged
    `manager-2: io.neon.physical.location  ->  rack 1 ` (the default "" shown as nothing, the spaces invisible, the line
    ending in a space), and an empty label `io.neon.empty added ()`. Such values are quoted; plain ones are not."""
    before = nodes_of([worker("worker-1", rack="r1")])
    after = nodes_of([worker("worker-1", **{"io.neon.physical.location": " rack 1 ", "empty": "", "rack": "r 2"})])

    assert (
        'worker-1: empty added (""), io.neon.physical.location "" -> " rack 1 ", rack r1 -> r 2'
        == describe_node_changes(before, after)
    )


def test_long_values_are_cut_and_many_changes_are_counted() -> None:
    """A 1,000-character label value shows its start; 1,000 new nodes stay within the limit with a count."""
    before = nodes_of([worker("worker-1")])
    after = nodes_of([worker("worker-1", note="x" * 1000)])
    many = describe_node_changes({}, {f"node-{index:04}": {} for index in range(1000)})

    assert f"worker-1: note added ({'x' * 37}...)" == describe_node_changes(before, after)
    assert len(many) <= 600
    assert many.startswith("node-0000 added; node-0001 added")
    assert many.endswith(f"; ... and {1000 - many.count(' added')} more changes")


@given(swarm_changes())
def test_something_is_described_exactly_when_the_nodes_differ(change: tuple[list[SwarmNode], list[SwarmNode]]) -> None:
    """`no node changed` if and only if the Nodes objects are equal; never longer than the limit."""
    before, after = nodes_of(change[0]), nodes_of(change[1])
    described = describe_node_changes(before, after)

    assert (before == after) == (described == "no node changed")
    assert len(described) <= 600


@given(swarm_changes())
def test_every_added_and_removed_node_is_named_while_it_fits(change: tuple[list[SwarmNode], list[SwarmNode]]) -> None:
    """Nodes that came or went are named (these swarms are small enough never to reach the limit)."""
    before, after = nodes_of(change[0]), nodes_of(change[1])
    described = describe_node_changes(before, after, limit=100_000)

    assert [] == [name for name in after.keys() - before.keys() if f"{name} added" not in described]
    assert [] == [name for name in before.keys() - after.keys() if f"{name} removed" not in described]


@given(json_values, swarms(), st.integers(min_value=0, max_value=2000))
def test_whatever_the_published_nodes_held_the_description_is_bounded(
    published: Any, swarm: list[SwarmNode], limit: int
) -> None:
    """Cluster setup's `Nodes` may hold anything: the description never fails and never passes its limit
    (below the room for the count, only the count is given)."""
    described = describe_node_changes(published, nodes_of(swarm), limit=limit)

    assert len(described) <= limit or re.fullmatch(r"\d+ changes", described), described
