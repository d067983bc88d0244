"""Reading the cluster definition from Consul as neon-tool does: the hash first, the definition only when it changed.

Every request goes through the Consul gateway (gateways/consul.py); a refusal or a failure to reach Consul is its
typed answer, returned as it is. What is wrong with the stored values is told by neon_cm.stored_definition's errors.
"""

from __future__ import annotations

from gateways.consul import ConsulGateway
from messages.consul_answers import ConsulRefused, ConsulUnreachable, KeyRead
from neon_cm.encoding import decode_definition, inflate
from neon_cm.keys import DEFINITION_KEY, HASH_KEY
from neon_cm.stored_definition import DefinitionMismatch, DefinitionUnavailable, Fetched, StoredDefinition

ConsulProblem = ConsulRefused | ConsulUnreachable
"""Why Consul did not answer a read (the gateway's words)."""


def read_hash(consul: ConsulGateway) -> str | ConsulProblem | None:
    """GET /v1/kv/neon/cluster/definition.hash: the published hash, None when missing."""
    answer = consul.read_key(HASH_KEY)
    if not isinstance(answer, KeyRead):
        return answer
    return None if answer.value is None else answer.value.decode("ascii", errors="replace").strip()


def download(consul: ConsulGateway, expected_hash: str | None) -> StoredDefinition | ConsulProblem:
    """GET /v1/kv/neon/cluster/definition.deflate, inflate, parse and verify against `expected_hash`."""
    answer = consul.read_key(DEFINITION_KEY)
    if not isinstance(answer, KeyRead):
        return answer
    if answer.value is None:
        raise DefinitionUnavailable(f"no cluster definition at {DEFINITION_KEY}")
    return StoredDefinition.verified(inflate(answer.value), decode_definition(answer.value), expected_hash)


def fetched(found: StoredDefinition | ConsulProblem) -> Fetched | ConsulProblem:
    """A download's result as `fetch_if_changed` answers it."""
    return Fetched(found, downloaded=True) if isinstance(found, StoredDefinition) else found


def fetch_if_changed(consul: ConsulGateway, cached: StoredDefinition | None = None) -> Fetched | ConsulProblem:
    """The current definition: `cached` when the hash key still equals its hash, else downloaded and verified.

    GET /v1/kv/neon/cluster/definition.hash, then, only when it differs from the cached
    hash, GET /v1/kv/neon/cluster/definition.deflate. Consul's refusals and failures are
    the gateway's answers, returned. Raises DefinitionUnavailable when nothing is
    published, DefinitionFormatError when the stored value is not a deflated JSON
    object, DefinitionMismatch when it does not match its hash.
    """
    published = read_hash(consul)
    if isinstance(published, (ConsulRefused, ConsulUnreachable)):
        return published
    if published is None:
        raise DefinitionUnavailable(
            f"no cluster definition published ({HASH_KEY} is missing; the service writes it with the definition)"
        )
    if cached is not None and cached.hash == published:
        return Fetched(cached, downloaded=False)
    try:
        return fetched(download(consul, published))
    except DefinitionMismatch:
        # The service may have published a new pair between our two reads: one more try on fresh data.
        again = read_hash(consul)
        if not isinstance(again, str) or again == published:
            raise
        return fetched(download(consul, again))
