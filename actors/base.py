"""What every service actor shares: a component name, a log handle, subscribers, and failure logging."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

import pykka

from actors.logger import Log
from messages.lifecycle import Subscribe
from messages.timing import Tick

#: Why each dead actor died: ServiceActor.on_failure records it, the Supervisor logs it once.
_crashes: dict[str, BaseException] = {}
_crashes_lock = threading.Lock()


def take_crash(component: str) -> BaseException | None:
    """The exception that killed the actor of this component, if one did (and forget it)."""
    with _crashes_lock:
        return _crashes.pop(component, None)


class ServiceActor(pykka.ThreadingActor):
    """A pykka actor that logs through the Logger and tells what it observes to its subscribers.

    Subclasses implement `handle(message)`. Expected failures (a peer down) are handled
    there; anything else raised kills the actor, and the Supervisor restarts the service's
    actors: a fresh start beats running on with state a bug may have corrupted.
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
        finally:
            if isinstance(message, Tick) and message.handled is not None:
                message.handled.set()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exception_value is not None:
            with _crashes_lock:
                _crashes[self.component] = exception_value

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
