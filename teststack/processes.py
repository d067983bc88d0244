"""The stack's daemons as processes: start one detached, wait until it is ready, stop it, clean up after it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from .state import StackError

T = TypeVar("T")


def progress(msg: str) -> None:
    """Say `msg` on stderr as "stack: msg" (silent when $NEON_CM_STACK_QUIET is 1)."""
    if os.environ.get("NEON_CM_STACK_QUIET") != "1":
        print(f"stack: {msg}", file=sys.stderr, flush=True)


def scaled_timeout(default: float) -> float:
    """`default` seconds times $NEON_CM_TIMEOUT_SCALE (1 when unset), for slower machines."""
    scale = float(os.environ.get("NEON_CM_TIMEOUT_SCALE", "1"))
    return default * scale


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


def failure(what: str, log: str | None, detail: str = "") -> StackError:
    """A StackError saying `what` (and `detail`), with the last lines of the daemon's `log` when there is one."""
    msg = what + (f": {detail}" if detail else "")
    if log:
        msg += f"\n--- last lines of {log} ---\n{_tail(log)}"
    return StackError(msg)


def pid_alive(pid: int | None) -> bool:
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


def runs_under(pid: int | None, sd: str) -> bool:
    """True if `pid` is a running process whose command line names the folder `sd` (a daemon this tool started
    there). A recorded pid alone is no proof: once its daemon died, the number can belong to another slot's daemon,
    which stopping this slot would then kill (one run lost slot 3's manager-1 dockerd to slot 2's restart)."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read()
    except OSError:
        return False
    return sd.rstrip("/").encode() + b"/" in args


def wait_until(
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
        if pid is not None and not pid_alive(pid):
            raise failure(
                f"timed out waiting for {what}: process {pid} exited",
                log,
                f"last error: {last_exc}" if last_exc else "",
            )
        if time.monotonic() >= deadline:
            raise failure(
                f"timed out after {timeout:.0f}s waiting for {what}", log, f"last error: {last_exc}" if last_exc else ""
            )
        time.sleep(interval)


def spawn(argv: list[str], log: str, env: dict[str, str] | None = None, cwd: str | None = None) -> int:
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
        raise failure(f"could not start {argv[0]} (exit {r.returncode})", log) from None


def stop_pids(pids: list[int], timeout: float = 20.0) -> list[int]:
    """SIGTERM the live pids, wait up to `timeout`, SIGKILL survivors; return pids that still live."""
    live = [p for p in pids if pid_alive(p)]
    for p in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while live and time.monotonic() < deadline:
        live = [p for p in live if pid_alive(p)]
        if live:
            time.sleep(0.1)
    for p in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while live and time.monotonic() < deadline:
        live = [p for p in live if pid_alive(p)]
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


def procs_under(sd: str, helpers: bool | None = None) -> list[int]:
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


def mounts_under(sd: str) -> list[str]:
    """Mount points at or under `sd`, deepest first (the order to unmount them in)."""
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


def umount_under(sd: str) -> None:
    """Unmount what dockerd left mounted under `sd` (lazily when a plain umount fails), up to three rounds."""
    for _ in range(3):
        mounts = mounts_under(sd)
        if not mounts:
            return
        for mp in mounts:
            r = subprocess.run(["umount", mp], capture_output=True, text=True)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", mp], capture_output=True, text=True)
