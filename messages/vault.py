"""Vault vocabulary: what the monitors see and what the Unsealer is asked and answers."""

from __future__ import annotations

import enum

import attrs


class VaultState(enum.Enum):
    """What a manager's Vault is, as its monitor sees it."""

    UNSEALED = "unsealed"
    SEALED = "sealed"
    NOT_INITIALIZED = "not-initialized"
    UNREACHABLE = "unreachable"
    UNEXPECTED = "unexpected"
    REMOVED = "removed"
    """Removed from its raft cluster (Vault 1.19+: health 530, seal-status `removed_from_cluster`): never unsealed."""
    DISCONNECTED = "disconnected"
    """An unsealed standby that cannot reach the active node (Vault 1.19+: health 474)."""

    @property
    def is_problem(self) -> bool:
        """States logged at ERROR (by the reporting instance): all but unsealed. An unexpected answer (a 404 from
        a wrong `vault_url_template`, a proxy's error page) means no Vault is watched there."""
        return self is not VaultState.UNSEALED


@attrs.frozen
class VaultObserved:
    """A monitor's reading of its manager's Vault."""

    hostname: str
    """The manager's hostname."""
    url: str
    """The Vault URL polled."""
    state: VaultState
    """What it is."""
    detail: str = ""
    """Role (active/standby) when unsealed, else the reason (error text, progress)."""
    seal_type: str = ""
    """The seal's `type` (`shamir`, `static`, `transit`...); "" when the Vault did not say (no answer)."""


@attrs.frozen
class UnsealRequested:
    """A monitor found its Vault sealed; the Unsealer decides whether and how to unseal it. The answer,
    UnsealFinished, goes to the node's monitor by name (`vault-monitor:<hostname>`), so a monitor restarted
    meanwhile gets it."""

    hostname: str
    """The manager's hostname."""
    url: str
    """The Vault URL to unseal, exactly the one monitored."""


@attrs.frozen
class MonitoringStopped:
    """A manager's Vault is no longer monitored (the node was demoted or left, or its URL changed)."""

    hostname: str
    """The manager's hostname."""


@attrs.frozen
class UnsealFinished:
    """What an unseal attempt came to."""

    hostname: str
    """The manager's hostname."""
    unsealed: bool
    """Whether the Vault is unsealed now."""
    reason: str = ""
    """Why not, when it is not."""
    keys_refused: bool = False
    """The attempt ended because the credentials' keys do not unseal this Vault (every combination refused)."""


@attrs.frozen
class ReportingRole:
    """Told to VaultMonitors: whether this instance reports Vault problems at ERROR or stands by."""

    standby_of: str | None
    """The active instance while this one stands by (its monitors log at INFO); None: report at ERROR."""


@attrs.frozen
class VaultsToMonitor:
    """The VaultFleet's list of managers whose Vault must have a live monitor (health checks it)."""

    hostnames: tuple[str, ...]
    """Managers' hostnames, lower-cased."""
