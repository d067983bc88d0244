"""Properties of the incremental encoder: the same bytes as the naive path, for any sequence of listings."""

from __future__ import annotations

from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from messages.swarm import SwarmNode
from neon_cm.definition import build_nodes, with_nodes
from neon_cm.encoding import encode_definition, hashed_json, inflate
from neon_cm.incremental import DefinitionEncoder
from tests import strategies


@given(strategies.swarm_histories(), st.lists(strategies.definitions_with_hash_anywhere(), min_size=1, max_size=3))
def test_cached_path_gives_the_naive_bytes_for_any_sequence_of_listings(
    history: list[list[SwarmNode]], bases: list[dict[str, Any]]
) -> None:
    """Listing after listing (nodes joining, leaving, relabelled, renamed onto each other, reordered), with
    the base changing too: nodes, label problems, duplicates, hash and stored bytes are build_nodes' and
    hashed_json's, byte for byte."""
    encoder = DefinitionEncoder()
    for step, nodes in enumerate(history):
        base = bases[step % len(bases)]
        built = build_nodes(nodes)
        listing = encoder.listing(nodes)
        expected = hashed_json(with_nodes(base, built.nodes)) if not built.duplicates else None

        assert (built.nodes, built.label_problems, built.duplicates) == (
            listing.nodes,
            listing.label_problems,
            listing.duplicates,
        )
        if expected is not None:
            encoded = encoder.encode(base, listing)
            assert expected == (encoded.json(), encoded.hash)


@given(strategies.base_definitions(), strategies.swarms())
def test_deflated_value_is_what_encode_definition_stores(base: dict[str, Any], swarm: list[SwarmNode]) -> None:
    """The deflated value inflates to encode_definition's JSON, and the hash is its hash."""
    encoder = DefinitionEncoder()
    value, hash_ = encode_definition(with_nodes(base, build_nodes(swarm).nodes))

    encoded = encoder.encode(base, encoder.listing(swarm))

    assert (inflate(value), hash_) == (inflate(encoded.deflated()), encoded.hash)


@given(strategies.base_definitions(), strategies.swarms())
def test_a_listing_where_nothing_changed_is_the_last_result(base: dict[str, Any], swarm: list[SwarmNode]) -> None:
    """The same nodes listed again (new, equal objects) give the very same listing and encoding: nothing is
    serialized or hashed again."""
    encoder = DefinitionEncoder()
    first = encoder.listing(swarm)
    encoded = encoder.encode(base, first)

    again = encoder.listing([attrs.evolve(node) for node in swarm])

    assert (first, encoded) == (again, encoder.encode(dict(base), again))


def test_a_changed_version_is_serialized_again() -> None:
    """A node whose Version.Index changed is worked out anew; the other node's entry is reused."""
    encoder = DefinitionEncoder()
    a = SwarmNode("a", "a", "worker", "10.0.0.1", labels={"x": "1"}, version=5)
    b = SwarmNode("b", "b", "worker", "10.0.0.2", version=6)
    first = encoder.listing([a, b])

    second = encoder.listing([SwarmNode("a", "a", "worker", "10.0.0.1", labels={"x": "2"}, version=9), b])

    assert ({"x": "1"}, {"x": "2"}) == (first.nodes["a"]["Labels"]["Custom"], second.nodes["a"]["Labels"]["Custom"])
    assert first.entries[1] is second.entries[1]
