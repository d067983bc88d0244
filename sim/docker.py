"""A simulated Docker daemon on a Swarm manager: nodes with labels and roles, label changes that bump the node's
version, nodes added and removed, node events, and a daemon that hangs (a listing then times out).

Its HTTP face (`handle`) answers as Docker Engine 29.1 does by default (API 1.44-1.52: an older or newer versioned
path is refused with 400 and the daemon's words; teststack/engine29.py is the same front for the real stack), or
as Engine 20.10 (API up to 1.41, no Swarm header on the ping) with `engine="20.10"`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import attrs

from sim.consul import NO_ANSWER, Reply
from sim.http import HttpAnswer, HttpRequest, Reach, json_answer, wake

#: Each engine's (oldest, newest) API version and its version string.
ENGINES = {"29": ((1, 44), (1, 52), "29.1.2"), "20.10": ((1, 12), (1, 41), "20.10.24")}
_VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)?$")


@attrs.frozen
class DockerEvent:
    """One node event as the daemon streams it."""

    time: float
    node_id: str
    action: str
    """`create`, `update` or `remove`."""
    name: str


class SimDocker:
    """The Swarm as `GET /nodes` lists it."""

    def __init__(self, managers: int, workers: int) -> None:
        self.version = 10
        self.nodes: list[dict[str, Any]] = []
        for number in range(managers + workers):
            manager = number < managers
            hostname = f"manager-{number + 1}" if manager else f"worker-{number - managers + 1}"
            node: dict[str, Any] = {
                "ID": f"node{number + 1:02d}",
                "Version": {"Index": self._bump()},
                "Spec": {"Role": "manager" if manager else "worker", "Labels": {"io.neon.compute.cores": "4"}},
                "Description": {"Hostname": hostname},
                "Status": {"Addr": f"10.0.0.{number + 1}"},
            }
            if manager:
                node["ManagerStatus"] = {"Addr": f"10.0.0.{number + 1}:2377"}
            self.nodes.append(node)
        self.hung_until = 0.0
        self.events: list[tuple[float, str]] = []
        """(time, node ID) of every node event, for the node-event stream."""
        self.node_events: list[DockerEvent] = []
        """Every node event with its action, what the HTTP face streams."""
        self.engine = "29"
        self.down_until = 0.0
        """Until then the daemon is not running: connections are refused."""
        self.watchers: list[Callable[[], None]] = []
        self.added = 0

    def _event(self, now: float, node: dict[str, Any], action: str) -> None:
        self.events.append((now, node["ID"]))
        self.node_events.append(DockerEvent(now, node["ID"], action, node["Description"]["Hostname"]))
        wake(self.watchers)

    def _bump(self) -> int:
        self.version += 1
        return self.version

    def managers(self) -> list[str]:
        return [node["Description"]["Hostname"] for node in self.nodes if node["Spec"]["Role"] == "manager"]

    def label(self, now: float, position: int, key: str, value: str) -> None:
        """`docker node update --label-add`: the node's labels and Version.Index change; an event is sent."""
        node = self.nodes[position % len(self.nodes)]
        node["Spec"] = {**node["Spec"], "Labels": {**node["Spec"]["Labels"], key: value}}
        node["Version"] = {"Index": self._bump()}
        self._event(now, node, "update")

    def set_role(self, now: float, position: int, role: str) -> None:
        """`docker node promote|demote`: the role changes (a manager has a ManagerStatus); an event is sent."""
        node = self.nodes[position % len(self.nodes)]
        node["Spec"] = {**node["Spec"], "Role": role}
        if role == "manager":
            node["ManagerStatus"] = {"Addr": f"{node['Status']['Addr']}:2377"}
        else:
            node.pop("ManagerStatus", None)
        node["Version"] = {"Index": self._bump()}
        self._event(now, node, "update")

    def add_node(self, now: float, role: str = "worker") -> dict[str, Any]:
        """`docker swarm join`: a new node (a worker unless told), and its `create` event."""
        self.added += 1
        number = len(self.nodes) + 1
        node: dict[str, Any] = {
            "ID": f"added{self.added:02d}",
            "Version": {"Index": self._bump()},
            "Spec": {"Role": role, "Labels": {}},
            "Description": {"Hostname": f"joined-{self.added}"},
            "Status": {"Addr": f"10.0.1.{number}"},
        }
        if role == "manager":
            node["ManagerStatus"] = {"Addr": f"10.0.1.{number}:2377"}
        self.nodes.append(node)
        self._event(now, node, "create")
        return node

    def remove_node(self, now: float, position: int) -> dict[str, Any]:
        """`docker node rm`: the node is gone from the listing, and its `remove` event."""
        node = self.nodes.pop(position % len(self.nodes))
        self._event(now, node, "remove")
        return node

    def answers(self, now: float) -> bool:
        return now >= self.hung_until

    def list_nodes(self, now: float) -> Reply:
        """GET /nodes: a copy of every node (the caller must not see later changes)."""
        if not self.answers(now):
            return NO_ANSWER
        return Reply(200, [{**node, "Spec": dict(node["Spec"])} for node in self.nodes])

    # ------------------------------------------------------------------ the HTTP face

    def reach(self, now: float) -> Reach:
        if now < self.down_until:
            return Reach.REFUSED
        return Reach.UP if self.answers(now) else Reach.HUNG

    def next_change(self, now: float) -> float | None:
        return None

    def _headers(self) -> tuple[tuple[str, str], ...]:
        _, newest, version = ENGINES[self.engine]
        return (
            ("Api-Version", f"{newest[0]}.{newest[1]}"),
            ("Docker-Experimental", "false"),
            ("Ostype", "linux"),
            ("Server", f"Docker/{version} (linux)"),
        )

    def _message(self, status: int, message: str) -> HttpAnswer:
        """Docker's error answer: `{"message": ...}`."""
        return json_answer(status, {"message": message}, self._headers())

    def handle(self, request: HttpRequest, now: float) -> HttpAnswer:
        """GET /_ping, /version, /nodes and /events (node events, streamed), versioned or not."""
        oldest, newest, version = ENGINES[self.engine]
        path = request.path
        versioned = _VERSIONED.match(path)
        if versioned:
            asked = (int(versioned.group(1)), int(versioned.group(2)))
            path = versioned.group(3) or "/"
            shown = f"{asked[0]}.{asked[1]}"
            if asked < oldest:
                return self._message(
                    400,
                    f"client version {shown} is too old. Minimum supported API version is {oldest[0]}.{oldest[1]}, "
                    "please upgrade your client to a newer version",
                )
            if asked > newest:
                return self._message(
                    400, f"client version {shown} is too new. Maximum supported API version is {newest[0]}.{newest[1]}"
                )
        if request.method not in ("GET", "HEAD"):
            return self._message(404, "page not found")
        if path == "/_ping":
            headers = [*self._headers(), ("Content-Type", "text/plain; charset=utf-8")]
            if self.engine != "20.10":
                headers.append(("Swarm", "active/manager"))
            return HttpAnswer(200, tuple(headers), b"OK")
        if path == "/version":
            body = {
                "Version": version,
                "ApiVersion": f"{newest[0]}.{newest[1]}",
                "MinAPIVersion": f"{oldest[0]}.{oldest[1]}",
                "Os": "linux",
                "Arch": "amd64",
            }
            return json_answer(200, body, self._headers())
        if path == "/nodes":
            return json_answer(200, self.list_nodes(now).body, self._headers())
        if path == "/events":
            return HttpAnswer(200, (*self._headers(), ("Content-Type", "application/json")), EventFeed(self, now))
        return self._message(404, "page not found")


class EventFeed:
    """The node events after `since`, one JSON line each, as `GET /events?filters={"type":["node"]}` streams
    them (Docker sends no past event without ?since)."""

    def __init__(self, docker: SimDocker, since: float) -> None:
        self.docker = docker
        self.sent = len(docker.node_events)

    def take(self, now: float) -> bytes:
        lines = []
        while self.sent < len(self.docker.node_events) and self.docker.node_events[self.sent].time <= now:
            event = self.docker.node_events[self.sent]
            self.sent += 1
            lines.append(
                json.dumps(
                    {
                        "Type": "node",
                        "Action": event.action,
                        "Actor": {"ID": event.node_id, "Attributes": {"name": event.name}},
                        "scope": "swarm",
                        "time": int(event.time),
                        "timeNano": int(event.time * 1e9),
                    },
                    separators=(",", ":"),
                ).encode()
                + b"\n"
            )
        return b"".join(lines)

    def ended(self, now: float) -> bool:
        return False
