"""The whole stack: up (everything in parallel, idempotent), down, status and the shell environment."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

from .binaries import find_bao, find_consul, find_docker_cli, find_dockerd
from .consul import consul_launch, consul_leader, consul_port, consul_wait
from .openbao import seal_status, up_vault, vault_health_ok, vault_node_launch
from .processes import mounts_under, pid_alive, procs_under, progress, runs_under, stop_pids, umount_under
from .state import StackError, flocked, load, nodes, slot, stack_file, state_dir, write_state
from .swarm import docker_node_launch, swarm_all_ready, up_swarm

#: The bridge swarm mode makes dockerd create in the host's network namespace.
_GWBRIDGE = "docker_gwbridge"


def _healthy(st: dict[str, Any]) -> tuple[bool, str]:
    """Check that everything in `st` is running and ready; return (ok, reason)."""
    try:
        c = st["consul"]
        if not pid_alive(c.get("pid")):
            return False, "consul is not running"
        if not consul_leader(c["http_addr"]):
            return False, "consul has no leader"
        for n in st["nodes"]:
            if not runs_under(n.get("pid"), st["state_dir"]):
                return False, f"dockerd of {n['hostname']} is not running"
        m1 = st["nodes"][0]
        if not swarm_all_ready(m1, [n["hostname"] for n in st["nodes"]]):
            return False, "swarm does not show all nodes ready"
        for v in st["vault"]["nodes"]:
            if not runs_under(v.get("pid"), st["state_dir"]):
                return False, f"vault {v['url']} is not running"
            if seal_status(v["url"])["sealed"]:
                return False, f"vault {v['url']} is sealed"
        if not vault_health_ok(st["vault"]["nodes"]):
            return False, "vault health is not one 200 and the rest 429"
    except Exception as exc:  # noqa: BLE001
        return False, f"{type(exc).__name__}: {exc}"
    return True, "ok"


def _stop_all(sd: str) -> None:
    st: dict[str, Any] | None
    try:
        st = load(sd)
    except (StackError, ValueError):
        st = None
    pids: list[int] = []
    if st:
        # A recorded dockerd's or OpenBao's pid counts only while it still names this state dir (pids are reused).
        pids += [n.get("pid") for n in st.get("nodes", []) if runs_under(n.get("pid"), sd)]
        pids += [v.get("pid") for v in st.get("vault", {}).get("nodes", []) if runs_under(v.get("pid"), sd)]
        if st.get("consul", {}).get("pid"):
            pids.append(st["consul"]["pid"])
    # Also catch daemons whose pid was not (yet) recorded: everything whose command line names the state dir
    # (dockerd's own containerd last: dockerd stops it itself).
    if os.path.isdir(sd):
        pids += procs_under(sd, helpers=False)
    pids = sorted(set(p for p in pids if p))
    still = stop_pids(pids, timeout=30)
    # dockerd's managed containerd may outlive a SIGKILLed dockerd.
    if os.path.isdir(sd):
        rest = procs_under(sd)
        if rest:
            still += stop_pids(rest, timeout=10)
    if still:
        raise StackError(f"could not stop processes: {still}")
    umount_under(sd)
    if not (st and st.get("gwbridge_preexisting")):
        _remove_unused_gwbridge()


def _other_dockerd_running() -> bool:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() == "dockerd" and pid_alive(int(entry)):
                    return True
        except OSError:
            continue
    return False


def _remove_unused_gwbridge() -> None:
    """Delete the docker_gwbridge that swarm mode made in the host netns, if no dockerd and no port uses it."""
    base = f"/sys/class/net/{_GWBRIDGE}"
    if not os.path.exists(base):
        return
    try:
        attached = os.listdir(os.path.join(base, "brif"))
    except OSError:
        attached = []
    if attached or _other_dockerd_running():
        return
    r = subprocess.run(["ip", "link", "delete", _GWBRIDGE], capture_output=True, text=True)
    if r.returncode != 0:
        progress(f"could not delete {_GWBRIDGE}: {r.stderr.strip()}")


@contextlib.contextmanager
def _locked(sd: str) -> Iterator[None]:
    """Serialise up/down across processes with a lock file beside the state dir."""
    lock_path = sd.rstrip("/") + ".lock"
    os.makedirs(os.path.dirname(lock_path) or "/", exist_ok=True)
    with flocked(lock_path):
        yield


def _remove_state(sd: str) -> None:
    if not os.path.isdir(sd):
        return
    for name in ("consul", "consul3", "docker", "vault"):
        p = os.path.join(sd, name)
        if os.path.isdir(p):
            shutil.rmtree(p)
    for name in ("stack.json", "stack.json.tmp", "consul3.lock"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(sd, name))
    left = mounts_under(sd)
    if left:
        raise StackError(f"still mounted under {sd}: {left}")
    with contextlib.suppress(OSError):
        os.rmdir(sd)  # only if nothing foreign is left in it


def down(path: str | None = None) -> None:
    """Stop everything started under the state dir, unmount leftovers and remove the dirs (safe when not up)."""
    sd = state_dir(path)
    with _locked(sd):
        _stop_all(sd)
        _remove_state(sd)


def up(path: str | None = None) -> dict[str, Any]:
    """Start the whole stack (idempotent: returns the existing one if up and healthy); return stack.json's content."""
    sd = state_dir(path)
    with _locked(sd):
        if os.path.exists(stack_file(sd)):
            try:
                st = load(sd)
                ok, why = _healthy(st)
            except (StackError, ValueError, KeyError) as exc:
                ok, why = False, str(exc)
            if ok:
                return st
            progress(f"existing stack in {sd} is not healthy ({why}); recreating it")
        _stop_all(sd)
        _remove_state(sd)
        os.makedirs(sd, exist_ok=True)
        started = time.monotonic()
        st = {
            "state_dir": sd,
            "slot": slot(),
            "consul": {},
            "nodes": [],
            "vault": {"nodes": []},
            # swarm mode makes dockerd create the docker_gwbridge bridge in the host netns: remember
            # whether it was there before, so that `down` leaves one it did not make.
            "gwbridge_preexisting": os.path.exists(f"/sys/class/net/{_GWBRIDGE}"),
        }
        try:
            # Launch every daemon first, then wait: they start in parallel.
            st["consul"] = consul_launch(sd, consul_port())
            layout = nodes()
            st["nodes"] = [docker_node_launch(sd, name, role, addr) for name, role, addr in layout]
            st["vault"]["nodes"] = [
                vault_node_launch(sd, i) for i, (_, role, _) in enumerate(layout) if role == "manager"
            ]
            write_state(sd, st)

            consul_wait(st["consul"])
            progress(f"consul ready after {time.monotonic() - started:.1f}s")
            # Vault and the swarm come up independently: do them in parallel.
            result: dict[str, Any] = {}

            def vault_thread() -> None:
                try:
                    result["keys"] = up_vault(st["vault"]["nodes"], 90.0)
                    progress(f"openbao cluster unsealed, 3 raft voters after {time.monotonic() - started:.1f}s")
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                    result["error"] = exc

            th = threading.Thread(target=vault_thread, name="stack-vault-up", daemon=True)
            th.start()
            try:
                up_swarm(sd, st["nodes"], 120.0)
                progress(f"swarm of {len(st['nodes'])} nodes ready after {time.monotonic() - started:.1f}s")
            finally:
                th.join()
            if "error" in result:
                raise result["error"]
            st["vault"].update(result["keys"])
            st["up_seconds"] = round(time.monotonic() - started, 1)
            st["binaries"] = {
                "consul": find_consul(),
                "bao": find_bao(),
                "dockerd": find_dockerd(),
                "docker_cli": find_docker_cli(),
            }
            write_state(sd, st)
        except BaseException:
            progress(f"up failed; logs are in {sd} (run `python -m teststack down` to clean up)")
            raise
        return st


def status(path: str | None = None) -> tuple[bool, str]:
    """Return (healthy, one-line reason) for the stack in the state dir."""
    sd = state_dir(path)
    if not os.path.exists(stack_file(sd)):
        return False, f"not up ({stack_file(sd)} missing)"
    return _healthy(load(sd))


def env_lines(path: str | None = None) -> list[str]:
    """Shell `export` lines for the stack: CONSUL_HTTP_ADDR, DOCKER_HOST (manager-1), VAULT_ADDR (node 1)."""
    st = load(path)
    return [
        f"export CONSUL_HTTP_ADDR={st['consul']['http_addr']}",
        f"export DOCKER_HOST={st['nodes'][0]['docker_host']}",
        f"export VAULT_ADDR={st['vault']['nodes'][0]['url']}",
    ]
