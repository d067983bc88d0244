"""The cluster definition's node model: Docker nodes and labels to definition node objects."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from messages.swarm import SwarmNode

ARCHITECTURES = ("unknown", "x32", "x64", "arm32", "arm64")
TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "0"})

#: neon's namespace of node labels: one in it that reads like one of MAPPED_LABELS but is none of them is a typo (a
#: LabelProblem, said once); one that reads like none is taken for a later neon's.
NEON_LABELS = "io.neon."
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
    """What the value should have been, e.g. 'an integer'; "" for a label that is none of neon's but reads like one
    (`meant`): a typo, whose field keeps its default while the label goes to Custom."""
    meant: str = ""
    """For a label that reads like one of neon's (`misspelt`): that one."""

    def describe(self) -> str:
        """One log line's worth: names the node, the label and the value (and, for a misspelt one, the label meant)."""
        if self.meant:
            return (
                f"node {self.node}: label {self.label}={self.value!r} is no label of neon's (did you mean "
                f"{self.meant}?): it goes to Custom and sets nothing"
            )
        return f"node {self.node}: label {self.label}={self.value!r} is not {self.expected}; using the default"


def misspelt(label: str) -> str:
    """The label of neon's that `label`, in neon's namespace (`io.neon.`, any case) and none of MAPPED_LABELS, reads
    like (another case, a letter more, less or changed: `io.neon.compute.core`), else "". A label in the namespace
    that reads like none of them is taken for one a later neon added (kept in Custom without a word)."""
    if label[: len(NEON_LABELS)].lower() != NEON_LABELS:
        return ""
    meant = difflib.get_close_matches(label.lower(), _MAPPED_IN_ORDER, n=1, cutoff=0.9)
    return meant[0] if meant else ""


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


#: What .NET's int.Parse (neon-tool, the original service) reads: ASCII digits, a sign, in Int32's range.
INT32_TEXT = re.compile(r"[+-]?[0-9]{1,10}")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _parse_int(value: str) -> int | None:
    text = value.strip()
    if not INT32_TEXT.fullmatch(text):
        return None
    number = int(text)
    return number if INT32_MIN <= number <= INT32_MAX else None


def _parse_architecture(value: str) -> str | None:
    word = value.strip().lower()
    return word if word in ARCHITECTURES else None


@attrs.frozen
class _LabelField:
    labels: tuple[str, ...]
    """The label, then older spellings that count only when it is missing."""
    property: str
    default: Any
    parse: Callable[[str], Any] | None
    """The value's parser, returning None when it does not parse; None for text, taken verbatim."""
    expected: str
    words: Mapping[str, Any] = attrs.field(factory=dict)
    """Values that `parse` maps to these results as written: looked up first, so most never reach it."""


_BOOL, _INT, _TEXT = "true/false (true, yes, on, 1 / false, no, off, 0)", "an integer (Int32)", "text"
_BOOL_WORDS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}
_ARCHITECTURE_WORDS = {word: word for word in ARCHITECTURES}
# The order here is the order of the properties in each node's `Labels` object.
LABEL_FIELDS: tuple[_LabelField, ...] = (
    _LabelField(("io.neon.storage.capacity_gb",), "StorageCapacityGB", 0, _parse_int, _INT),
    _LabelField(("io.neon.storage.local",), "StorageLocal", True, _parse_bool, _BOOL, _BOOL_WORDS),
    _LabelField(("io.neon.storage.ssd",), "StorageSSD", False, _parse_bool, _BOOL, _BOOL_WORDS),
    _LabelField(("io.neon.storage.redundant",), "StorageRedundant", False, _parse_bool, _BOOL, _BOOL_WORDS),
    # The original service misspelled this label; clusters in the wild carry either spelling.
    _LabelField(
        ("io.neon.storage.ephemeral", "io.neon.storage.ephemral"),
        "StorageEphemeral",
        False,
        _parse_bool,
        _BOOL,
        _BOOL_WORDS,
    ),
    _LabelField(("io.neon.compute.cores",), "ComputeCores", 0, _parse_int, _INT),
    _LabelField(
        ("io.neon.compute.architecture",),
        "ComputeArchitecture",
        "x64",
        _parse_architecture,
        "|".join(ARCHITECTURES),
        _ARCHITECTURE_WORDS,
    ),
    _LabelField(("io.neon.compute.ram_mb",), "ComputeRamMB", 0, _parse_int, _INT),
    _LabelField(("io.neon.compute.swap",), "ComputeSwap", False, _parse_bool, _BOOL, _BOOL_WORDS),
    _LabelField(("io.neon.physical.location",), "PhysicalLocation", "", None, _TEXT),
    _LabelField(("io.neon.physical.machine",), "PhysicalMachine", "", None, _TEXT),
    _LabelField(("io.neon.physical.faultdomain",), "PhysicalFaultDomain", "", None, _TEXT),
    _LabelField(("io.neon.physical.power",), "PhysicalPower", "", None, _TEXT),
    _LabelField(("io.neon.log.esdata",), "LogEsData", False, _parse_bool, _BOOL, _BOOL_WORDS),
)
MAPPED_LABELS = frozenset(
    [label for field in LABEL_FIELDS for label in field.labels] + [PUBLIC_ADDRESS_LABEL, PRIVATE_ADDRESS_LABEL]
)

_MAPPED_IN_ORDER = sorted(MAPPED_LABELS)
"""MAPPED_LABELS in a fixed order: the label `misspelt` names when two read alike."""
# Worked out once rather than per node (build_nodes runs every poll over every node: bench/encode.py).
_DEFAULT_LABELS = {field.property: field.default for field in LABEL_FIELDS}
_FIELD_BY_LABEL = {label: field for field in LABEL_FIELDS for label in field.labels}
_SUPERSEDED_BY = {old: field.labels[0] for field in LABEL_FIELDS for old in field.labels[1:]}
#: Each label's (property, words, parse); old spellings are not here, as they need a look at the others.
_TYPED_LABELS = {
    label: (field.property, field.words, field.parse)
    for label, field in _FIELD_BY_LABEL.items()
    if label not in _SUPERSEDED_BY
}


def _node_object(node: SwarmNode, problems: list[LabelProblem]) -> dict[str, Any]:
    """The definition's object for one Swarm node; its label problems are appended to `problems`.

    One pass over the labels, one look-up each. node.labels holds one value per key (Docker's labels
    are a map), sorted by key, so Custom comes out sorted without sorting it here.
    """
    name = node.hostname.lower()
    public_address = ""
    private_address = node.addr
    labels = _DEFAULT_LABELS.copy()  # every property, in order, with its default
    custom: dict[str, str] = {}
    typed_labels = _TYPED_LABELS
    for key, value in node.labels:
        typed = typed_labels.get(key)
        if typed is None:
            if key not in MAPPED_LABELS:
                custom[key] = value
                if key[:1] in "iI" and (meant := misspelt(key)):  # the first letter alone: no call for most
                    problems.append(LabelProblem(name, key, value, "", meant))
            elif key == PUBLIC_ADDRESS_LABEL:
                public_address = value
            elif key == PRIVATE_ADDRESS_LABEL:
                private_address = value
            elif all(label != _SUPERSEDED_BY[key] for label, _ in node.labels):  # an old spelling, alone
                field = _FIELD_BY_LABEL[key]
                typed = field.property, field.words, field.parse
            if typed is None:
                continue
        prop, words, parse = typed
        if parse is None:
            labels[prop] = value
            continue
        parsed = words.get(value)
        if parsed is None:
            parsed = parse(value)
        if parsed is None:
            problems.append(LabelProblem(name, key, value, _FIELD_BY_LABEL[key].expected))
        else:
            labels[prop] = parsed
    labels["Custom"] = custom
    return {
        "Name": name,
        "PublicAddress": public_address,
        "PrivateAddress": private_address,
        "Role": node.role,
        "IsManager": node.role == "manager",
        "Labels": labels,
    }


def node_object(node: SwarmNode) -> tuple[dict[str, Any], list[LabelProblem]]:
    """The definition's object for one Swarm node, and its label problems."""
    problems: list[LabelProblem] = []
    return _node_object(node, problems), problems


@attrs.frozen
class NodesBuilt:
    """The result of turning a Swarm listing into the definition's `Nodes`."""

    nodes: dict[str, Any]
    """Node name to node object, sorted by name."""
    label_problems: tuple[LabelProblem, ...]
    """Labels that kept their default because their value did not parse."""
    duplicates: tuple[DuplicateHostname, ...]
    """Hostnames shared by several nodes; when any, the definition must not be published."""


def described(swarm_nodes: Iterable[SwarmNode]) -> tuple[SwarmNode, ...]:
    """The nodes Docker has a hostname for: a node joining the Swarm is listed for a moment before its description
    (hostname, platform) arrives, and a definition cannot name it until then; the next listing brings it."""
    return tuple(node for node in swarm_nodes if node.hostname)


def build_nodes(swarm_nodes: Iterable[SwarmNode]) -> NodesBuilt:
    """Node objects for every Swarm node (down or drained ones too), keyed and sorted by name; a node with no
    hostname yet (joining: Docker lists it before its description comes) is left out, as it cannot be named."""
    listed = described(swarm_nodes)
    by_name: dict[str, dict[str, Any]] = {}
    shared: set[str] = set()
    problems: list[LabelProblem] = []
    for node in listed:
        obj = _node_object(node, problems)
        if by_name.setdefault(obj["Name"], obj) is not obj:  # the first node listed keeps the name
            shared.add(obj["Name"])
    duplicates = tuple(
        DuplicateHostname(name, tuple(sorted(node.id for node in listed if node.hostname.lower() == name)))
        for name in sorted(shared)
    )
    nodes = {name: by_name[name] for name in sorted(by_name)}
    return NodesBuilt(nodes, tuple(sorted(problems, key=attrs.astuple)), duplicates)


def with_nodes(base: Mapping[str, Any], nodes: dict[str, Any]) -> dict[str, Any]:
    """The base definition with `Nodes` replaced; every other top-level property kept as it is."""
    definition = dict(base)
    definition["Nodes"] = nodes
    return definition
