"""Wiring between actors: who wants to hear what."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class Subscribe:
    """Ask an actor to tell `subscriber` what it observes from now on (and its current view, if any)."""

    subscriber: Any = attrs.field(repr=False)
    """The pykka ActorRef to tell."""


@attrs.frozen
class ActorsStarted:
    """The service's actors, by name, once all are started: whose liveness health checks."""

    actors: tuple[tuple[str, Any], ...] = attrs.field(repr=False)
    """(name, ActorRef) pairs."""
