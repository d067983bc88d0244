"""The stack's OpenBao: a 3-node raft cluster, one node per Swarm manager, initialised and unsealed."""

from __future__ import annotations

import os
from typing import Any

from .binaries import find_bao
from .http import json_request
from .processes import failure, pid_alive, progress, scaled_timeout, spawn, stop_pids, wait_until
from .state import (
    VAULT_CLUSTER_PORT,
    VAULT_PORT,
    VAULT_SHARES,
    VAULT_THRESHOLD,
    StackError,
    load,
    nodes,
    state_dir,
    write_state,
)


def vault_dir(sd: str, i: int) -> str:
    """The folder of vault node i (0-based) under state dir `sd`: its config, raft data and log."""
    return os.path.join(sd, "vault", nodes()[i][0])


def _vault_config(sd: str, i: int, tls: tuple[str, str] | None = None) -> str:
    layout = nodes()
    name, _role, addr = layout[i]
    first = layout[0][2]
    d = vault_dir(sd, i)
    retry = "" if i == 0 else (f'  retry_join {{\n    leader_api_addr = "http://{first}:{VAULT_PORT}"\n  }}\n')
    return (
        # No disable_mlock: OpenBao 2.x dropped mlock and warns "unknown or unsupported field disable_mlock".
        "ui = false\n"
        'log_level = "info"\n'
        f'api_addr = "{"https" if tls else "http"}://{addr}:{VAULT_PORT}"\n'
        f'cluster_addr = "http://{addr}:{VAULT_CLUSTER_PORT}"\n'
        'storage "raft" {\n'
        f'  path = "{d}/raft"\n'
        f'  node_id = "{name}"\n'
        # Raft timing multiplier 1 (production-tight) instead of the default 5: elections in ~1 s.
        "  performance_multiplier = 1\n"
        f"{retry}"
        "}\n"
        'listener "tcp" {\n'
        f'  address = "{addr}:{VAULT_PORT}"\n'
        f'  cluster_address = "{addr}:{VAULT_CLUSTER_PORT}"\n'
        + (f'  tls_cert_file = "{tls[0]}"\n  tls_key_file = "{tls[1]}"\n' if tls else "  tls_disable = true\n")
        + "}\n"
    )


def vault_launch(sd: str, i: int, tls: tuple[str, str] | None = None) -> int:
    """Write node i's config (HTTPS with `tls` = (certificate, key)) and start it without waiting; return its pid."""
    d = vault_dir(sd, i)
    os.makedirs(os.path.join(d, "raft"), exist_ok=True)
    cfg = os.path.join(d, "config.hcl")
    with open(cfg, "w") as fh:
        fh.write(_vault_config(sd, i, tls))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = d
    return spawn([find_bao(), "server", f"-config={cfg}"], os.path.join(d, "bao.log"), env=env, cwd=d)


def vault_node_launch(sd: str, i: int) -> dict[str, Any]:
    """Start vault node i (0-based: manager i+1) under `sd` without waiting; return its stack.json entry."""
    name, _role, addr = nodes()[i]
    d = vault_dir(sd, i)
    return {
        "hostname": name,
        "addr": addr,
        "url": f"http://{addr}:{VAULT_PORT}",
        "pid": vault_launch(sd, i),
        "cluster_addr": f"http://{addr}:{VAULT_CLUSTER_PORT}",
        "config": os.path.join(d, "config.hcl"),
        "log": os.path.join(d, "bao.log"),
    }


def seal_status(url: str) -> dict[str, Any]:
    """GET /v1/sys/seal-status of the OpenBao at `url` (raise unless it answers 200 with JSON)."""
    status, body = json_request("GET", f"{url}/v1/sys/seal-status", timeout=3)
    if status != 200 or not isinstance(body, dict):
        raise RuntimeError(f"GET {url}/v1/sys/seal-status -> {status}: {body}")
    return body


def _health_code(url: str) -> int:
    status, _ = json_request("GET", f"{url}/v1/sys/health", timeout=3)
    return status


def _vault_node(st: dict[str, Any], i: int) -> dict[str, Any]:
    nodes = st["vault"]["nodes"]
    if not 0 <= i < len(nodes):
        raise StackError(f"vault node index {i} out of range 0..{len(nodes) - 1}")
    return nodes[i]


def vault_seal_status(i: int, path: str | None = None) -> dict[str, Any]:
    """Return GET /v1/sys/seal-status of vault node i (0-based)."""
    return seal_status(_vault_node(load(path), i)["url"])


def vault_stop(i: int, path: str | None = None) -> None:
    """Stop vault node i (0-based): SIGTERM, wait, SIGKILL after a timeout."""
    sd = state_dir(path)
    st = load(sd)
    v = _vault_node(st, i)
    if v.get("pid"):
        stop_pids([v["pid"]])
    v["pid"] = None
    write_state(sd, st)


def vault_start(i: int, path: str | None = None, timeout: float = 60.0, tls: tuple[str, str] | None = None) -> None:
    """Start vault node i again; it comes back sealed. Waits until seal-status answers.

    `tls` = (certificate file, key file) serves its API over HTTPS (its url in stack.json
    becomes https://); without it, plain HTTP. A no-op apart from the wait if it is already running.
    """
    sd = state_dir(path)
    st = load(sd)
    v = _vault_node(st, i)
    if not (v.get("pid") and pid_alive(v["pid"])):  # already running: only wait for it
        v["pid"] = vault_launch(sd, i, tls)
        v["url"] = f"{'https' if tls else 'http'}://{v['addr']}:{VAULT_PORT}"
        write_state(sd, st)
    wait_until(
        lambda: seal_status(v["url"]),
        scaled_timeout(timeout),
        f"vault node {i} at {v['url']} to answer seal-status",
        v["log"],
        v["pid"],
    )


def vault_restart(i: int, path: str | None = None, tls: tuple[str, str] | None = None) -> None:
    """Restart vault node i (0-based), over HTTPS when `tls` is given; it comes back sealed."""
    vault_stop(i, path)
    vault_start(i, path, tls=tls)


#: How many unseal attempts `_unseal` makes when Vault refuses the combined shares.
UNSEAL_ATTEMPTS = 2
#: What Vault answers when the threshold's shares do not combine into its key (a wrong share among them).
REFUSED = "message authentication failed"


def _submit_shares(v: dict[str, Any], keys: list[str]) -> dict[str, Any] | None:
    """PUT /v1/sys/unseal with each key until the node is unsealed or the threshold is reached: the last answer, or
    None when Vault refused the combination (REFUSED: a share not ours was in the attempt); any other refusal
    raises."""
    url = v["url"]
    body: dict[str, Any] = {}
    for key in keys:
        status, answer = json_request("PUT", f"{url}/v1/sys/unseal", {"key": key}, timeout=30)
        if status != 200 or not isinstance(answer, dict):
            errs = answer.get("errors") if isinstance(answer, dict) else answer
            if status == 400 and REFUSED in str(errs):
                return None
            raise failure(f"unseal of {url} rejected a share (HTTP {status})", v.get("log"), str(errs))
        body = answer
        if not body["sealed"] or body["progress"] == 0:
            # Unsealed, or the threshold reached: a raft follower finishes unsealing in the background.
            break
    return body


def _unseal(v: dict[str, Any], keys: list[str], timeout: float) -> dict[str, Any]:
    url = v["url"]
    st = wait_until(
        lambda: seal_status(url), scaled_timeout(timeout), f"seal-status of {url}", v.get("log"), v.get("pid")
    )
    if not st["sealed"]:
        return st
    if not st["initialized"]:
        # A raft follower that has not yet fetched the join challenge from the leader.
        st = wait_until(
            lambda: (lambda s: s if s["initialized"] else None)(seal_status(url)),
            scaled_timeout(timeout),
            f"{url} to see the initialised cluster (raft retry_join)",
            v.get("log"),
            v.get("pid"),
        )
    if st.get("progress"):
        # Someone's attempt is half done (a test's wrong share, a service stopped mid-attempt): our keys would be
        # combined with theirs and refused, so start a new attempt.
        json_request("PUT", f"{url}/v1/sys/unseal", {"reset": True}, timeout=30)
    body = None
    for attempt in range(1, UNSEAL_ATTEMPTS + 1):
        body = _submit_shares(v, keys)
        if body is not None:
            break
        # Refused: someone else's share (a client still sending wrong ones into the node restarted under it) was
        # combined with ours. Reset that attempt and make a new one, then give up.
        if attempt == UNSEAL_ATTEMPTS:
            raise failure(f"unseal of {url} refused {UNSEAL_ATTEMPTS} times: {REFUSED}", v.get("log"))
        progress(f"unseal of {url} refused ({REFUSED}: another client's share was in the attempt); trying again")
        json_request("PUT", f"{url}/v1/sys/unseal", {"reset": True}, timeout=30)
    if body is not None and not body["sealed"]:
        return body

    def unsealed() -> dict[str, Any] | None:
        s = seal_status(url)
        return s if not s["sealed"] else None

    return wait_until(
        unsealed,
        scaled_timeout(timeout),
        f"{url} to report sealed:false after the threshold",
        v.get("log"),
        v.get("pid"),
        interval=0.3,
    )


def vault_unseal(i: int, path: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """Submit unseal shares to vault node i until it reports sealed:false; return its seal-status."""
    st = load(path)
    v = _vault_node(st, i)
    if not pid_alive(v.get("pid")):
        raise StackError(f"vault node {i} ({v['url']}) is not running: call vault_start({i}) first")
    return _unseal(v, st["vault"]["keys_hex"], timeout)


def _vault_init(v: dict[str, Any], timeout: float) -> dict[str, Any]:
    url = v["url"]
    wait_until(lambda: seal_status(url), scaled_timeout(timeout), f"{url} to answer seal-status", v["log"], v["pid"])
    status, body = json_request(
        "PUT", f"{url}/v1/sys/init", {"secret_shares": VAULT_SHARES, "secret_threshold": VAULT_THRESHOLD}, timeout=60
    )
    if status != 200 or not isinstance(body, dict) or "root_token" not in body:
        raise failure(f"PUT {url}/v1/sys/init failed (HTTP {status})", v["log"], str(body))
    return body


def vault_health_ok(nodes: list[dict[str, Any]]) -> bool:
    """True when /v1/sys/health of `nodes` answers 200 on one (the active node) and 429 (standby) on the rest."""
    codes = sorted(_health_code(v["url"]) for v in nodes)
    return codes == [200] + [429] * (len(nodes) - 1)


def _raft_all_voters(url: str, token: str, count: int) -> bool:
    """True when raft autopilot on the active node `url` is healthy with `count` voters (failure tolerance >= 1)."""
    status, body = json_request("GET", f"{url}/v1/sys/storage/raft/autopilot/state", token=token, timeout=3)
    if status != 200 or not isinstance(body, dict):
        return False
    data = body.get("data") or {}
    servers = data.get("servers") or {}
    return (
        bool(data.get("healthy"))
        and len(servers) == count
        and all(sv.get("status") in ("leader", "voter") for sv in servers.values())
    )


def up_vault(vnodes: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    """Initialise the launched cluster `vnodes` on its first node, unseal every node and wait for 3 raft voters;
    return what stack.json keeps of it: the unseal keys (base64 and hex), threshold, shares and root token."""
    init = _vault_init(vnodes[0], timeout)
    keys_hex = init["keys"]
    _unseal(vnodes[0], keys_hex, timeout)
    first = vnodes[0]
    wait_until(
        lambda: _health_code(first["url"]) == 200,
        scaled_timeout(timeout),
        f"{first['url']} to become active (health 200)",
        first["log"],
        first["pid"],
    )
    # Autopilot promotes a joined non-voter after server_stabilization_time (default 10 s): shorten it.
    status, body = json_request(
        "POST",
        f"{first['url']}/v1/sys/storage/raft/autopilot/configuration",
        {"server_stabilization_time": "2s"},
        token=init["root_token"],
    )
    if status >= 300:
        progress(f"could not shorten raft autopilot server_stabilization_time (HTTP {status}): {body}")
    for v in vnodes[1:]:
        _unseal(v, keys_hex, timeout)
    wait_until(
        lambda: vault_health_ok(vnodes),
        scaled_timeout(timeout),
        "vault health to be 200 on one node and 429 on the others",
        vnodes[-1]["log"],
    )
    # Joined followers start as raft non-voters; autopilot promotes them after ~10 s. Until then losing
    # the leader would lose the cluster, so wait for 3 voters before handing the stack to tests.
    active = next(v for v in vnodes if _health_code(v["url"]) == 200)
    wait_until(
        lambda: _raft_all_voters(active["url"], init["root_token"], len(vnodes)),
        scaled_timeout(timeout),
        "raft autopilot to report all vault nodes as healthy voters",
        active["log"],
        interval=0.5,
    )
    return {
        "keys_base64": init["keys_base64"],
        "keys_hex": init["keys"],
        "threshold": VAULT_THRESHOLD,
        "shares": VAULT_SHARES,
        "root_token": init["root_token"],
    }
