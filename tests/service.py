"""Running the real service as a subprocess and reading its log stream, for integration tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_LINE = re.compile(
    r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00\] \[(FATAL|ERROR|WARN|INFO|DEBUG)\] \[module:[^\]]+\] .*$"
)


def readme_seconds(pattern: str) -> float:
    """A time bound the documentation states (`exits 0 within 5 s`), found by `pattern` (the number its group) in
    README.md or docs/*.md with whitespace folded; tests assert it with a margin, so the documented figure and the
    test cannot drift apart."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    text = re.sub(r"\s+", " ", " ".join(page.read_text(encoding="utf-8") for page in pages))
    found = re.search(pattern, text)
    assert found is not None, f"neither README nor docs/ says {pattern!r} any more"
    return float(found.group(1))


#: Log lines shown when a service does not exit after a stop signal.
HUNG_LOG_LINES = 80

#: The services of this test process not stopped yet (by `stop`, or seen exited by `stop_all`).
RUNNING: list[Service] = []


def stop_all(keep: Collection[Service] = ()) -> list[Service]:
    """Stop (SIGTERM) every service of this process still running but those in `keep` (a module's own, started
    before), the stuck ones as `Service.stop` does; the ones it stopped. For a fixture that must not work beside a
    service: the vault fixture's unseal, which a service with wrong shares still polling would spoil (its share and
    the fixture's combined are refused)."""
    stopped = []
    hung = []
    for service in [service for service in RUNNING if service not in keep]:
        if service.process.poll() is None:
            stopped.append(service)
        try:
            service.stop()
        except AssertionError as error:
            hung.append(str(error))
    assert not hung, "\n\n".join(hung)
    return stopped


class Service:
    """One neon-cluster-manager process; its stdout and stderr are collected line by line."""

    def __init__(self, env: Mapping[str, str], argv: Sequence[str] = ()) -> None:
        """Start `argv` (default: this Python running neon_cm_main.py) from the repository's root, with the
        environment `env` over this process's own."""
        self.process = subprocess.Popen(
            # -X faulthandler: a service that does not stop is sent SIGABRT by `stop`, which then prints every
            # thread's stack on stderr (file, line and function only: no value, so no secret).
            list(argv) or [sys.executable, "-X", "faulthandler", str(ROOT / "neon_cm_main.py")],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.killed = False
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.changed = threading.Condition()
        RUNNING.append(self)
        self.readers = [
            threading.Thread(target=self.collect, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self.collect, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def collect(self, stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.changed:
                into.append(line.rstrip("\n"))
                self.changed.notify_all()

    def lines(self, pattern: str = "", after: int = 0) -> list[str]:
        """Log lines so far (from index `after` on) that match `pattern` (a regex searched anywhere in the line)."""
        with self.changed:
            return [line for line in self.stdout[after:] if re.search(pattern, line)]

    def wait_for(
        self, pattern: str, count: int = 1, timeout: float = 30.0, after: int = 0, stream: str = "stdout"
    ) -> list[str]:
        """Wait until `count` lines of `stream` (stdout, the log, or stderr) from index `after` on match `pattern`;
        fail with the log if they don't."""
        deadline = time.monotonic() + timeout
        lines = self.stdout if stream == "stdout" else self.stderr
        with self.changed:
            while True:
                found = [line for line in lines[after:] if re.search(pattern, line)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self.changed.wait(0.2)):
                    raise AssertionError(
                        f"no {count} line(s) matching {pattern!r} within {timeout}s; log:\n"
                        + "\n".join(self.stdout)
                        + "\nstderr:\n"
                        + "\n".join(self.stderr)
                    )
                self.changed.wait(min(remaining, 0.5))

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would; the exit code is then no test's business."""
        self.killed = True
        self.process.send_signal(signal.SIGKILL)

    def mark(self) -> int:
        """The current end of the log, to wait for lines written after it."""
        with self.changed:
            return len(self.stdout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, float]:
        """Send `sig` and wait for the exit; return (exit code, seconds it took)."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(self.hung(sig, timeout)) from None
        elapsed = time.monotonic() - started
        self.close()
        return code, elapsed

    def hung(self, sig: int, timeout: float) -> str:
        """The process did not exit within `timeout` of `sig`: make it say where it is stuck (SIGABRT: the
        faulthandler's stack of every thread on stderr; SIGKILL if even that does not end it), and return the
        failure's text: what happened, the log's tail and stderr."""
        self.killed = True
        self.process.send_signal(signal.SIGABRT)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.close()
        with self.changed:
            tail, stderr = self.stdout[-HUNG_LOG_LINES:], list(self.stderr)
        return (
            f"the service (pid {self.process.pid}) did not exit within {timeout:g} s of "
            f"{signal.Signals(sig).name}; SIGABRT then ended it ({self.process.returncode}).\n"
            f"last {len(tail)} log lines:\n" + "\n".join(tail) + "\nstderr (the threads' stacks):\n" + "\n".join(stderr)
        )

    def close(self) -> None:
        """Read the streams to their end, then close them (the process has exited)."""
        if self in RUNNING:
            RUNNING.remove(self)
        for reader in self.readers:
            reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
