"""The Docker HEALTHCHECK's verdict, with nothing imported that it does not need: Docker runs it every interval
in every task, and on a loaded manager the whole command line's imports (the server clients) took seconds, past
the health check's timeout (a healthy task killed as unhealthy)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from gateways.files import read_given
from neon_cm.filewords import NotARegularFile, describe_os_error
from neon_cm.health import DEFAULT_HEALTH_FILE, from_document


def verdict(env: Mapping[str, str], clock: Callable[[], float] = time.time) -> tuple[bool, str]:
    """(passes, the line to say): `healthy` or `degraded: ...` when it passes (exit 0: a new task would have the
    same keys, port or Consul), `unhealthy: ...` when it does not. `clock` judges the file's age (the simulator's
    Docker runs this with its virtual wall clock, sim/cluster.py)."""
    path = env.get("NEON_CM_HEALTH_FILE") or DEFAULT_HEALTH_FILE
    try:
        document = read_given(path)
    except NotARegularFile as error:  # the service refuses to write there too (one ERROR): it may well be running
        return False, (
            f"unhealthy: cannot read the health file {path} ({error}); NEON_CM_HEALTH_FILE must name a regular file, "
            "a symlink to one or a new file in an existing folder"
        )
    except OSError as error:
        problem = describe_os_error(error)
        return False, f"unhealthy: cannot read the health file {path} ({problem}); is the service running?"
    health = from_document(document, clock(), path)
    if not health.ok:
        return False, f"unhealthy: {'; '.join(health.reasons)}"
    return True, f"degraded: {'; '.join(health.degraded)}" if health.degraded else "healthy"
