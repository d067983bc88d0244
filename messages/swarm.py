"""What the Swarm looks like, as the SwarmWatcher tells it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


def _mapping(value: Any) -> Mapping[str, Any]:
    """`value` when the Docker API gave an object there, else empty (a peer's oddity is not our crash)."""
    return value if isinstance(value, Mapping) else {}


def _label_pairs(labels: Mapping[str, str] | tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    items = labels.items() if isinstance(labels, Mapping) else labels
    return tuple(sorted((str(key), str(value)) for key, value in items))


def _index(value: Any) -> int:
    """A version index as Docker gives it; 0 (unknown) for anything but a positive integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@attrs.frozen
class SwarmNode:
    """One node as Docker's node list shows it, reduced to what the service uses."""

    id: str
    """Docker node ID."""
    hostname: str
    """`Description.Hostname`, as Docker reports it."""
    role: str
    """`Spec.Role`: `manager` or `worker`."""
    addr: str
    """`Status.Addr`: the node's address as the Swarm sees it."""
    manager_addr: str = ""
    """Host part of `ManagerStatus.Addr`; empty for workers."""
    labels: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_label_pairs)
    """`Spec.Labels` as sorted (key, value) pairs, so equal labels compare equal."""
    version: int = 0
    """`Version.Index`: Docker changes it with every update to the node; 0 when unknown."""

    @classmethod
    def from_docker(cls, attrs_: Mapping[str, Any]) -> SwarmNode:
        """Build from one entry of `GET /nodes` (the Docker Engine API's node object)."""
        spec = _mapping(attrs_.get("Spec"))
        manager_addr = str(_mapping(attrs_.get("ManagerStatus")).get("Addr") or "").rsplit(":", 1)[0]
        return cls(
            id=str(attrs_.get("ID", "")),
            hostname=str(_mapping(attrs_.get("Description")).get("Hostname", "")),
            role=str(spec.get("Role", "")),
            addr=str(_mapping(attrs_.get("Status")).get("Addr", "")),
            manager_addr=manager_addr,
            labels=_mapping(spec.get("Labels")),
            version=_index(_mapping(attrs_.get("Version")).get("Index")),
        )


@attrs.frozen
class NodesObserved:
    """The SwarmWatcher listed the Swarm's nodes."""

    nodes: tuple[SwarmNode, ...]
    """Every node Docker listed, in Docker's order; never empty (an empty listing is a NodeListFailed)."""
    at: float | None = None
    """When the listing answered (monotonic seconds): the view re-sent to a restarted subscriber keeps it, so that a
    listing older than a failure heard since is no news. None: not known (counts as news)."""


@attrs.frozen
class NodeListFailed:
    """The SwarmWatcher could not list the Swarm's nodes."""

    error: str
    """What went wrong."""
    at: float | None = None
    """When it failed (monotonic seconds); None: not known."""


@attrs.frozen
class NodeChanged:
    """Docker reported a node event (a node joined, was updated or left): the Swarm needs listing again."""

    action: str
    """`create`, `update` or `remove`."""
    node_id: str
    """The node's Docker ID."""


@attrs.frozen
class NodeEventsConnected:
    """The node event stream is (again) connected: anything missed while it was not needs a listing."""
