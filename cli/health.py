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
    print("healthy")
    return OK


def add_commands(commands: Any) -> None:
    """`health`."""
    command(
        commands,
        "health",
        health,
        "exit 0 if the running service is healthy (the Docker HEALTHCHECK)",
        epilog="Reads the health file the service rewrites every 5 s ($NEON_CM_HEALTH_FILE, default\n"
        f"{DEFAULT_HEALTH_FILE}): unhealthy when an actor is dead, no node listing succeeded for three\n"
        "poll intervals, or the file is stale (the service hung or gone).",
    )
