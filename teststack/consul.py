"""The stack's Consul: one dev agent on 127.0.0.1, on ports of its slot's own (8500, 8300-8302 for slot 0; four
consecutive ports from 12000 + 4 x N for slot N > 0)."""

from __future__ import annotations

import os
from typing import Any

from .binaries import find_consul
from .http import json_request
from .processes import pid_alive, scaled_timeout, spawn, stop_pids, wait_until
from .state import load, slot, state_dir, write_state

#: How far apart the ports of two slots' agents are.
#: Slot N > 0 binds HTTP, server, serf LAN and serf WAN on _SLOT_BASE + 4 x N and the three ports after it: one
#: block per slot, so no slot's HTTP port is another's server port (with Consul's own 8500/8300 spacing, slots 20
#: apart collided).
_SLOT_BASE = 12000
_SLOT_STRIDE = 4


def consul_port() -> int:
    """The port of Consul's HTTP API: $NEON_CM_CONSUL_PORT, else 8500 for slot 0 and 12000 + 4 x slot for others."""
    default = 8500 if slot() == 0 else _SLOT_BASE + _SLOT_STRIDE * slot()
    return int(os.environ.get("NEON_CM_CONSUL_PORT") or default)


def consul_ports() -> dict[str, int]:
    """Every port the slot's dev agent binds besides HTTP's (DNS and gRPC are off): two slots' agents never collide."""
    if slot() == 0:
        return {"server": 8300, "serf-lan": 8301, "serf-wan": 8302}
    block = _SLOT_BASE + _SLOT_STRIDE * slot()
    return {"server": block + 1, "serf-lan": block + 2, "serf-wan": block + 3}


def _consul_argv(sd: str, port: int) -> list[str]:
    ports = consul_ports()
    return [
        find_consul(),
        "agent",
        "-dev",
        "-bind",
        "127.0.0.1",
        "-client",
        "127.0.0.1",
        "-http-port",
        str(port),
        "-dns-port",
        "-1",
        "-grpc-port",
        "-1",
        "-server-port",
        str(ports["server"]),
        "-serf-lan-port",
        str(ports["serf-lan"]),
        "-serf-wan-port",
        str(ports["serf-wan"]),
        "-data-dir",
        os.path.join(sd, "consul", "data"),
        "-log-level",
        "info",
    ]


def consul_leader(http_addr: str) -> str:
    """The address of the leader of the Consul at `http_addr`, or "" while it has none."""
    status, body = json_request("GET", f"http://{http_addr}/v1/status/leader", timeout=2)
    return body if status == 200 and isinstance(body, str) and body else ""


def consul_launch(sd: str, port: int) -> dict[str, Any]:
    """Start the dev agent under state dir `sd` on `port` without waiting; return its stack.json entry."""
    os.makedirs(os.path.join(sd, "consul", "data"), exist_ok=True)
    log = os.path.join(sd, "consul", "consul.log")
    pid = spawn(_consul_argv(sd, port), log)
    return {"http_addr": f"127.0.0.1:{port}", "pid": pid, "log": log}


def consul_wait(c: dict[str, Any], timeout: float = 30.0) -> None:
    """Wait until the agent of stack.json entry `c` has elected a leader."""
    wait_until(
        lambda: consul_leader(c["http_addr"]),
        scaled_timeout(timeout),
        f"consul at {c['http_addr']} to elect a leader",
        c["log"],
        c["pid"],
    )


def consul_stop(path: str | None = None) -> None:
    """Stop the Consul agent (SIGTERM, then SIGKILL after a timeout)."""
    sd = state_dir(path)
    st = load(sd)
    pid = st["consul"].get("pid")
    if pid:
        stop_pids([pid])
    st["consul"]["pid"] = None
    write_state(sd, st)


def consul_start(path: str | None = None) -> None:
    """Start the Consul dev agent again on the same port (its data is gone) and wait for a leader.

    A no-op apart from the wait if it is already running.
    """
    sd = state_dir(path)
    st = load(sd)
    c = st["consul"]
    if not (c.get("pid") and pid_alive(c["pid"])):  # already running: only wait for it
        port = int(c["http_addr"].rsplit(":", 1)[1])
        c.update(consul_launch(sd, port))
        write_state(sd, st)
    consul_wait(c)


def consul_restart(path: str | None = None) -> None:
    """Restart the Consul dev agent (data is lost, as with any dev agent) and wait for a leader."""
    consul_stop(path)
    consul_start(path)
