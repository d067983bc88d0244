"""The service's start-up configuration, parsed once from the environment: what every client is built from.

Files (the token and credentials files) are read through the `read_text` given (gateways/files.py's)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from messages.log import Level
from neon_cm import docker_api
from neon_cm.credentials import CredentialsError, UnsealCredentials, credentials_from_env
from neon_cm.environment import (
    ConsulAccess,
    PathKind,
    TlsSettings,
    consul_access,
    docker_host,
    parse_log_format,
    parse_log_level,
    parse_swarm_events,
    parse_tls,
    switch_notes,
    tls_file_warnings,
)
from neon_cm.health import DEFAULT_HEALTH_FILE
from neon_cm.urls import masked


@attrs.frozen
class Config:
    """Everything the environment says, already validated."""

    level: Level
    log_format: str
    consul: ConsulAccess | None
    """Consul's address, TLS and token, for every Consul client; None when CONSUL_HTTP_ADDR is malformed or the
    token file cannot be used (a fatal start-up error, in `fatal`)."""
    docker_host: str
    """DOCKER_HOST, for every Docker gateway."""
    docker_api_pin: docker_api.Chosen | None
    """DOCKER_API_VERSION, when it pins a version the service speaks; None: negotiated with the daemon."""
    vault_tls: TlsSettings
    events: bool
    credentials: UnsealCredentials | None
    metrics_port: int | None
    health_file: str
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
        token = self.consul.token if self.consul else None
        return keys | {token} if token else keys

    def describe(self) -> str:
        """The effective start-up configuration on one line (never a secret).

        TLS is only for https:// Vault URLs; the template (a setting in Consul) is not known yet, so the line
        says so rather than claim verification for a Vault reached over http://.
        """
        consul = self.consul
        consul_tls = f" (TLS {consul.tls.describe()})" if consul and consul.address.scheme == "https" else ""
        return (
            f"Consul {consul.address if consul else None}{consul_tls}, Docker {masked(self.docker_host)} (API "
            f"{docker_api.text(self.docker_api_pin.version) + ' pinned' if self.docker_api_pin else 'negotiated'}), "
            f"log level {self.level.name}, "
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


def load_config(env: Mapping[str, str], read_text: Callable[[str], str], path_kind: PathKind) -> Config:
    """Parse the whole environment; problems become warnings, a credentials error, or a fatal error. The token and
    credentials files are read with `read_text`, the certificate files looked at with `path_kind`."""
    level, level_warning = parse_log_level(env.get("LOG_LEVEL"))
    log_format, format_warning = parse_log_format(env.get("LOG_FORMAT"))
    vault_tls, vault_warnings = parse_tls(env, "VAULT")
    vault_warnings += tuple(tls_file_warnings(env, "VAULT", path_kind))
    _, consul_warnings = parse_tls(env, "CONSUL")
    consul_warnings += tuple(tls_file_warnings(env, "CONSUL", path_kind))
    events, events_warning = parse_swarm_events(env)
    metrics_port, port_warning = parse_port(env.get("METRICS_PORT"))
    docker_api_pin, docker_api_warning = docker_api.pinned(env.get("DOCKER_API_VERSION"))
    try:
        consul: ConsulAccess | None = consul_access(env, read_text)
        fatal = None
    except ValueError as error:
        consul, fatal = None, str(error)
    try:
        credentials, credentials_error = credentials_from_env(env, read_text), None
    except CredentialsError as error:
        credentials, credentials_error = None, str(error)
    if consul is None or consul.address.scheme != "https":
        consul_warnings = ()  # TLS settings for Consul mean nothing over plain HTTP
    warnings = (
        level_warning,
        format_warning,
        *switch_notes(env),
        *vault_warnings,
        *consul_warnings,
        events_warning,
        port_warning,
        docker_api_warning,
    )
    return Config(
        level=level,
        log_format=log_format,
        consul=consul,
        docker_host=docker_host(env),
        docker_api_pin=docker_api_pin,
        vault_tls=vault_tls,
        events=events,
        credentials=credentials,
        metrics_port=metrics_port,
        health_file=env.get("NEON_CM_HEALTH_FILE") or DEFAULT_HEALTH_FILE,
        warnings=tuple(warning for warning in warnings if warning),
        credentials_error=credentials_error,
        fatal=fatal,
    )
