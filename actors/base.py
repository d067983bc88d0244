"""What every service actor shares: a component name, a log handle, subscribers, and failure logging."""

from __future__ import annotations

from typing import Any

import pykka

from actors.logger import Log
from messages.lifecycle import Subscribe


class ServiceActor(pykka.ThreadingActor):
    """A pykka actor that logs through the Logger and tells what it observes to its subscribers.

    Subclasses implement `handle(message)`; an exception there is logged as an ERROR
    with the message's type, and the actor goes on with the next message.
    """

    component = "service"

    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log.child(self.component)
        self.subscribers: list[pykka.ActorRef[Any]] = []

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Subscribe):
            self.subscribers.append(message.subscriber)
            self.on_subscribe(message.subscriber)
            return None
        try:
            return self.handle(message)
        except Exception as error:  # noqa: BLE001 -- one bad message must not kill the actor
            self.log.error(f"failed to handle {type(message).__name__}", error)
            return None

    def handle(self, message: Any) -> Any:
        """Act on one message (everything but Subscribe)."""
        raise NotImplementedError

    def on_subscribe(self, subscriber: pykka.ActorRef[Any]) -> None:
        """Tell a new subscriber the current view, if the actor has one."""

    def publish(self, message: Any) -> None:
        """Tell `message` to every live subscriber; forget the dead ones."""
        for subscriber in list(self.subscribers):
            try:
                subscriber.tell(message)
            except pykka.ActorDeadError:
                self.subscribers.remove(subscriber)
