"""A server a test runs as a process of its own (Consul, Prometheus, OpenBao): wait until it answers, stop it."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class ServerProcess:
    """What Consul, Prometheus and OpenBao started by tests share; subclasses set `process` and `log`."""

    name = "the server"
    process: subprocess.Popen[bytes]
    log: Path

    def wait_until_answering(self, probe: Callable[[], object], timeout: float = 30.0) -> None:
        """Call `probe` until it raises no OSError (requests' and urllib's errors are OSErrors); fail with the
        end of the server's log when the process exits or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                probe()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"{self.name} did not start: {self.log.read_text()[-3000:]}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
