"""The service's run-time settings, kept in Consul under neon/services/neon-cluster-manager/."""

from __future__ import annotations

import attrs

DEFAULT_VAULT_URL_TEMPLATE = "https://{hostname}.neon-vault.cluster:8200"


@attrs.frozen
class Settings:
    """Effective settings: every value valid (bad or missing ones replaced by the default)."""

    node_poll_seconds: float = 30.0
    """Seconds between Swarm node polls."""
    vault_poll_seconds: float = 30.0
    """Seconds between Vault seal-status checks, per manager."""
    vault_url_template: str = DEFAULT_VAULT_URL_TEMPLATE
    """A manager's Vault URL; `{hostname}` and `{addr}` are filled in per manager."""


@attrs.frozen
class SettingsChanged:
    """The effective settings, told once on subscription and again whenever they change."""

    settings: Settings
    """The new effective settings."""
    rejected: tuple[str, ...] = ()
    """The settings whose stored value was rejected (each said in one WARN), sorted: their default applies, so the
    service is degraded until the value is mended. Told again when this alone changes."""
