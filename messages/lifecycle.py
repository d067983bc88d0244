"""Supervision vocabulary: deaths, restarts, and what a (re)started actor asks of its sources."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class ChildExited:
    """Told to an actor's parent the moment the actor stops or dies (pykka tells nobody)."""

    child: Any = attrs.field(repr=False)
    """The pykka ActorRef of the actor that exited."""
    name: str
    """Its name (component, or `vault-monitor:<host>`)."""
    error: BaseException | None = None
    """The exception that killed it; None for a clean stop."""


@attrs.frozen
class SendCurrentView:
    """Asked of a source by a (re)started subscriber: tell `to` what you currently know, if anything."""

    to: Any = attrs.field(repr=False)
    """The pykka ActorRef of the subscriber."""


@attrs.frozen
class SuperviseChild:
    """Told to a supervisor: supervise one more child (a dynamic child, e.g. a Vault monitor) and start it."""

    spec: Any
    """Its `actors.supervisor.ChildSpec`; a key already supervised is refused (logged as a bug)."""


@attrs.frozen
class StopChild:
    """Told to a supervisor: stop the child `key` and forget it (it is not restarted)."""

    key: str
    """The child's key in its spec."""


@attrs.frozen
class TellChildren:
    """Told to a supervisor: pass `message` on to every running child (a poll interval, the reporting role)."""

    message: Any
    """An immutable message from `messages/`."""


@attrs.frozen
class ServiceStopping:
    """The top supervisor stops the service (SIGTERM): the actors it stops are gone on purpose, no fault to judge."""


@attrs.frozen
class ActorRestarted:
    """A supervisor restarted a child that had crashed (a bug)."""

    supervisor: str
    """The supervisor's name."""
    actor: str
    """The child that crashed."""


@attrs.frozen
class SupervisionGaveUp:
    """The top supervisor stopped restarting a child that crashed past its restart intensity: unhealthy."""

    actor: str
    """The child left stopped."""
    reason: str
    """Why, as logged."""


@attrs.frozen
class ThreadDied:
    """A thread an actor runs (a stream reader, a worker) raised: the actor dies of the same error."""

    thread: str
    """The thread's name."""
    error: Exception
    """What it raised."""
