"""The stack's Docker Swarm: one dockerd per node (3 managers, 2 workers) and extra nodes for tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from typing import Any

from .binaries import SYS_PATH, find_docker_cli, find_dockerd
from .http import docker_delete, docker_get
from .processes import pid_alive, procs_under, runs_under, scaled_timeout, spawn, stop_pids, umount_under, wait_until
from .state import SWARM_PORT, StackError, load, state_dir, write_state


def node_dir(sd: str, name: str) -> str:
    """The folder of docker node `name` under state dir `sd`: its socket, data, config and log."""
    return os.path.join(sd, "docker", name)


def _dockerd_argv(sd: str, name: str) -> list[str]:
    d = node_dir(sd, name)
    dockerd = [
        find_dockerd(),
        "--host",
        f"unix://{d}/docker.sock",
        "--data-root",
        f"{d}/data",
        "--exec-root",
        f"{d}/exec",
        "--pidfile",
        f"{d}/docker.pid",
        "--config-file",
        f"{d}/daemon.json",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--bridge=none",
        "--userland-proxy=false",
        "--storage-driver=vfs",
        "--log-level=info",
    ]
    # New UTS namespace so that each daemon (and so its swarm node) has its own hostname.
    return ["unshare", "--uts", "sh", "-c", 'hostname "$1" && shift && exec "$@"', "sh", name, *dockerd]


def docker_launch(sd: str, name: str) -> int:
    """Start node `name`'s dockerd (in a UTS namespace named after it) without waiting; return its pid."""
    d = node_dir(sd, name)
    for sub in ("data", "exec"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    cfg = os.path.join(d, "daemon.json")
    if not os.path.exists(cfg):
        with open(cfg, "w") as fh:
            fh.write("{}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["PATH"] = SYS_PATH
    return spawn(_dockerd_argv(sd, name), os.path.join(d, "dockerd.log"), env=env)


def docker_node_launch(sd: str, name: str, role: str, addr: str) -> dict[str, Any]:
    """Start the dockerd of node `name` (swarm `role`, address `addr`) under `sd` without waiting; return its
    stack.json entry."""
    d = node_dir(sd, name)
    return {
        "hostname": name,
        "role": role,
        "addr": addr,
        "docker_host": f"unix://{d}/docker.sock",
        "pid": docker_launch(sd, name),
        "swarm_addr": f"{addr}:{SWARM_PORT}",
        "dir": d,
        "log": os.path.join(d, "dockerd.log"),
    }


def _node_entry(st: dict[str, Any], name: str) -> dict[str, Any]:
    for n in st["nodes"]:
        if n["hostname"] == name:
            return n
    raise StackError(f"no docker node named {name!r} (have: {', '.join(n['hostname'] for n in st['nodes'])})")


def _sock(node: dict[str, Any]) -> str:
    return node["docker_host"][len("unix://") :]


def _docker_wait_ping(node: dict[str, Any], timeout: float = 60.0) -> None:
    wait_until(
        lambda: docker_get(_sock(node), "/_ping", timeout=2) == "OK",
        scaled_timeout(timeout),
        f"dockerd of {node['hostname']} to answer on {node['docker_host']}",
        node["log"],
        node["pid"],
    )


def run_docker(docker_host: str, args: tuple[str, ...], timeout: float = 60.0) -> str:
    """Run the docker CLI with `args` against `docker_host`; return stdout, raise StackError with stderr on failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    argv = [find_docker_cli(), "-H", docker_host, *args]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"`docker {' '.join(args)}` on {docker_host} timed out after {timeout:.0f}s") from exc
    if r.returncode != 0:
        raise StackError(
            f"`docker {' '.join(args)}` on {docker_host} failed (exit {r.returncode}): "
            f"{r.stderr.strip() or r.stdout.strip()}"
        )
    return r.stdout


def docker(name: str, *args: str, path: str | None = None) -> str:
    """Run the docker CLI against node `name`'s daemon; return stdout, raise StackError with stderr on failure."""
    return run_docker(_node_entry(load(path), name)["docker_host"], args)


def _swarm_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return docker_get(_sock(node), "/nodes", timeout=5)


def _ready_hostnames(node: dict[str, Any]) -> dict[str, str]:
    """hostname -> swarm status state ('ready', 'down', ...) as seen by manager `node`."""
    return {n["Description"]["Hostname"]: n["Status"]["State"] for n in _swarm_nodes(node)}


def swarm_all_ready(manager: dict[str, Any], names: list[str]) -> bool:
    """True when `manager` lists exactly the nodes `names`, all Ready, and every manager reachable."""
    nodes = _swarm_nodes(manager)
    states = {n["Description"]["Hostname"]: n["Status"]["State"] for n in nodes}
    if len(nodes) != len(names) or any(states.get(h) != "ready" for h in names):
        return False
    managers = [n for n in nodes if n.get("ManagerStatus")]
    return all(n["ManagerStatus"].get("Reachability") == "reachable" for n in managers)


def _local_swarm_active(node: dict[str, Any]) -> bool:
    info = docker_get(_sock(node), "/info", timeout=5)
    sw = info.get("Swarm") or {}
    if sw.get("LocalNodeState") != "active":
        return False
    return bool(sw.get("ControlAvailable")) if node["role"] == "manager" else True


def docker_stop(name: str, path: str | None = None) -> None:
    """Stop one node's dockerd (SIGTERM, wait, SIGKILL after a timeout) and unmount its leftovers."""
    sd = state_dir(path)
    st = load(sd)
    node = _node_entry(st, name)
    pids: list[int] = [node["pid"]] if runs_under(node.get("pid"), node_dir(sd, name)) else []
    stop_pids(pids, timeout=30)
    # The daemon's own containerd normally exits with it; clean up anything left under its dir.
    leftovers = procs_under(node_dir(sd, name))
    if leftovers:
        stop_pids(leftovers, timeout=10)
    umount_under(node_dir(sd, name))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_sock(node))
    node["pid"] = None
    write_state(sd, st)


def docker_start(name: str, path: str | None = None, timeout: float = 90.0) -> None:
    """Start one node's dockerd again with the same config; wait until its swarm node (and the rest) is Ready.

    A no-op apart from the waits if it is already running.
    """
    sd = state_dir(path)
    st = load(sd)
    node = _node_entry(st, name)
    if not runs_under(node.get("pid"), node_dir(sd, name)):  # already running: only wait for it
        node["pid"] = docker_launch(sd, name)
        write_state(sd, st)
    _docker_wait_ping(node)
    wait_until(
        lambda: _local_swarm_active(node),
        scaled_timeout(timeout),
        f"{name} to be an active swarm {node['role']} again",
        node["log"],
        node["pid"],
    )
    # Ask another running manager (a restarted manager may take a moment to rejoin raft). After a
    # manager restart the swarm may elect a new leader, which marks every node "unknown" until its
    # next heartbeat: wait until every running node is Ready again, not only this one.
    running = [n for n in st["nodes"] if n["hostname"] == name or pid_alive(n.get("pid"))]
    observers = [n for n in running if n["role"] == "manager" and n["hostname"] != name] or [node]

    def ready() -> bool:
        for m in observers:
            try:
                states = _ready_hostnames(m)
            except Exception:  # noqa: BLE001 - try the next manager
                continue
            return all(states.get(n["hostname"]) == "ready" for n in running)
        return False

    wait_until(
        ready,
        scaled_timeout(timeout),
        f"swarm node {name} (and every other running node) to be Ready",
        node["log"],
        node["pid"],
    )


def docker_restart(name: str, path: str | None = None) -> None:
    """Restart one node's dockerd with the same config and wait until its swarm node is Ready again."""
    docker_stop(name, path)
    docker_start(name, path)


# --------------------------------------------------------------------------- extra docker nodes (tests)
# A sixth dockerd for tests that need a node the stack does not have: one outside any swarm, or one
# joined with a hostname another node already has. It lives under <state dir>/extra/<name>/, so
# `down` stops it with everything else, and is recorded under "extra_nodes" in stack.json.


def _extra_root(sd: str, name: str) -> str:
    return os.path.join(sd, "extra", name)


def _extra_entry(st: dict[str, Any], name: str) -> dict[str, Any]:
    try:
        return st["extra_nodes"][name]
    except KeyError:
        raise StackError(f"no extra docker node named {name!r}") from None


def extra_node_start(name: str, hostname: str, addr: str, path: str | None = None) -> dict[str, Any]:
    """Start a dockerd outside the swarm, known as `name`, whose Docker hostname is `hostname` and whose
    swarm address (once joined) is `addr`:2377; wait until it answers; return its entry (docker_host...)."""
    sd = state_dir(path)
    st = load(sd)
    if name in st.get("extra_nodes", {}):
        raise StackError(f"an extra docker node named {name!r} is already up")
    # docker_launch names the UTS namespace after the node's folder: a folder called `hostname`
    # under a root of its own gives a second node that hostname without touching the first.
    node = {**docker_node_launch(_extra_root(sd, name), hostname, "", addr), "node_id": ""}
    st.setdefault("extra_nodes", {})[name] = node
    write_state(sd, st)
    _docker_wait_ping(node)
    return node


def extra_node_join(name: str, role: str = "worker", path: str | None = None, timeout: float = 90.0) -> str:
    """Join extra node `name` to the stack's swarm as `role` through manager-1; wait until manager-1
    lists it Ready; return its swarm node ID."""
    sd = state_dir(path)
    st = load(sd)
    node = _extra_entry(st, name)
    m1 = st["nodes"][0]
    token = run_docker(m1["docker_host"], ("swarm", "join-token", "-q", role)).strip()
    a = node["swarm_addr"]
    run_docker(
        node["docker_host"],
        ("swarm", "join", "--token", token, "--listen-addr", a, "--advertise-addr", a, m1["swarm_addr"]),
        timeout=120,
    )
    node_id = str(docker_get(_sock(node), "/info")["Swarm"]["NodeID"])
    node.update(role=role, node_id=node_id)
    write_state(sd, st)
    wait_until(
        lambda: docker_get(_sock(m1), f"/nodes/{node_id}")["Status"]["State"] == "ready",
        scaled_timeout(timeout),
        f"manager-1 to list the extra node {name} ({node_id}) as Ready",
        node["log"],
        node["pid"],
    )
    return node_id


def extra_node_remove(name: str, path: str | None = None, timeout: float = 90.0) -> None:
    """Take extra node `name` out of the swarm (`docker swarm leave` on it, `docker node rm --force <ID>`
    on manager-1), stop its dockerd, remove its files; wait until manager-1 lists the stack's nodes alone,
    all Ready. A no-op for a name that is not up."""
    sd = state_dir(path)
    st = load(sd)
    node = st.get("extra_nodes", {}).get(name)
    if node is None:
        return
    m1 = st["nodes"][0]
    if node.get("node_id") and pid_alive(node.get("pid")):
        with contextlib.suppress(StackError):  # it may have left already; removing it on manager-1 is what counts
            run_docker(node["docker_host"], ("swarm", "leave", "--force"))
    if node.get("node_id"):
        # By ID: its hostname may be another node's too.
        with contextlib.suppress(StackError):
            run_docker(m1["docker_host"], ("node", "rm", "--force", node["node_id"]))
    root = _extra_root(sd, name)
    stop_pids([p for p in [node.get("pid")] if p], timeout=30)
    leftovers = procs_under(root)
    if leftovers:
        stop_pids(leftovers, timeout=10)
    umount_under(root)
    shutil.rmtree(root, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(root))  # <state dir>/extra, once no extra node is left
    del st["extra_nodes"][name]
    write_state(sd, st)
    names = [n["hostname"] for n in st["nodes"]]
    wait_until(
        lambda: swarm_all_ready(m1, names),
        scaled_timeout(timeout),
        f"manager-1 to list the stack's {len(names)} nodes alone, all Ready",
        m1["log"],
        m1["pid"],
    )


def up_swarm(sd: str, nodes: list[dict[str, Any]], timeout: float) -> None:
    """Make a swarm of the launched dockerds `nodes` (the first inits it, without the ingress network; the others
    join as their role) and wait until all are Ready."""
    for n in nodes:
        _docker_wait_ping(n)
    m1 = nodes[0]
    m1_addr = f"{m1['addr']}:{SWARM_PORT}"
    run_docker(m1["docker_host"], ("swarm", "init", "--listen-addr", m1_addr, "--advertise-addr", m1_addr))
    # All nodes share the host's network namespace: the routing-mesh (ingress) overlay that `swarm init`
    # creates cannot work here (every node fails with "error creating vxlan interface: file exists", and
    # leaves a netns mount). Containers here use `--network host` alone, so remove it before the others join.
    docker_delete(_sock(m1), "/networks/ingress")

    def ingress_gone() -> bool:
        return not any(n.get("Name") == "ingress" for n in docker_get(_sock(m1), "/networks"))

    wait_until(ingress_gone, scaled_timeout(30), "the swarm ingress network to be removed", m1["log"], m1["pid"])
    tokens = {
        role: run_docker(m1["docker_host"], ("swarm", "join-token", "-q", role)).strip()
        for role in ("manager", "worker")
    }
    for n in nodes[1:]:
        a = f"{n['addr']}:{SWARM_PORT}"
        run_docker(
            n["docker_host"],
            ("swarm", "join", "--token", tokens[n["role"]], "--listen-addr", a, "--advertise-addr", a, m1_addr),
            timeout=120,
        )
    names = [n["hostname"] for n in nodes]
    wait_until(
        lambda: swarm_all_ready(m1, names),
        scaled_timeout(timeout),
        f"`docker node ls` on manager-1 to show {len(names)} Ready nodes",
        m1["log"],
        m1["pid"],
    )
