"""Hypothesis strategies for the service's domain; new features extend this module."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

import attrs
from hypothesis import strategies as st

from messages.swarm import SwarmNode
from neon_cm.definition import LABEL_FIELDS, PRIVATE_ADDRESS_LABEL, PUBLIC_ADDRESS_LABEL

# Any Unicode Docker could hold in a label: everything but surrogates (not valid UTF-8).
text = st.text(st.characters(codec="utf-8"), max_size=40)
hostnames = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20)
mapped_label_keys = st.sampled_from(
    [label for field in LABEL_FIELDS for label in field.labels] + [PUBLIC_ADDRESS_LABEL, PRIVATE_ADDRESS_LABEL]
)
label_keys = st.one_of(mapped_label_keys, text.filter(bool))
label_values = st.one_of(st.sampled_from(["true", "no", "1", "42", "-3", "arm64", "x64", "abc", ""]), text)
labels = st.dictionaries(label_keys, label_values, max_size=8)
addresses = st.ip_addresses(v=4).map(str)


@st.composite
def swarm_nodes(draw: st.DrawFn, hostname: str | None = None) -> SwarmNode:
    """One Swarm node as Docker would list it."""
    role = draw(st.sampled_from(["manager", "worker"]))
    addr = draw(addresses)
    return SwarmNode(
        id=draw(st.text(string.ascii_lowercase + string.digits, min_size=25, max_size=25)),
        hostname=hostname if hostname is not None else draw(hostnames),
        role=role,
        addr=addr,
        manager_addr=addr if role == "manager" else "",
        labels=draw(labels),
    )


@st.composite
def swarms(draw: st.DrawFn, min_size: int = 1, max_size: int = 6) -> list[SwarmNode]:
    """A Swarm's node list: distinct hostnames, in Docker's (arbitrary) order."""
    names = draw(st.lists(hostnames, min_size=min_size, max_size=max_size, unique=True))
    return [draw(swarm_nodes(hostname=name)) for name in names]


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False), text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)


@st.composite
def base_definitions(draw: st.DrawFn) -> dict[str, Any]:
    """A definition as cluster setup publishes it: known and unknown top-level properties."""
    known = ["Name", "Schema", "Datacenter", "Environment", "Docker", "Consul", "Vault", "Network", "Log"]
    definition = draw(st.dictionaries(st.one_of(st.sampled_from(known), text), json_values, max_size=8))
    definition.pop("Nodes", None)
    definition.pop("Hash", None)
    definition["Nodes"] = {}
    definition["Hash"] = None
    return definition


def _share(raw: bytes, as_hex: bool) -> str:
    """One unseal key share as Vault prints it: base64 or hex."""
    return raw.hex() if as_hex else base64.b64encode(raw).decode()


@st.composite
def credentials_json(draw: st.DrawFn) -> tuple[str, list[str], int]:
    """A valid credentials document, its distinct keys and threshold."""
    # Distinct shares (by their bytes: one share in base64 and in hex is one key), each written either way.
    raws = draw(st.lists(st.binary(min_size=16, max_size=33), min_size=1, max_size=5, unique=True))
    keys = [_share(raw, draw(st.booleans())) for raw in raws]
    threshold = draw(st.integers(1, len(keys)))
    extra = draw(st.dictionaries(st.sampled_from(["RootToken", "Other"]), st.text(max_size=10), max_size=2))
    return json.dumps({"UnsealKeys": keys, "KeyThreshold": threshold, **extra}), keys, threshold


# Values a person might type into a label, for the label parsers' edges: case and whitespace around the
# words, signs, separators and non-ASCII digits in integers, control characters that str.strip() removes
# and int() does not, and things that look typed but are not.
odd_label_values = st.sampled_from(
    [
        *(" TRUE ", "Yes", "oN", "OFF\n", "\u00a0true", "yes please"),
        *("0", " 08 ", "+5", "-0", "1_000", "\u0663", "\x1c7\x1c", "\t42\n", "1.5"),
        *("ARM64 ", " X32", "x86", "Unknown", "None", "null"),
    ]
)
neon_labels = st.dictionaries(
    st.one_of(mapped_label_keys, label_keys), st.one_of(label_values, odd_label_values), max_size=20
)
"""A node's labels with many of the io.neon.* ones (both spellings of ephemeral often together) and odd values."""


@st.composite
def crowded_swarms(draw: st.DrawFn) -> list[SwarmNode]:
    """A node list where hostnames may repeat, in any case, and labels carry odd values (neon_labels)."""
    pool = draw(st.lists(hostnames, min_size=1, max_size=3, unique=True))
    nodes = []
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(pool))
        node = draw(swarm_nodes(hostname=name.upper() if draw(st.booleans()) else name))
        nodes.append(SwarmNode(node.id, node.hostname, node.role, node.addr, node.manager_addr, draw(neon_labels)))
    return nodes


json_values_with_hash_keys = json_values | st.dictionaries(st.just("Hash") | text, json_values, max_size=4)
"""JSON values, often an object with a `Hash` member of its own (which is not the definition's)."""


@st.composite
def definitions_with_hash_anywhere(draw: st.DrawFn) -> dict[str, Any]:
    """A definition as any writer may have left it: `Hash` first, last, in between or missing, holding
    anything, and `Hash` members nested in other properties."""
    known = ["Name", "Schema", "Docker", "Vault", "Nodes"]
    members = draw(st.dictionaries(st.one_of(st.sampled_from(known), text), json_values_with_hash_keys, max_size=6))
    members.pop("Hash", None)
    items = list(members.items())
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), ("Hash", draw(json_values_with_hash_keys)))
    return dict(items)


@st.composite
def swarm_changes(draw: st.DrawFn) -> tuple[list[SwarmNode], list[SwarmNode]]:
    """A Swarm before and after: some nodes kept as they were, some relabelled or re-roled, some gone, some new."""
    before = draw(swarms(min_size=0, max_size=6))
    after = []
    for node in before:
        fate = draw(st.sampled_from(["kept", "relabelled", "gone"]))
        if fate == "kept":
            after.append(node)
        elif fate == "relabelled":
            after.append(draw(swarm_nodes(hostname=node.hostname)))
    taken = {node.hostname for node in before}
    new_names = draw(st.lists(hostnames.filter(lambda name: name not in taken), max_size=3, unique=True))
    after += [draw(swarm_nodes(hostname=name)) for name in new_names]
    return before, after


@st.composite
def swarm_histories(draw: st.DrawFn) -> list[list[SwarmNode]]:
    """Successive listings of one Swarm, as Docker gives them: a node keeps its ID, and its Version.Index
    (a raft index: it only grows) changes with every change to it; nodes join, leave, are relabelled,
    renamed (hostnames may clash) or re-roled, and the listing order varies. A few nodes carry no index (0)."""
    index = 0

    def versioned(node: SwarmNode) -> SwarmNode:
        nonlocal index
        index += 1
        return attrs.evolve(node, version=0 if draw(st.integers(0, 9)) == 0 else index)

    current = [versioned(node) for node in draw(crowded_swarms())]
    history = [current]
    for _ in range(draw(st.integers(1, 6))):
        after = []
        for node in current:
            fate = draw(st.sampled_from(["kept", "kept", "kept", "relabelled", "renamed", "re-roled", "gone"]))
            if fate == "kept":
                after.append(attrs.evolve(node))  # equal, not the same object: Docker's answer is parsed anew
            elif fate == "relabelled":
                after.append(versioned(attrs.evolve(node, labels=draw(neon_labels))))
            elif fate == "renamed":
                after.append(versioned(attrs.evolve(node, hostname=draw(hostnames))))
            elif fate == "re-roled":
                after.append(versioned(attrs.evolve(node, role="worker" if node.role == "manager" else "manager")))
        after += [versioned(node) for node in draw(st.lists(swarm_nodes(), max_size=2))]
        current = draw(st.permutations(after))
        history.append(current)
    return history
