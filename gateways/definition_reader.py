"""Reading the cluster definition from Consul as neon-tool does: the hash first, the definition only when it changed."""

from __future__ import annotations

import consul

from neon_cm.encoding import decode_definition, inflate
from neon_cm.keys import DEFINITION_KEY, HASH_KEY
from neon_cm.stored_definition import DefinitionMismatch, DefinitionUnavailable, Fetched, StoredDefinition


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
