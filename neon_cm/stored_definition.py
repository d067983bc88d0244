"""A cluster definition as read from Consul, checked against its hash (gateways/definition_reader.py reads it)."""

from __future__ import annotations

import json
from typing import Any

import attrs

from neon_cm.encoding import DefinitionFormatError, definition_hash, verify_definition
from neon_cm.jsonwords import json_type
from neon_cm.keys import HASH_KEY


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
