"""What the Docker gateway (gateways/docker.py) answers: each Docker call's outcome as a value."""

from __future__ import annotations

import attrs

from messages.swarm import SwarmNode


@attrs.frozen
class ListNodes:
    """Effect: list the Swarm's nodes (GET /nodes); the gateway answers with one of the outcomes below."""


@attrs.frozen
class NodesListed:
    """GET /nodes answered a node list."""

    nodes: tuple[SwarmNode, ...]
    """Every node, in Docker's order; empty only when Docker listed none (a real daemon never does)."""
    api_version: str = ""
    """The Docker API version the listing was asked in (`1.44`); empty when not known."""
    api_note: str = ""
    """How that version was chosen (`the daemon speaks up to 1.52; this service 1.41-1.55`)."""


@attrs.frozen
class DockerUnreachable:
    """The daemon could not be asked or did not answer in time (refused, reset, timed out, an error status)."""

    reason: str
    """What went wrong, as `Type: text`."""
    connection: str | None = attrs.field(default=None, eq=False)
    """When the connection itself failed: the system's words alone (`[Errno 111] Connection refused`)."""


@attrs.frozen
class NotAManager:
    """The daemon answered 503 "This node is not a swarm manager": DOCKER_HOST is a worker, or a node in no Swarm."""

    reason: str
    """Docker's own words."""


@attrs.frozen
class DockerGarbage:
    """The daemon (or something in front of it) answered something that is not what the call returns."""

    reason: str
    """What was wrong with the answer."""


ListingOutcome = NodesListed | DockerUnreachable | NotAManager | DockerGarbage
"""Every answer to ListNodes."""


@attrs.frozen
class NodeEvent:
    """One node event from GET /events (a node was created, updated or removed)."""

    action: str
    """`create`, `update` or `remove`."""
    node_id: str
    """The node's Docker ID ("" when the event named none)."""


@attrs.frozen
class StreamQuiet:
    """The event stream said nothing for the gateway's read timeout: reconnect (a hung daemon looks the same)."""

    seconds: float
    """How long it was quiet."""


@attrs.frozen
class StreamEnded:
    """The daemon ended the event stream (it is restarting or shutting down)."""


@attrs.frozen
class StreamRenegotiated:
    """The daemon refused the API version in use (it changed under the service); reconnect at once, negotiated
    again."""

    reason: str
    """The daemon's refusal."""


@attrs.frozen
class StreamClosed:
    """The stream was closed from our side (the actor is stopping)."""


StreamOutcome = (
    DockerUnreachable | NotAManager | DockerGarbage | StreamQuiet | StreamEnded | StreamRenegotiated | StreamClosed
)
"""Why following the event stream stopped."""
