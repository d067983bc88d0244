"""SIGTERM and SIGINT as a stop request, installed before anything heavy is imported.

Importing the service's libraries takes a few hundred milliseconds; a stop in that window must be a
clean stop (`stopping`, `stopped`, exit 0), not a KeyboardInterrupt traceback or an exit by signal.
This module imports nothing but the standard library's os, select and signal for that reason.

The request is no `threading.Event`: CPython runs a signal's handler in the main thread, between two bytecodes of
whatever it is doing, and the main thread spends its life in `requested.wait(0.2)`. An Event's `wait` holds the
Event's own (non-reentrant) lock for a few bytecodes around each sleep; a handler calling the Event's `set` at such a
moment waits for that lock forever, and the process never exits: a CI teardown's SIGTERM timed out. (A process
that waits on an Event in a loop with no sleep hung on 13 to 18 of 30 SIGTERMs; with the service's 0.2 s it is
rare. tests/test_stopping.py runs the handler at every bytecode of a wait.) `StopRequest.set` takes no lock.
"""

from __future__ import annotations

import os
import select
import signal


class StopRequest:
    """A flag a signal handler may set at any moment: `set` takes no lock (it writes one byte to a pipe of its own,
    which wakes every `wait`). What the service's main loop waits on (actors.runtime.Event's interface)."""

    def __init__(self) -> None:
        self._set = False
        self._wake_read, self._wake_write = os.pipe()  # not inherited by child processes (PEP 446)
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)

    def set(self) -> None:
        self._set = True
        try:
            os.write(self._wake_write, b"s")
        except BlockingIOError:  # the pipe is full of earlier requests: a waiter wakes all the same
            pass

    def is_set(self) -> bool:
        return self._set

    def clear(self) -> None:
        self._set = False
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """True once set; False after `timeout` seconds (None: no limit) without a request."""
        if not self._set:
            # The byte stays in the pipe: every waiter wakes, and every later wait returns at once. A handler run
            # in this thread between the check and the select has written its byte already.
            select.select([self._wake_read], [], [], timeout)
        return self._set


#: Set by SIGTERM or SIGINT once `install` has run; the service's main loop waits on it.
requested = StopRequest()


def install() -> StopRequest:
    """Make SIGTERM and SIGINT set `requested` (idempotent)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: requested.set())
    return requested
