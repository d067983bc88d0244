"""Consul as production runs it, beside a slot's stack: three servers and one client agent (Consul 1.8.7, the
binary the stack fetches), each on a loopback address of its own (127.0.<slot>.31-33 the servers, .34 the agent),
so each uses Consul's default ports. The service and the CLI talk to the agent, as on a production node.

Not part of `up`: the single dev agent stays the stack's Consul for the rest of the suite. `python -m teststack
consul-cluster up|down|status` (or the integration tests' `consul_cluster` fixture) starts and stops it; its data
and logs live under <state dir>/consul3 (the stack's `down` stops it too). The servers run with
`raft_multiplier = 1`, the timing HashiCorp recommends for production (the default, 5, is for small dev machines).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from typing import Any

from .binaries import find_consul
from .http import json_request
from .processes import pid_alive, progress, scaled_timeout, spawn, stop_pids, wait_until
from .state import StackError, flocked, node_address, state_dir

#: (name, last octet of its loopback address): the three servers, then the client agent.
MEMBERS: tuple[tuple[str, int], ...] = (("server-1", 31), ("server-2", 32), ("server-3", 33), ("agent", 34))
SERVERS = tuple(name for name, _ in MEMBERS if name.startswith("server"))
HTTP_PORT, SERVER_PORT = 8500, 8300


def cluster_dir(path: str | None = None) -> str:
    """Where the cluster of this slot keeps its data, logs and state file."""
    return os.path.join(state_dir(path), "consul3")


def _state_file(path: str | None = None) -> str:
    return os.path.join(cluster_dir(path), "cluster.json")


def load_cluster(path: str | None = None) -> dict[str, Any]:
    """The cluster's state: {"members": {name: {"addr", "http_addr", "pid", "log", "server"}}, "agent": http_addr}."""
    try:
        with open(_state_file(path)) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise StackError("the 3-server Consul is not up (run: python -m teststack consul-cluster up)") from None


def _save(state: dict[str, Any], path: str | None = None) -> None:
    tmp = _state_file(path) + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, _state_file(path))


def _argv(name: str, addr: str, data: str) -> list[str]:
    joins = [arg for server, octet in MEMBERS[:3] for arg in ("-retry-join", node_address(octet))]
    argv = [find_consul(), "agent", "-node", name, "-bind", addr, "-client", addr, "-data-dir", data]
    argv += ["-dns-port", "-1", "-grpc-port", "-1", "-log-level", "info", "-disable-host-node-id", *joins]
    argv += ["-hcl", "performance { raft_multiplier = 1 }", "-hcl", "disable_update_check = true"]
    if name.startswith("server"):
        argv += ["-server", "-bootstrap-expect", str(len(SERVERS))]
    return argv


def _launch(member: dict[str, Any], name: str, path: str | None) -> None:
    data = os.path.join(cluster_dir(path), name, "data")
    os.makedirs(data, exist_ok=True)
    member["pid"] = spawn(_argv(name, member["addr"], data), member["log"])


def leader(http_addr: str) -> str:
    """What /v1/status/leader of the member at `http_addr` names ("" while it knows none, or does not answer)."""
    try:
        status, body = json_request("GET", f"http://{http_addr}/v1/status/leader", timeout=2)
    except OSError:
        return ""
    return body if status == 200 and isinstance(body, str) else ""


def leader_name(path: str | None = None) -> str:
    """The server that leads now, as the agent says ("" when it names none)."""
    state = load_cluster(path)
    address = leader(state["agent"]).rsplit(":", 1)[0]
    return next((name for name, m in state["members"].items() if m["addr"] == address and m["server"]), "")


def _ready(state: dict[str, Any]) -> bool:
    """Every member knows the leader, and the servers know the agent (its serfHealth passes in the catalog)."""
    if any(not leader(m["http_addr"]) for m in state["members"].values() if pid_alive(m["pid"])):
        return False
    try:
        status, checks = json_request("GET", f"http://{state['agent']}/v1/health/node/agent", timeout=2)
    except OSError:
        return False
    if status != 200 or not isinstance(checks, list):
        return False
    return any(isinstance(c, dict) and c.get("CheckID") == "serfHealth" and c["Status"] == "passing" for c in checks)


def wait_cluster(path: str | None = None, timeout: float = 60.0) -> None:
    """Wait until the cluster has a leader that every running member (the agent too) knows."""
    state = load_cluster(path)
    agent = state["members"]["agent"]
    wait_until(
        lambda: _ready(state) or None,
        scaled_timeout(timeout),
        "the 3-server Consul to elect a leader",
        agent["log"],
        agent["pid"],
    )


def cluster_up(path: str | None = None) -> dict[str, Any]:
    """Start the three servers and the agent (a fresh cluster: no data kept from an earlier one) and wait for a
    leader; return the cluster's state. Idempotent while the one running is healthy."""
    directory = cluster_dir(path)
    os.makedirs(os.path.dirname(directory), exist_ok=True)
    with flocked(directory + ".lock"):
        try:
            state = load_cluster(path)
            if all(pid_alive(m["pid"]) for m in state["members"].values()) and _ready(state):
                return state
        except StackError:
            pass
        _stop(path)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        members = {}
        for name, octet in MEMBERS:
            addr = node_address(octet)
            members[name] = {
                "addr": addr,
                "http_addr": f"{addr}:{HTTP_PORT}",
                "log": os.path.join(directory, name, "consul.log"),
                "server": name in SERVERS,
                "pid": None,
            }
            _launch(members[name], name, path)
        state = {"members": members, "agent": members["agent"]["http_addr"]}
        _save(state, path)
        wait_cluster(path)
        progress(f"3-server Consul ready; its agent at {state['agent']}")
        return state


def _stop(path: str | None) -> None:
    try:
        state = load_cluster(path)
    except (StackError, ValueError):
        return
    for member in state["members"].values():
        os.kill(member["pid"], signal.SIGCONT) if pid_alive(member["pid"]) else None
    left = stop_pids([m["pid"] for m in state["members"].values() if m["pid"]], timeout=15)
    if left:
        raise StackError(f"could not stop the 3-server Consul: {left}")


def cluster_down(path: str | None = None) -> None:
    """Stop every member and remove the cluster's data (safe when it is not up)."""
    directory = cluster_dir(path)
    if not os.path.isdir(directory):
        return
    with flocked(directory + ".lock"):
        _stop(path)
        shutil.rmtree(directory, ignore_errors=True)


def member_signal(name: str, sig: int, path: str | None = None) -> None:
    """Send `sig` to member `name` (SIGKILL: it is marked stopped; SIGSTOP/SIGCONT: paused, resumed)."""
    state = load_cluster(path)
    member = state["members"][name]
    if not pid_alive(member["pid"]):
        raise StackError(f"{name} of the 3-server Consul is not running")
    os.kill(member["pid"], sig)
    if sig == signal.SIGKILL:
        wait_until(lambda: not pid_alive(member["pid"]) or None, scaled_timeout(10), f"{name} to die")
        member["pid"] = None
        _save(state, path)


def member_start(name: str, path: str | None = None) -> None:
    """Start member `name` again on its data (no-op if it runs); it rejoins the others (no wait here)."""
    state = load_cluster(path)
    member = state["members"][name]
    if not pid_alive(member["pid"]):
        _launch(member, name, path)
        _save(state, path)


def member_http(name: str, path: str | None = None) -> str:
    """The HTTP address (host:port) of member `name`."""
    return str(load_cluster(path)["members"][name]["http_addr"])


def cluster_status(path: str | None = None) -> tuple[bool, str]:
    """(healthy, one line) for the cluster of this slot."""
    try:
        state = load_cluster(path)
    except StackError as exc:
        return False, str(exc)
    down = [name for name, m in state["members"].items() if not pid_alive(m["pid"])]
    if down:
        return False, f"not running: {', '.join(down)}"
    if not _ready(state):
        return False, "no leader known to every member"
    return True, f"leader {leader_name(path)}; agent at {state['agent']}"
