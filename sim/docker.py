"""A simulated Docker daemon on a Swarm manager: nodes with labels and roles, label changes that bump the node's
version, node events, and a daemon that hangs (a listing then times out)."""

from __future__ import annotations

from typing import Any

from sim.consul import NO_ANSWER, Reply


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
        self.events.append((now, node["ID"]))

    def set_role(self, now: float, position: int, role: str) -> None:
        """`docker node promote|demote`: the role changes (a manager has a ManagerStatus); an event is sent."""
        node = self.nodes[position % len(self.nodes)]
        node["Spec"] = {**node["Spec"], "Role": role}
        if role == "manager":
            node["ManagerStatus"] = {"Addr": f"{node['Status']['Addr']}:2377"}
        else:
            node.pop("ManagerStatus", None)
        node["Version"] = {"Index": self._bump()}
        self.events.append((now, node["ID"]))

    def answers(self, now: float) -> bool:
        return now >= self.hung_until

    def list_nodes(self, now: float) -> Reply:
        """GET /nodes: a copy of every node (the caller must not see later changes)."""
        if not self.answers(now):
            return NO_ANSWER
        return Reply(200, [{**node, "Spec": dict(node["Spec"])} for node in self.nodes])
