"""A real pykka actor that keeps what it is told: a subscriber or a node's monitor in tests of actors."""

from __future__ import annotations

from typing import Any

import pykka


class Recorder(pykka.ThreadingActor):
    """Keeps every message it hears; asked "heard", answers the list so far."""

    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[Any] = []

    def on_receive(self, message: Any) -> Any:
        if message == "heard":
            return list(self.heard)
        self.heard.append(message)
        return None
