"""`health`: the Docker HEALTHCHECK, the running service's verdict read from its health file."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from cli.common import OK, CliError, command
from cli.healthcheck import verdict
from neon_cm.health import DEFAULT_HEALTH_FILE


def health(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The Docker HEALTHCHECK: the verdict of the running service, from its health file (the image's
    HEALTHCHECK skips the parser: cli/main.py's fast path)."""
    passes, line = verdict(env)
    if not passes:
        raise CliError(line)
    print(line)
    return OK


def add_commands(commands: Any) -> None:
    """`health`."""
    command(
        commands,
        "health",
        health,
        "exit 0 if the running service is healthy or degraded (the Docker HEALTHCHECK)",
        epilog="Reads the health file the service rewrites every 5 s ($NEON_CM_HEALTH_FILE, default\n"
        f"{DEFAULT_HEALTH_FILE}): unhealthy (exit 1) when an actor is dead, a manager's Vault has no live\n"
        "monitor, no node listing succeeded for three poll intervals, or the file is stale (the service hung\n"
        "or gone); degraded (exit 0, with the reasons) when a Vault refused the unseal keys, the unseal keys\n"
        "given cannot be used, the metrics port is taken, there is no base definition in Consul, or a\n"
        "setting stored in Consul was rejected (its default applies).",
    )
