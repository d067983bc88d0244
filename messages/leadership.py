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
