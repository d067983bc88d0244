"""SIGTERM and SIGINT as a stop request, installed before anything heavy is imported.

Importing the service's libraries takes a few hundred milliseconds; a stop in that window must be a
clean stop (`stopping`, `stopped`, exit 0), not a KeyboardInterrupt traceback or an exit by signal.
This module imports nothing but the standard library's signal and threading for that reason.
"""

from __future__ import annotations

import signal
import threading

#: Set by SIGTERM or SIGINT once `install` has run; the service's main loop waits on it.
requested = threading.Event()


def install() -> threading.Event:
    """Make SIGTERM and SIGINT set `requested` (idempotent)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: requested.set())
    return requested
