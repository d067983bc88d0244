"""Canonical JSON, raw DEFLATE and the MD5/base64 hash of a cluster definition (spec: "The hash")."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from typing import Any

from neon_cm.jsonwords import json_problem, json_type

#: Negative window bits select raw DEFLATE (RFC 1951): no zlib or gzip header,
#: which is what .NET's DeflateStream in neon-tool reads.
RAW_DEFLATE_WBITS = -15
#: A stored definition that inflates past this is refused (a real one is a few MB at 10,000 nodes).
MAX_INFLATED_BYTES = 64 * 1024 * 1024
#: Inflating is done this much at a time, so refusing a deflate bomb costs one chunk of memory.
INFLATE_CHUNK_BYTES = 1024 * 1024


class DefinitionFormatError(ValueError):
    """A stored definition that is not raw DEFLATE, not JSON, or not a JSON object."""


# No check for cycles (it took 6 % of the serializing at 10,000 nodes): a definition comes from JSON and
# build_nodes, so it has none, and one would still fail, as a RecursionError. One encoder for every call:
# json.dumps with options builds a new one each time, which costs more than a node's JSON.
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False)


def canonical_json(value: Any) -> bytes:
    """UTF-8 compact JSON: `,`/`:` separators, non-ASCII written as UTF-8, property order kept."""
    return _CANONICAL.encode(value).encode("utf-8")


def deflate(data: bytes) -> bytes:
    """Compress `data` as raw DEFLATE, at zlib's default level (level 9 took 4x the time for 9 % less)."""
    compressor = zlib.compressobj(wbits=RAW_DEFLATE_WBITS)
    return compressor.compress(data) + compressor.flush()


def inflated_size(data: bytes, limit: int = MAX_INFLATED_BYTES) -> int:
    """How many bytes raw DEFLATE `data` inflates to, counted a chunk at a time and given up past `limit`
    (then `limit + 1`): nothing but one chunk is ever held. DefinitionFormatError when it is not raw DEFLATE."""
    decompressor = zlib.decompressobj(wbits=RAW_DEFLATE_WBITS)
    size, pending = 0, data
    try:
        while size <= limit:
            chunk = decompressor.decompress(pending, INFLATE_CHUNK_BYTES)
            size += len(chunk)
            pending = decompressor.unconsumed_tail
            if not chunk and not pending:
                break
    except zlib.error as error:
        raise DefinitionFormatError(f"not raw DEFLATE ({error})") from None
    if size <= limit and not decompressor.eof:
        raise DefinitionFormatError("not raw DEFLATE (truncated stream)")
    return min(size, limit + 1)


def inflate(data: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Decompress raw DEFLATE; DefinitionFormatError when `data` is not a complete raw stream or inflates
    past `limit` bytes (found out before anything is kept: a deflate bomb costs one chunk of memory)."""
    if inflated_size(data, limit) > limit:
        raise DefinitionFormatError(f"inflates to more than {limit // (1024 * 1024)} MiB; refused")
    return zlib.decompressobj(wbits=RAW_DEFLATE_WBITS).decompress(data)


def md5_base64(data: bytes) -> str:
    """Standard padded base64 of the 16-byte MD5 digest of `data` (24 characters)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def definition_hash(definition: dict[str, Any]) -> str:
    """The definition's hash: MD5 of its canonical JSON with `"Hash":null` (in the same position)."""
    return hashed_json(definition)[1]


def with_hash(definition: dict[str, Any]) -> dict[str, Any]:
    """A copy of `definition` whose `Hash` property holds its hash."""
    return {**definition, "Hash": definition_hash(definition)}


def hashed_json(definition: dict[str, Any]) -> tuple[bytes, str]:
    """`canonical_json(with_hash(definition))` and the hash, serializing the definition once, not twice.

    The members before `Hash` and those after it are serialized apart; the hash is taken over them
    with `"Hash":null` between, and the same pieces with the hash between are the stored JSON.
    `Hash` goes last when the definition has none, as `{**definition, "Hash": ...}` puts it.
    """
    keys = list(definition)
    at = keys.index("Hash") if "Hash" in definition else len(keys)
    before = canonical_json({key: definition[key] for key in keys[:at]})
    after = canonical_json({key: definition[key] for key in keys[at + 1 :]})
    opening = memoryview(before)[:-1]  # `{` and the members before Hash: the definition's bulk, not copied
    name = b',"Hash":' if at else b'"Hash":'
    closing = b"," + after[1:] if len(after) > 2 else b"}"  # the members after Hash (usually none), `}`
    digest = hashlib.md5(opening)
    for piece in (name, b"null", closing):
        digest.update(piece)
    hash_ = base64.b64encode(digest.digest()).decode("ascii")
    return b"".join((opening, name, b'"', hash_.encode("ascii"), b'"', closing)), hash_


def encode_definition(definition: dict[str, Any]) -> tuple[bytes, str]:
    """Hash `definition`, then return (raw-deflated canonical JSON with the hash embedded, hash)."""
    data, hash_ = hashed_json(definition)
    return deflate(data), hash_


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is out of range")
    return number


def decode_definition(stored: bytes) -> dict[str, Any]:
    """Inflate and parse a stored definition; raise DefinitionFormatError naming what is wrong."""
    text = inflate(stored)
    try:
        value = json.loads(text.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError) as error:
        raise DefinitionFormatError(f"not JSON ({json_problem(error)})") from None
    except RecursionError:
        raise DefinitionFormatError("not JSON this service can read (nested too deep)") from None
    if not isinstance(value, dict):
        raise DefinitionFormatError(f"JSON is {json_type(value)}, not an object")
    return value


def verify_definition(definition: dict[str, Any], expected_hash: str | None = None) -> bool:
    """True when the definition's embedded Hash matches its content (and `expected_hash`, if given)."""
    embedded = definition.get("Hash")
    actual = definition_hash(definition)
    return embedded == actual and (expected_hash is None or expected_hash == actual)
