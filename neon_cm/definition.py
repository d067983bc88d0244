"""The cluster definition's node model: Docker nodes and labels to definition node objects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from messages.swarm import SwarmNode

ARCHITECTURES = ("unknown", "x32", "x64", "arm32", "arm64")
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})

PUBLIC_ADDRESS_LABEL = "io.neon.node.public_address"
PRIVATE_ADDRESS_LABEL = "io.neon.node.private_address"


@attrs.frozen
class LabelProblem:
    """A node label whose value does not parse; the field keeps its default."""

    node: str
    """Node name (lower-cased hostname)."""
    label: str
    """Label key."""
    value: str
    """The value as Docker holds it."""
    expected: str
    """What the value should have been, e.g. 'an integer'."""

    def describe(self) -> str:
        """One log line's worth: names the node, the label and the value."""
        return f"node {self.node}: label {self.label}={self.value!r} is not {self.expected}; using the default"


@attrs.frozen
class DuplicateHostname:
    """Two Swarm nodes with the same (lower-cased) hostname; the definition cannot name both."""

    name: str
    """The shared node name."""
    node_ids: tuple[str, ...]
    """Docker IDs of every node with that name."""

    def describe(self) -> str:
        """One log line's worth, naming every ID."""
        return f"nodes {', '.join(self.node_ids)} all have the hostname {self.name}; definition not published"


def _parse_bool(value: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _parse_int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def _parse_architecture(value: str) -> str | None:
    word = value.strip().lower()
    return word if word in ARCHITECTURES else None


def _parse_text(value: str) -> str | None:
    return value


@attrs.frozen
class _LabelField:
    labels: tuple[str, ...]
    property: str
    default: Any
    parse: Callable[[str], Any]
    expected: str


_BOOL, _INT, _TEXT = "true/false (true, yes, on, 1 / false, no, off, 0)", "an integer", "text"
# The order here is the order of the properties in each node's `Labels` object.
LABEL_FIELDS: tuple[_LabelField, ...] = (
    _LabelField(("io.neon.storage.capacity_gb",), "StorageCapacityGB", 0, _parse_int, _INT),
    _LabelField(("io.neon.storage.local",), "StorageLocal", True, _parse_bool, _BOOL),
    _LabelField(("io.neon.storage.ssd",), "StorageSSD", False, _parse_bool, _BOOL),
    _LabelField(("io.neon.storage.redundant",), "StorageRedundant", False, _parse_bool, _BOOL),
    # The original service misspelled this label; clusters in the wild carry either spelling.
    _LabelField(
        ("io.neon.storage.ephemeral", "io.neon.storage.ephemral"), "StorageEphemeral", False, _parse_bool, _BOOL
    ),
    _LabelField(("io.neon.compute.cores",), "ComputeCores", 0, _parse_int, _INT),
    _LabelField(
        ("io.neon.compute.architecture",), "ComputeArchitecture", "x64", _parse_architecture, "|".join(ARCHITECTURES)
    ),
    _LabelField(("io.neon.compute.ram_mb",), "ComputeRamMB", 0, _parse_int, _INT),
    _LabelField(("io.neon.compute.swap",), "ComputeSwap", False, _parse_bool, _BOOL),
    _LabelField(("io.neon.physical.location",), "PhysicalLocation", "", _parse_text, _TEXT),
    _LabelField(("io.neon.physical.machine",), "PhysicalMachine", "", _parse_text, _TEXT),
    _LabelField(("io.neon.physical.faultdomain",), "PhysicalFaultDomain", "", _parse_text, _TEXT),
    _LabelField(("io.neon.physical.power",), "PhysicalPower", "", _parse_text, _TEXT),
    _LabelField(("io.neon.log.esdata",), "LogEsData", False, _parse_bool, _BOOL),
)
MAPPED_LABELS = frozenset(
    [label for field in LABEL_FIELDS for label in field.labels] + [PUBLIC_ADDRESS_LABEL, PRIVATE_ADDRESS_LABEL]
)


def node_labels(name: str, labels: Mapping[str, str]) -> tuple[dict[str, Any], list[LabelProblem]]:
    """The `Labels` object of one node, and the labels whose values did not parse."""
    result: dict[str, Any] = {}
    problems: list[LabelProblem] = []
    for field in LABEL_FIELDS:
        value = field.default
        for label in field.labels:
            if label in labels:
                parsed = field.parse(labels[label])
                if parsed is None:
                    problems.append(LabelProblem(name, label, labels[label], field.expected))
                else:
                    value = parsed
                break
        result[field.property] = value
    result["Custom"] = {key: labels[key] for key in sorted(labels) if key not in MAPPED_LABELS}
    return result, problems


def node_object(node: SwarmNode) -> tuple[dict[str, Any], list[LabelProblem]]:
    """The definition's object for one Swarm node, and its label problems."""
    labels = dict(node.labels)
    name = node.hostname.lower()
    label_object, problems = node_labels(name, labels)
    return {
        "Name": name,
        "PublicAddress": labels.get(PUBLIC_ADDRESS_LABEL, ""),
        "PrivateAddress": labels.get(PRIVATE_ADDRESS_LABEL, node.addr),
        "Role": node.role,
        "IsManager": node.role == "manager",
        "Labels": label_object,
    }, problems


@attrs.frozen
class NodesBuilt:
    """The result of turning a Swarm listing into the definition's `Nodes`."""

    nodes: dict[str, Any]
    """Node name to node object, sorted by name."""
    label_problems: tuple[LabelProblem, ...]
    """Labels that kept their default because their value did not parse."""
    duplicates: tuple[DuplicateHostname, ...]
    """Hostnames shared by several nodes; when any, the definition must not be published."""


def build_nodes(swarm_nodes: Iterable[SwarmNode]) -> NodesBuilt:
    """Node objects for every Swarm node (down or drained ones too), keyed and sorted by name."""
    by_name: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    problems: list[LabelProblem] = []
    for node in swarm_nodes:
        obj, node_problems = node_object(node)
        by_name.setdefault(obj["Name"], []).append((node.id, obj))
        problems.extend(node_problems)
    duplicates = tuple(
        DuplicateHostname(name, tuple(sorted(node_id for node_id, _ in entries)))
        for name, entries in sorted(by_name.items())
        if len(entries) > 1
    )
    nodes = {name: entries[0][1] for name, entries in sorted(by_name.items())}
    return NodesBuilt(nodes, tuple(sorted(problems, key=attrs.astuple)), duplicates)


def with_nodes(base: Mapping[str, Any], nodes: dict[str, Any]) -> dict[str, Any]:
    """The base definition with `Nodes` replaced; every other top-level property kept as it is."""
    definition = dict(base)
    definition["Nodes"] = nodes
    return definition
