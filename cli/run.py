"""`run` (the default command): the service in the foreground, exactly as `python neon_cm_main.py` runs it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from cli.common import command


def run_service(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The service until SIGTERM or SIGINT; its exit status."""
    import neon_cm_main  # lazily: the other commands need no actor machinery

    return neon_cm_main.main(env)


def add_commands(commands: Any) -> None:
    """`run`."""
    command(commands, "run", run_service, "run the service in the foreground (the default; log on stdout)")
