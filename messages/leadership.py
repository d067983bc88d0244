"""Which instance is active: only the holder of the Consul lock runs the service's actors."""

from __future__ import annotations

import attrs


@attrs.frozen
class BecameLeader:
    """This instance holds the lock: start working."""

    instance: str
    """This instance's name (host and pid)."""


@attrs.frozen
class LostLeadership:
    """This instance no longer holds the lock (released, taken, or Consul unreachable too long): stop working."""

    reason: str
    """Why, as logged."""
