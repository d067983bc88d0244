"""The service's start-up configuration, parsed once from the environment (no I/O but the credentials file)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from messages.log import Level
from neon_cm.clients import DEFAULT_DOCKER_HOST
from neon_cm.credentials import CredentialsError, UnsealCredentials, credentials_from_env
from neon_cm.environment import (
    ConsulAddress,
    TlsSettings,
    consul_address,
    consul_token,
    parse_log_format,
    parse_log_level,
    parse_swarm_events,
    parse_tls,
    switch_notes,
)

DEFAULT_HEALTH_FILE = "/tmp/neon-cluster-manager.health"


@attrs.frozen
class Config:
    """Everything the environment says, already validated."""

    level: Level
    log_format: str
    consul: ConsulAddress | None
    """None when CONSUL_HTTP_ADDR is malformed (a fatal start-up error, in `fatal`)."""
    docker_host: str
    vault_tls: TlsSettings
    consul_tls: TlsSettings
    events: bool
    credentials: UnsealCredentials | None
    metrics_port: int | None
    health_file: str
    consul_token: str | None = attrs.field(repr=False)
    """Only to keep it out of the log (`secrets`); each Consul client reads it from the environment itself."""
    warnings: tuple[str, ...]
    """One WARN line each."""
    credentials_error: str | None
    """Why the credentials cannot be used (never their value)."""
    fatal: str | None
    """A start-up error the service cannot run with."""

    @property
    def secrets(self) -> frozenset[str]:
        """What must never be written to the log."""
        keys = frozenset(self.credentials.forms()) if self.credentials else frozenset()
        return keys | {self.consul_token} if self.consul_token else keys

    def describe(self) -> str:
        """The effective start-up configuration on one line (never a secret).

        TLS is only for https:// Vault URLs; the template (a setting in Consul) is not known yet, so the line
        says so rather than claim verification for a Vault reached over http://.
        """
        consul_tls = f" (TLS {self.consul_tls.describe()})" if self.consul and self.consul.scheme == "https" else ""
        return (
            f"Consul {self.consul}{consul_tls}, Docker {self.docker_host}, log level {self.level.name}, "
            f"Vault TLS (for https:// URLs) {self.vault_tls.describe()}, "
            f"node events {'on' if self.events else 'off (polling only)'}, "
            f"metrics {'on port ' + str(self.metrics_port) if self.metrics_port else 'off'}"
        )


def parse_port(text: str | None) -> tuple[int | None, str | None]:
    """METRICS_PORT: a TCP port, or unset; and a warning when it is not a port."""
    if not (text or "").strip():
        return None, None
    try:
        port = int(str(text).strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        return None, f"METRICS_PORT={text!r} is not a port (1-65535); metrics are off"
    return port, None


def load_config(env: Mapping[str, str], read_text: Callable[[str], str]) -> Config:
    """Parse the whole environment; problems become warnings, a credentials error, or a fatal error."""
    level, level_warning = parse_log_level(env.get("LOG_LEVEL"))
    log_format, format_warning = parse_log_format(env.get("LOG_FORMAT"))
    vault_tls, vault_warnings = parse_tls(env, "VAULT")
    consul_tls, consul_warnings = parse_tls(env, "CONSUL")
    events, events_warning = parse_swarm_events(env)
    metrics_port, port_warning = parse_port(env.get("METRICS_PORT"))
    token: str | None = None
    try:
        consul: ConsulAddress | None = consul_address(env)
        token = consul_token(env, read_text)
        fatal = None
    except ValueError as error:
        consul, fatal = None, str(error)
    try:
        credentials, credentials_error = credentials_from_env(env, read_text), None
    except CredentialsError as error:
        credentials, credentials_error = None, str(error)
    if consul is None or consul.scheme != "https":
        consul_warnings = ()  # TLS settings for Consul mean nothing over plain HTTP
    warnings = (
        level_warning,
        format_warning,
        *switch_notes(env),
        *vault_warnings,
        *consul_warnings,
        events_warning,
        port_warning,
    )
    return Config(
        level=level,
        log_format=log_format,
        consul=consul,
        docker_host=env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST,
        vault_tls=vault_tls,
        consul_tls=consul_tls,
        events=events,
        credentials=credentials,
        metrics_port=metrics_port,
        health_file=env.get("NEON_CM_HEALTH_FILE") or DEFAULT_HEALTH_FILE,
        consul_token=token,
        warnings=tuple(warning for warning in warnings if warning),
        credentials_error=credentials_error,
        fatal=fatal,
    )
