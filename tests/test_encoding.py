"""Properties of the definition's wire format: canonical JSON, raw DEFLATE, and the hash."""

from __future__ import annotations

import json
import random
import tracemalloc
import zlib

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from neon_cm.definition import build_nodes, with_nodes
from neon_cm.encoding import (
    DefinitionFormatError,
    canonical_json,
    decode_definition,
    definition_hash,
    deflate,
    encode_definition,
    hashed_json,
    inflate,
    md5_base64,
    verify_definition,
)
from tests import strategies


@given(st.binary(max_size=4096))
def test_inflate_undoes_deflate(data: bytes) -> None:
    """inflate(deflate(x)) == x for any bytes."""

    assert data == inflate(deflate(data))


@given(st.binary(min_size=1, max_size=4096))
def test_deflate_is_raw_without_zlib_or_gzip_header(data: bytes) -> None:
    """The stream has no zlib/gzip header: a zlib-header reader rejects it, a raw reader accepts it."""
    compressed = deflate(data)

    assert compressed[:2] != b"\x1f\x8b"
    with pytest.raises(zlib.error):
        zlib.decompress(compressed)
    assert data == zlib.decompress(compressed, wbits=-15)


@given(strategies.base_definitions(), strategies.swarms())
def test_decode_undoes_encode(base: dict, swarm: list) -> None:
    """decode(encode(d)) is d with its hash embedded, for arbitrary definitions, labels and Unicode."""
    definition = with_nodes(base, build_nodes(swarm).nodes)

    value, digest = encode_definition(definition)

    assert {**definition, "Hash": digest} == decode_definition(value)


@given(strategies.base_definitions(), strategies.swarms(), st.randoms())
def test_hash_ignores_docker_node_order_and_label_order(base: dict, swarm: list, rnd: random.Random) -> None:
    """Docker may list nodes, and labels, in any order: the bytes and the hash stay the same."""
    shuffled = [
        type(node)(
            node.id, node.hostname, node.role, node.addr, node.manager_addr, rnd.sample(node.labels, k=len(node.labels))
        )
        for node in rnd.sample(swarm, k=len(swarm))
    ]

    assert encode_definition(with_nodes(base, build_nodes(swarm).nodes)) == encode_definition(
        with_nodes(base, build_nodes(shuffled).nodes)
    )


@given(strategies.base_definitions(), strategies.swarms(), st.data())
def test_any_node_change_changes_the_hash(base: dict, swarm: list, data: st.DataObject) -> None:
    """Changing one node's name, role, address, or adding/changing a label changes the hash."""
    index = data.draw(st.integers(0, len(swarm) - 1))
    node = swarm[index]
    field = data.draw(st.sampled_from(["hostname", "role", "addr", "label"]))
    if field == "hostname":
        new_name = node.hostname + "-renamed"
        assume(new_name not in {other.hostname for other in swarm})
        changed = attrs.evolve(node, hostname=new_name)
    elif field == "role":
        changed = attrs.evolve(node, role="worker" if node.role == "manager" else "manager")
    elif field == "addr":
        # Without the private_address label, Status.Addr is the node's address.
        node = attrs.evolve(node, labels=[pair for pair in node.labels if pair[0] != "io.neon.node.private_address"])
        changed = attrs.evolve(node, addr="10.255.255.254" if node.addr != "10.255.255.254" else "10.255.255.253")
    else:
        labels = dict(node.labels)
        key = "custom." + data.draw(strategies.text)
        labels[key] = labels.get(key, "") + data.draw(strategies.text.filter(bool))
        changed = attrs.evolve(node, labels=labels)
    before = [*swarm[:index], node, *swarm[index + 1 :]]
    after = [*swarm[:index], changed, *swarm[index + 1 :]]

    assert (
        encode_definition(with_nodes(base, build_nodes(before).nodes))[1]
        != encode_definition(with_nodes(base, build_nodes(after).nodes))[1]
    )


@given(strategies.base_definitions(), strategies.swarms())
def test_hash_recomputed_from_stored_json_matches_hash_key(base: dict, swarm: list) -> None:
    """A reader following the spec (MD5 of the stored compact JSON with "Hash":null) gets the hash key."""
    value, digest = encode_definition(with_nodes(base, build_nodes(swarm).nodes))
    stored_json = inflate(value).decode("utf-8")
    stored = json.loads(stored_json)
    recomputed = md5_base64(json.dumps({**stored, "Hash": None}, separators=(",", ":"), ensure_ascii=False).encode())

    assert digest == recomputed
    assert len(digest) == 24
    assert stored["Hash"] == digest
    assert stored_json.encode("utf-8") == canonical_json(stored)
    assert verify_definition(stored, digest)


@given(
    st.one_of(
        strategies.definitions_with_hash_anywhere(),
        st.builds(
            lambda base, swarm: with_nodes(base, build_nodes(swarm).nodes),
            strategies.base_definitions(),
            strategies.swarms(),
        ),
    )
)
def test_hash_spliced_into_one_serialization_gives_the_spec_bytes(definition: dict) -> None:
    """Serializing once and splicing the hash in is byte for byte the spec's way: canonical JSON with
    "Hash":null hashed, then canonical JSON with the hash in Hash's place (Hash anywhere or missing)."""
    expected_hash = md5_base64(canonical_json({**definition, "Hash": None}))
    expected_json = canonical_json({**definition, "Hash": expected_hash})

    assert (expected_json, expected_hash) == hashed_json(definition)
    assert expected_hash == definition_hash(definition)


def test_canonical_json_is_compact_utf8_not_escaped() -> None:
    """Non-ASCII is written as UTF-8, separators carry no spaces."""

    assert '{"Name":"zürich","N":[1,2]}'.encode() == canonical_json({"Name": "zürich", "N": [1, 2]})


def test_hash_is_md5_base64_of_json_with_null_hash() -> None:
    """A worked example: the hash covers the JSON with "Hash":null in its place."""
    definition = {"Name": "c", "Nodes": {}, "Hash": "whatever"}

    assert md5_base64(b'{"Name":"c","Nodes":{},"Hash":null}') == definition_hash(definition)


def test_verify_rejects_a_tampered_definition() -> None:
    """Changing any property after hashing makes verification fail."""
    _, digest = encode_definition({"Name": "c", "Nodes": {}})

    assert verify_definition({"Name": "c", "Nodes": {}, "Hash": digest}, digest)
    assert not verify_definition({"Name": "d", "Nodes": {}, "Hash": digest}, digest)
    assert not verify_definition({"Name": "c", "Nodes": {}, "Hash": digest}, "AAAAAAAAAAAAAAAAAAAAAA==")


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (b"plain text, not deflate", "not raw DEFLATE"),
        (zlib.compress(b'{"a":1}'), "not raw DEFLATE"),
        (deflate(b"\xff\xfe not utf-8"), "not JSON"),
        (deflate(b"{not json"), "not JSON"),
        (deflate(b"[1,2,3]"), "JSON is an array, not an object"),
        (deflate(b'{"a":1}')[:-2], "not raw DEFLATE"),
    ],
)
def test_decode_names_what_is_wrong(stored: bytes, expected: str) -> None:
    """A stored value that is not a raw-deflated JSON object gets an error saying which part is wrong."""
    with pytest.raises(DefinitionFormatError) as caught:
        decode_definition(stored)

    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (deflate(b'{"Weight":NaN}'), "NaN is not JSON"),
        (deflate(b'{"Weight":-Infinity}'), "-Infinity is not JSON"),
        (deflate(b'{"a":' * 100_000 + b"1" + b"}" * 100_000), "nested too deep"),
        (deflate(b'{"Weight":1e400}'), "the number 1e400 is out of range"),
    ],
)
def test_decode_refuses_what_is_not_strict_json(stored: bytes, expected: str) -> None:
    """NaN/Infinity are not JSON (.NET refuses them); absurd nesting is refused rather than crashing."""
    with pytest.raises(DefinitionFormatError, match=expected):
        decode_definition(stored)


def test_a_deflate_bomb_is_refused_for_the_cost_of_one_chunk() -> None:
    """A value that inflates past 64 MiB (here 1 GiB of zeros in 1 MB) is refused without being inflated
    whole: the peak memory of refusing it stays within a few MB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(1024)) + compressor.flush()
    tracemalloc.start()
    try:
        with pytest.raises(DefinitionFormatError, match="inflates to more than 64 MiB"):
            decode_definition(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * 1024 * 1024, f"refusing the bomb took {peak} bytes"


def test_a_lone_surrogate_decodes_but_cannot_be_encoded_again() -> None:
    """JSON can carry a lone surrogate that UTF-8 cannot: decoding keeps it, encoding refuses it with a
    ValueError (which the publisher turns into one ERROR, never a crash)."""
    definition = decode_definition(deflate(b'{"Name":"\\ud800"}'))

    with pytest.raises(ValueError):
        encode_definition(definition)
