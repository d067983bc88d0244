"""What the DefinitionPublisher did with a Swarm observation."""

from __future__ import annotations

import attrs


@attrs.frozen
class DefinitionPublished:
    """A new definition and its hash were written to Consul in one transaction."""

    hash: str
    """Base64 MD5 of the new definition."""
    previous_hash: str | None
    """What the hash key held before (None when missing)."""
    node_count: int
    """Number of nodes in the definition."""
    compressed_bytes: int
    """Size of the raw-deflated value written."""


@attrs.frozen
class DefinitionUnchanged:
    """The Swarm matches the definition already in Consul: nothing was written."""

    hash: str
    """The current hash."""
    compressed_bytes: int
    """Size of the raw-deflated definition."""


@attrs.frozen
class DefinitionNotPublished:
    """The definition could not or must not be written this time; the one in Consul stays."""

    reason: str
    """Why, as logged."""
    missing_base: str | None = None
    """The key where the base definition is missing, when that is why (cluster setup's definition was never put)."""
