"""The stack's Consul: one dev agent on 127.0.0.1."""

from __future__ import annotations

import os
from typing import Any

from .common import (
    _find_consul,
    _http,
    _pid_alive,
    _spawn,
    _stop_pids,
    _timeout,
    _wait_until,
    _write_state,
    load,
    state_dir,
)

# --------------------------------------------------------------------------- consul


def _consul_argv(sd: str, port: int) -> list[str]:
    return [
        _find_consul(),
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
        "-data-dir",
        os.path.join(sd, "consul", "data"),
        "-log-level",
        "info",
    ]


def _consul_leader(http_addr: str) -> str:
    status, body = _http("GET", f"http://{http_addr}/v1/status/leader", timeout=2)
    return body if status == 200 and isinstance(body, str) and body else ""


def _consul_launch(sd: str, port: int) -> dict[str, Any]:
    os.makedirs(os.path.join(sd, "consul", "data"), exist_ok=True)
    log = os.path.join(sd, "consul", "consul.log")
    pid = _spawn(_consul_argv(sd, port), log)
    return {"http_addr": f"127.0.0.1:{port}", "pid": pid, "log": log}


def _consul_wait(c: dict[str, Any], timeout: float = 30.0) -> None:
    _wait_until(
        lambda: _consul_leader(c["http_addr"]),
        _timeout(timeout),
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
        _stop_pids([pid])
    st["consul"]["pid"] = None
    _write_state(sd, st)


def consul_start(path: str | None = None) -> None:
    """Start the Consul dev agent again on the same port (its data is gone) and wait for a leader.

    A no-op apart from the wait if it is already running.
    """
    sd = state_dir(path)
    st = load(sd)
    c = st["consul"]
    if not (c.get("pid") and _pid_alive(c["pid"])):  # already running: only wait for it
        port = int(c["http_addr"].rsplit(":", 1)[1])
        c.update(_consul_launch(sd, port))
        _write_state(sd, st)
    _consul_wait(c)


def consul_restart(path: str | None = None) -> None:
    """Restart the Consul dev agent (data is lost, as with any dev agent) and wait for a leader."""
    consul_stop(path)
    consul_start(path)
