"""`health`: the Docker HEALTHCHECK, the running service's verdict read from its health file."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

from cli.common import OK, CliError, command
from gateways.files import read_given
from neon_cm.config import DEFAULT_HEALTH_FILE
from neon_cm.filewords import describe_os_error
from neon_cm.health import from_document


def health(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The Docker HEALTHCHECK: the verdict of the running service, from its health file."""
    path = env.get("NEON_CM_HEALTH_FILE") or DEFAULT_HEALTH_FILE
    try:
        document = read_given(path)
    except OSError as error:
        raise CliError(
            f"unhealthy: cannot read the health file {path} ({describe_os_error(error)}); is the service running?"
        ) from None
    verdict = from_document(document, time.time())
    if not verdict.ok:
        raise CliError(f"unhealthy: {'; '.join(verdict.reasons)}")
    # Degraded passes the health check (exit 0): a new task would have the same keys, port or Consul.
    print(f"degraded: {'; '.join(verdict.degraded)}" if verdict.degraded else "healthy")
    return OK


def add_commands(commands: Any) -> None:
    """`health`."""
    command(
        commands,
        "health",
        health,
        "exit 0 if the running service is healthy or degraded (the Docker HEALTHCHECK)",
        epilog="Reads the health file the service rewrites every 5 s ($NEON_CM_HEALTH_FILE, default\n"
        f"{DEFAULT_HEALTH_FILE}): unhealthy (exit 1) when an actor is dead, no node listing succeeded for\n"
        "three poll intervals, or the file is stale (the service hung or gone); degraded (exit 0, with the\n"
        "reasons) when a Vault refused the unseal keys, the metrics port is taken, or there is no base\n"
        "definition in Consul.",
    )
