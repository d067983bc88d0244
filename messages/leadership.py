"""Which instance is active: only the holder of the Consul lock writes the definition and unseals."""

from __future__ import annotations

import attrs


@attrs.frozen
class BecameLeader:
    """This instance holds the lock: write the definition, unseal, report as the active instance."""

    instance: str
    """This instance's name (host and pid)."""
    session: str = ""
    """The Consul session holding the lock: a definition write checks it holds it still (check-session)."""
    valid_until: float = 0.0
    """The lease's deadline (monotonic seconds): no write or share may go out at or after it."""


@attrs.frozen
class LeaseExtended:
    """The active instance passed its check again: its lease on the lock now runs until `valid_until`."""

    session: str
    """The Consul session holding the lock."""
    valid_until: float
    """Monotonic seconds: the start of the last successful check pass + the check's TTL - a safety margin.
    Every definition write and every unseal share is checked against it at the moment it goes out."""


@attrs.frozen
class LostLeadership:
    """This instance no longer holds the lock (released, taken, or Consul unreachable too long):
    stop writing and unsealing. Until another holder is seen, it still reports Vault problems at ERROR."""

    reason: str
    """Why, as logged."""


@attrs.frozen
class StandingBy:
    """Consul says another instance holds the lock: this one stands by (it reports at INFO, not ERROR)."""

    holder: str
    """The active instance's name, as the lock's value says."""
