"""Reading the cluster definition from Consul as neon-tool does: the hash first, the definition only when it changed."""

from __future__ import annotations

import json
from typing import Any

import attrs
import consul

from neon_cm.encoding import DefinitionFormatError, decode_definition, definition_hash, inflate, verify_definition
from neon_cm.jsonwords import json_type
from neon_cm.keys import DEFINITION_KEY, HASH_KEY


class DefinitionUnavailable(LookupError):
    """No definition (or no hash) is published in Consul."""


class DefinitionMismatch(ValueError):
    """A definition that does not match its hash: tampered with, or damaged."""


@attrs.frozen
class StoredDefinition:
    """A verified cluster definition: its JSON exactly as stored (inflated), and its hash."""

    json_bytes: bytes
    """The UTF-8 compact JSON as stored, after inflating (`definition get --raw` prints these bytes)."""
    definition: dict[str, Any] = attrs.field(eq=False, repr=False)
    """The parsed JSON object."""
    hash: str
    """Its hash (the embedded `Hash`, equal to what `neon/cluster/definition.hash` held when it was read)."""

    @classmethod
    def from_json(cls, json_bytes: bytes, expected_hash: str | None = None) -> StoredDefinition:
        """Parse and verify the definition's JSON (a cached copy).

        Raises ValueError when it is not JSON (DefinitionFormatError when not an object), and
        DefinitionMismatch when its content does not match its embedded `Hash` or `expected_hash`.
        """
        return cls.verified(json_bytes, json.loads(json_bytes), expected_hash)

    @classmethod
    def verified(cls, json_bytes: bytes, definition: Any, expected_hash: str | None = None) -> StoredDefinition:
        """The definition, once its content is checked against its embedded `Hash` (and `expected_hash`)."""
        if not isinstance(definition, dict):
            raise DefinitionFormatError(f"JSON is {json_type(definition)}, not an object")
        if not verify_definition(definition, expected_hash):
            embedded, computed = definition.get("Hash"), definition_hash(definition)
            against = (
                "it has no embedded Hash"
                if "Hash" not in definition
                else f"its embedded Hash is {json.dumps(embedded, ensure_ascii=False)[:60]}"
            )
            if expected_hash is not None:
                against += f" and {HASH_KEY} holds {json.dumps(expected_hash)[:60]}"
            raise DefinitionMismatch(
                f"the definition does not match its hash: its content hashes to {computed}, {against}"
            )
        return cls(json_bytes, definition, definition["Hash"])


@attrs.frozen
class Fetched:
    """What `fetch_if_changed` found."""

    stored: StoredDefinition
    """The current definition, verified."""
    downloaded: bool
    """False when the hash key matched the cached copy and nothing else was read."""


def read_hash(client: consul.Consul) -> str | None:
    """GET /v1/kv/neon/cluster/definition.hash: the published hash, None when missing."""
    _, item = client.kv.get(HASH_KEY)
    if item is None or item.get("Value") is None:
        return None
    return bytes(item["Value"]).decode("ascii", errors="replace").strip()


def download(client: consul.Consul, expected_hash: str | None) -> StoredDefinition:
    """GET /v1/kv/neon/cluster/definition.deflate, inflate, parse and verify against `expected_hash`."""
    _, item = client.kv.get(DEFINITION_KEY)
    if item is None or item.get("Value") is None:
        raise DefinitionUnavailable(f"no cluster definition at {DEFINITION_KEY}")
    value = bytes(item["Value"])
    return StoredDefinition.verified(inflate(value), decode_definition(value), expected_hash)


def fetch_if_changed(client: consul.Consul, cached: StoredDefinition | None = None) -> Fetched:
    """The current definition: `cached` when the hash key still equals its hash, else downloaded and verified.

    GET /v1/kv/neon/cluster/definition.hash, then, only when it differs from the cached
    hash, GET /v1/kv/neon/cluster/definition.deflate. Raises DefinitionUnavailable when
    nothing is published, DefinitionFormatError when the stored value is not a deflated
    JSON object, DefinitionMismatch when it does not match its hash; Consul's own errors
    (consul.ConsulException, requests.RequestException) pass through.
    """
    published = read_hash(client)
    if published is None:
        raise DefinitionUnavailable(
            f"no cluster definition published ({HASH_KEY} is missing; the service writes it with the definition)"
        )
    if cached is not None and cached.hash == published:
        return Fetched(cached, downloaded=False)
    try:
        return Fetched(download(client, published), downloaded=True)
    except DefinitionMismatch:
        # The service may have published a new pair between our two reads: one more try on fresh data.
        again = read_hash(client)
        if again is None or again == published:
            raise
        return Fetched(download(client, again), downloaded=True)
