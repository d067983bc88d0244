"""Docker nodes and labels to the definition's node objects (pure logic)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given

from messages.swarm import SwarmNode
from neon_cm.definition import (
    LABEL_FIELDS,
    MAPPED_LABELS,
    PRIVATE_ADDRESS_LABEL,
    PUBLIC_ADDRESS_LABEL,
    DuplicateHostname,
    LabelProblem,
    NodesBuilt,
    build_nodes,
    node_object,
    with_nodes,
)
from neon_cm.encoding import canonical_json
from neon_cm.incremental import DefinitionEncoder
from tests import strategies

DOCKER_NODE = {
    "ID": "abc123",
    "Version": {"Index": 42},
    "Description": {"Hostname": "Manager-1"},
    "Spec": {"Role": "manager", "Availability": "active", "Labels": {"io.neon.compute.cores": "8", "zone": "a"}},
    "Status": {"State": "ready", "Addr": "10.0.0.11"},
    "ManagerStatus": {"Leader": True, "Reachability": "reachable", "Addr": "10.0.0.11:2377"},
}


def test_node_from_docker_attrs() -> None:
    """The fields the definition needs are read from Docker's node object."""

    assert SwarmNode(
        "abc123",
        "Manager-1",
        "manager",
        "10.0.0.11",
        "10.0.0.11",
        {"io.neon.compute.cores": "8", "zone": "a"},
        version=42,
    ) == SwarmNode.from_docker(DOCKER_NODE)


@pytest.mark.parametrize("version", [None, {}, {"Index": "7"}, {"Index": -1}, {"Index": True}, "x"])
def test_a_node_version_docker_did_not_give_as_a_positive_integer_is_unknown(version: object) -> None:
    """Version.Index missing or odd: 0, so the node is compared by its content, never trusted by its index."""

    assert 0 == SwarmNode.from_docker({**DOCKER_NODE, "Version": version}).version


@pytest.mark.parametrize(
    ("label", "meant"),
    [
        ("io.neon.compute.core", "io.neon.compute.cores"),
        ("Io.Neon.Compute.Cores", "io.neon.compute.cores"),
        ("io.neon.physcal.location", "io.neon.physical.location"),
        ("io.neon.physical.fault_domain", "io.neon.physical.faultdomain"),
        ("io.neon.storage.capacity", "io.neon.storage.capacity_gb"),
        ("io.neon.future.thing", ""),
        ("io.neon.node.role", ""),
        ("zone", ""),
        ("io.neonx.compute.cores", ""),
    ],
)
def test_a_label_that_reads_like_one_of_neons_is_a_problem_naming_it_the_rest_go_to_custom_quietly(
    label: str, meant: str
) -> None:
    """A misspelt neon label (another case, a letter more, less or changed) sets nothing: one problem names the label
    meant. A label in neon's namespace that reads like none of them is taken for a later neon's; both go to Custom."""
    obj, problems = node_object(SwarmNode("id1", "w1", "worker", "10.0.0.7", labels={label: "8"}))

    assert {label: "8"} == obj["Labels"]["Custom"]
    assert 0 == obj["Labels"]["ComputeCores"]
    assert ([meant] if meant else []) == [problem.meant for problem in problems]
    if meant:
        assert f"(did you mean {meant}?): it goes to Custom and sets nothing" in problems[0].describe()


def test_node_object_maps_neon_labels_and_keeps_others_in_custom() -> None:
    """io.neon.* labels become typed fields; every other label lands in Custom verbatim."""
    node = SwarmNode(
        "id1",
        "Worker-7",
        "worker",
        "10.0.0.7",
        labels={
            "io.neon.node.public_address": "203.0.113.7",
            "io.neon.storage.capacity_gb": "500",
            "io.neon.storage.ssd": "YES",
            "io.neon.storage.ephemral": "on",
            "io.neon.compute.architecture": "ARM64",
            "io.neon.compute.ram_mb": "16384",
            "io.neon.physical.location": "rack 4, Zürich",
            "io.neon.log.esdata": "1",
            "zone": "b",
            "io.neon.future.thing": "x",
        },
    )

    obj, problems = node_object(node)

    assert [] == problems
    assert {
        "Name": "worker-7",
        "PublicAddress": "203.0.113.7",
        "PrivateAddress": "10.0.0.7",
        "Role": "worker",
        "IsManager": False,
        "Labels": {
            "StorageCapacityGB": 500,
            "StorageLocal": True,
            "StorageSSD": True,
            "StorageRedundant": False,
            "StorageEphemeral": True,
            "ComputeCores": 0,
            "ComputeArchitecture": "arm64",
            "ComputeRamMB": 16384,
            "ComputeSwap": False,
            "PhysicalLocation": "rack 4, Zürich",
            "PhysicalMachine": "",
            "PhysicalFaultDomain": "",
            "PhysicalPower": "",
            "LogEsData": True,
            "Custom": {"io.neon.future.thing": "x", "zone": "b"},
        },
    } == obj


def test_private_address_label_wins_over_docker_address() -> None:
    """io.neon.node.private_address, when set, is the PrivateAddress."""
    node = SwarmNode("id1", "m", "manager", "10.0.0.1", labels={"io.neon.node.private_address": "192.0.2.1"})

    obj, _ = node_object(node)

    assert ("192.0.2.1", True) == (obj["PrivateAddress"], obj["IsManager"])


def test_unparsable_label_keeps_default_and_is_reported() -> None:
    """An int label of `abc` keeps the default and names the node, label and value."""
    node = SwarmNode("id1", "w1", "worker", "10.0.0.1", labels={"io.neon.compute.cores": "abc"})

    obj, problems = node_object(node)

    assert 0 == obj["Labels"]["ComputeCores"]
    assert [LabelProblem("w1", "io.neon.compute.cores", "abc", "an integer (Int32)")] == problems
    assert "w1" in problems[0].describe() and "io.neon.compute.cores" in problems[0].describe()


def test_duplicate_hostnames_are_reported_with_both_ids() -> None:
    """Two nodes called the same (case-insensitively) are a problem naming both IDs."""
    built = build_nodes(
        [SwarmNode("id-b", "Node", "worker", "10.0.0.2"), SwarmNode("id-a", "node", "worker", "10.0.0.1")]
    )

    assert 1 == len(built.duplicates)
    assert ("id-a", "id-b") == built.duplicates[0].node_ids


def test_a_node_with_no_hostname_yet_is_left_out() -> None:
    """Docker lists a node joining the Swarm before its description (hostname) arrives: it cannot be named in the
    definition (it was published as a node called "" for the 0.2 s until its hostname came, on the test stack)."""
    joining = SwarmNode("id-j", "", "worker", "10.0.0.9")
    swarm = [SwarmNode("id-a", "node", "worker", "10.0.0.1"), joining]

    built = build_nodes(swarm)
    listing = DefinitionEncoder().listing(swarm)

    assert ["node"] == list(built.nodes)
    assert ["node"] == list(listing.nodes)
    assert () == built.duplicates == listing.duplicates


@given(strategies.swarms())
def test_nodes_sorted_by_name_and_every_node_listed(swarm: list[SwarmNode]) -> None:
    """Every Swarm node appears once, keyed by its lower-cased hostname, in name order."""
    built = build_nodes(swarm)

    assert sorted(node.hostname.lower() for node in swarm) == list(built.nodes)


@given(strategies.base_definitions(), strategies.swarms())
def test_base_properties_survive_untouched(base: dict, swarm: list[SwarmNode]) -> None:
    """Only Nodes is replaced; every other property, known or not, keeps its value and place."""
    definition = with_nodes(base, build_nodes(swarm).nodes)

    assert [key for key in base] == [key for key in definition]
    assert {k: v for k, v in base.items() if k != "Nodes"} == {k: v for k, v in definition.items() if k != "Nodes"}


def spec_node_object(node: SwarmNode) -> tuple[dict[str, Any], list[LabelProblem]]:
    """The node object exactly as the spec words it, field by field: the model build_nodes must match."""
    labels = dict(node.labels)
    name = node.hostname.lower()
    typed: dict[str, Any] = {}
    problems = []
    for field in LABEL_FIELDS:
        typed[field.property] = field.default
        label = next((label for label in field.labels if label in labels), None)  # an old spelling only alone
        if label is not None:
            parsed = labels[label] if field.parse is None else field.parse(labels[label])
            if parsed is None:
                problems.append(LabelProblem(name, label, labels[label], field.expected))
            else:
                typed[field.property] = parsed
    typed["Custom"] = {key: labels[key] for key in sorted(labels) if key not in MAPPED_LABELS}
    return {
        "Name": name,
        "PublicAddress": labels.get(PUBLIC_ADDRESS_LABEL, ""),
        "PrivateAddress": labels.get(PRIVATE_ADDRESS_LABEL, node.addr),
        "Role": node.role,
        "IsManager": node.role == "manager",
        "Labels": typed,
    }, problems


def spec_build_nodes(swarm: list[SwarmNode]) -> NodesBuilt:
    """build_nodes as the spec words it: the first node listed under a name is the one kept."""
    by_name: dict[str, list[SwarmNode]] = {}
    for node in swarm:
        by_name.setdefault(node.hostname.lower(), []).append(node)
    problems = [problem for node in swarm for problem in spec_node_object(node)[1]]
    return NodesBuilt(
        {name: spec_node_object(group[0])[0] for name, group in sorted(by_name.items())},
        tuple(sorted(problems, key=attrs.astuple)),
        tuple(
            DuplicateHostname(name, tuple(sorted(node.id for node in group)))
            for name, group in sorted(by_name.items())
            if len(group) > 1
        ),
    )


@given(strategies.crowded_swarms())
def test_build_nodes_matches_the_spec_model(swarm: list[SwarmNode]) -> None:
    """The one-pass build gives the spec model's nodes (same bytes, so same order and types), label
    problems and duplicates, for odd label values, both ephemeral spellings and shared hostnames."""
    expected = spec_build_nodes(swarm)

    actual = build_nodes(swarm)

    assert canonical_json(expected.nodes) == canonical_json(actual.nodes)
    assert expected == actual


def test_label_words_are_what_their_parser_makes_of_them() -> None:
    """Each field's words (looked up before its parser) are what the parser makes of them, type included."""
    expected = [(word, type(value), value) for field in LABEL_FIELDS for word, value in field.words.items()]

    actual = [
        (word, type(field.parse(word)), field.parse(word))
        for field in LABEL_FIELDS
        if field.parse is not None
        for word in field.words
    ]

    assert expected == actual


def test_int_labels_read_as_dotnet_int_parse_does() -> None:
    """ASCII digits with a sign, within Int32: what neon-tool can read; anything else keeps the default."""
    accepted = {"16": 16, " -3 ": -3, "+7": 7, "2147483647": 2147483647}
    refused = ["1_000", "١٦", "99999999999999999999", "2147483648", "1.5", "0x10", ""]

    for text, number in accepted.items():
        obj, problems = node_object(SwarmNode("i", "n", "worker", "a", labels={"io.neon.compute.cores": text}))
        assert (number, []) == (obj["Labels"]["ComputeCores"], problems)
    for text in refused:
        obj, problems = node_object(SwarmNode("i", "n", "worker", "a", labels={"io.neon.compute.cores": text}))
        assert (0, 1) == (obj["Labels"]["ComputeCores"], len(problems)), text
