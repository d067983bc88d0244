"""Ticker: a timer actor that tells a Tick to its target every N seconds."""

from __future__ import annotations

import threading
import time
from typing import Any

import pykka

from actors.base import LinkedActor, tell
from messages.timing import SetInterval, Tick


class Ticker(LinkedActor):
    """Tells `Tick(name)` to `target` at start and then every `interval` seconds, skipping a tick while
    the target has not handled the last one (so a slow or hung target never builds a backlog).

    Pykka has no timers: a small daemon thread waits on a condition, so a SetInterval
    or a stop wakes it at once. An interval change counts from the last tick. The
    ticker stops itself when its target is gone.
    """

    def __init__(self, name: str, target: pykka.ActorRef[Any], interval: float, tick_at_start: bool = True) -> None:
        super().__init__()
        if interval <= 0:
            raise ValueError("interval must be above 0")
        self.timer = name
        self.target = target
        self.interval = interval
        self.tick_at_start = tick_at_start
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return f"ticker:{self.timer}"

    def setup(self) -> None:
        self._thread = self.start_thread(f"ticker-{self.timer}", self._run)

    def receive(self, message: Any) -> None:
        if isinstance(message, SetInterval):
            if message.seconds <= 0:
                raise ValueError("interval must be above 0")
            with self._wake:
                self.interval = message.seconds
                self._wake.notify()

    def cleanup(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        last_tick = time.monotonic() - (self.interval if self.tick_at_start else 0.0)
        pending: threading.Event | None = None
        while True:
            with self._wake:
                while not self._stopping:
                    remaining = last_tick + self.interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                if self._stopping:
                    return
            last_tick = time.monotonic()
            if pending is not None and not pending.is_set():
                if self.target.is_alive():
                    continue  # still busy with the last tick: a backlog would only repeat the work
                self.actor_ref.stop(block=False)  # it died holding the last tick
                return
            pending = threading.Event()
            if not tell(self.target, Tick(self.timer, pending)):
                self.actor_ref.stop(block=False)
                return
