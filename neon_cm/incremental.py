"""The definition encoded incrementally: each node's JSON kept by its Docker ID and Version.Index, so a
listing where nothing changed costs one comparison, and a change re-serializes only the nodes it touched.

The bytes and the hash are exactly those of `encoding.encode_definition(with_nodes(base, build_nodes(...)))`
(the spec's "The hash"); tests/test_incremental.py holds the two paths to that for any sequence of listings.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import attrs

from messages.swarm import SwarmNode
from neon_cm.definition import DuplicateHostname, LabelProblem, described, node_object
from neon_cm.encoding import canonical_json, deflate


def _node_key(node: SwarmNode) -> Hashable:
    # Docker changes Version.Index with every update to a node (spec, status, description), so ID and
    # index stand for its content; a node without an index (0) stands for itself.
    return (node.id, node.version) if node.version else node


@attrs.frozen
class _NodeEntry:
    """What one node contributes to the definition, worked out once per version of it."""

    node: SwarmNode
    name: str
    obj: dict[str, Any]
    member: bytes
    """`"<name>":{...}`: the node's member of `Nodes`, as canonical JSON."""
    problems: tuple[LabelProblem, ...]

    @classmethod
    def of(cls, node: SwarmNode) -> _NodeEntry:
        obj, problems = node_object(node)
        member = canonical_json(obj["Name"]) + b":" + canonical_json(obj)
        return cls(node, obj["Name"], obj, member, tuple(problems))


@attrs.frozen(eq=False)
class NodesListing:
    """One Swarm listing as the definition's `Nodes`: what build_nodes tells, plus the serialized members."""

    entries: tuple[_NodeEntry, ...]
    """One per node name, sorted by name (the first node listed keeps a shared name)."""
    label_problems: tuple[LabelProblem, ...]
    """Labels that kept their default because their value did not parse, sorted as build_nodes sorts them."""
    duplicates: tuple[DuplicateHostname, ...]
    """Hostnames shared by several nodes; when any, the definition must not be published."""

    @property
    def nodes(self) -> dict[str, Any]:
        """Node name to node object, sorted by name: build_nodes(...).nodes."""
        return {entry.name: entry.obj for entry in self.entries}

    def members(self) -> bytes:
        """The inside of the `Nodes` object: every node's member, comma-separated."""
        return b",".join([entry.member for entry in self.entries])


_NODES, _HASH = object(), object()
"""Holes in a definition's frame: where `Nodes`' members and the hash value go."""


def _frame(base: Mapping[str, Any]) -> tuple[bytes | object, ...]:
    """The canonical JSON of `with_nodes(base, ...)` with its hash, as bytes around the two holes.

    Members keep their order; `Nodes` is appended when the base has none, then `Hash` when it has none,
    as with_nodes and hashed_json place them.
    """
    keys = list(base)
    keys += [hole for hole in ("Nodes", "Hash") if hole not in base]
    parts: list[bytes | object] = []
    text = b"{"
    for i, key in enumerate(keys):
        if i:
            text += b","
        if key == "Nodes":
            parts += [text + b'"Nodes":{', _NODES]
            text = b"}"
        elif key == "Hash":
            parts += [text + b'"Hash":', _HASH]
            text = b""
        else:
            text += canonical_json({key: base[key]})[1:-1]
    parts.append(text + b"}")
    return tuple(part for part in parts if part != b"")


@attrs.frozen(eq=False)
class EncodedDefinition:
    """A definition's hash, and its stored JSON and raw DEFLATE worked out only when asked for."""

    hash: str
    """Base64 MD5 of the canonical JSON with `"Hash":null` (spec: "The hash")."""
    pieces: tuple[bytes, ...]
    """The stored JSON (hash embedded), in pieces: b"".join(pieces)."""

    def json(self) -> bytes:
        """The canonical JSON as stored, the hash embedded."""
        return b"".join(self.pieces)

    def deflated(self) -> bytes:
        """The value of neon/cluster/definition.deflate: raw DEFLATE of json()."""
        return deflate(self.json())


class DefinitionEncoder:
    """Turns listings into NodesListing and (base, listing) into EncodedDefinition, remembering each node's
    contribution by ID and Version.Index and the last result, so that only what changed is worked again.
    No clock, no I/O: the caller keeps one per definition it maintains."""

    def __init__(self) -> None:
        self._entries: dict[Hashable, _NodeEntry] = {}
        self._keys: list[Hashable] | None = None
        self._listing: NodesListing | None = None
        self._encoded: tuple[tuple[bytes | object, ...], NodesListing, EncodedDefinition] | None = None

    def listing(self, nodes: Sequence[SwarmNode]) -> NodesListing:
        """What build_nodes(nodes) tells; the same NodesListing object when no node changed since the last call."""
        nodes = described(nodes)
        keys = [_node_key(node) for node in nodes]
        if keys == self._keys and self._listing is not None:
            return self._listing
        cached, entries = self._entries, dict[Hashable, _NodeEntry]()
        by_name: dict[str, _NodeEntry] = {}
        shared: set[str] = set()
        problems: list[LabelProblem] = []
        for node, key in zip(nodes, keys, strict=True):
            entry = cached.get(key) or entries.get(key) or _NodeEntry.of(node)
            entries[key] = entry
            problems += entry.problems
            if entry.name in by_name:
                shared.add(entry.name)
            else:
                by_name[entry.name] = entry
        duplicates = tuple(
            DuplicateHostname(name, tuple(sorted(node.id for node in nodes if node.hostname.lower() == name)))
            for name in sorted(shared)
        )
        listing = NodesListing(
            tuple(by_name[name] for name in sorted(by_name)),
            tuple(sorted(problems, key=attrs.astuple)),
            duplicates,
        )
        self._entries, self._keys, self._listing = entries, keys, listing
        return listing

    def encode(self, base: Mapping[str, Any], listing: NodesListing) -> EncodedDefinition:
        """encode_definition(with_nodes(base, listing.nodes)), as a hash and pieces; the last result again
        when neither the base's other members nor the listing changed."""
        frame = _frame(base)
        if self._encoded is not None and self._encoded[1] is listing and self._encoded[0] == frame:
            return self._encoded[2]
        members = listing.members()
        digest = hashlib.md5()
        for part in frame:
            digest.update(members if part is _NODES else b"null" if part is _HASH else part)  # type: ignore[arg-type]
        hash_ = base64.b64encode(digest.digest()).decode("ascii")
        quoted = b'"' + hash_.encode("ascii") + b'"'
        pieces = tuple(members if part is _NODES else quoted if part is _HASH else part for part in frame)
        encoded = EncodedDefinition(hash_, pieces)  # type: ignore[arg-type]
        self._encoded = (frame, listing, encoded)
        return encoded
