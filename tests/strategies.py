"""Hypothesis strategies for the service's domain; new features extend this module."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

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
    return raw.hex() if as_hex else base64.b64encode(raw).decode()


unseal_shares = st.builds(_share, st.binary(min_size=16, max_size=33), st.booleans())
"""One unseal key share as Vault prints it: base64 or hex."""


@st.composite
def credentials_json(draw: st.DrawFn) -> tuple[str, list[str], int]:
    """A valid credentials document, its distinct keys and threshold."""
    keys = draw(st.lists(unseal_shares, min_size=1, max_size=5, unique=True))
    threshold = draw(st.integers(1, len(keys)))
    extra = draw(st.dictionaries(st.sampled_from(["RootToken", "Other"]), st.text(max_size=10), max_size=2))
    return json.dumps({"UnsealKeys": keys, "KeyThreshold": threshold, **extra}), keys, threshold
