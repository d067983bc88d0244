"""SimService: one instance of the real service on the simulator's runtime (sim/runtime.py): neon_cm_main's tree and
shutdown (`serve`) run by a main thread of its own, as one owner of the runtime, with its log kept in memory.

Started, it loads its configuration from the environment it is given (the metrics port off, the health file in a
directory of the caller's), starts its Logger and the service's supervision tree, and serves until it is told
SIGTERM (`terminate`); `pause` and `kill` are SIGSTOP and SIGKILL. The servers it talks to are whatever its
environment names: the simulated ones once the transports reach them (sim/transport.py).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from actors.logger import Log, LogSink
from actors.runtime import Event, Thread
from gateways.files import path_kind, read_text
from messages.log import LogEntry
from neon_cm.config import load_config
from neon_cm.logformat import FORMATTERS
from neon_cm_main import serve
from sim.runtime import SimRuntime


class RecordingSink(LogSink):
    """A LogSink that also keeps every entry told to it (those the LOG_LEVEL lets through), in order."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]  # LogSink's own arguments, passed on
        self.entries: list[LogEntry] = []

    def tell(self, log_entry: LogEntry) -> None:
        self.entries.append(log_entry)
        super().tell(log_entry)


class SimService:
    """One instance (one simulated process, owner `name` of the runtime) of the real service."""

    def __init__(self, sim: SimRuntime, name: str, env: Mapping[str, str], health_dir: str | Path) -> None:
        self.sim = sim
        self.name = name
        self.env = {"NEON_CM_HEALTH_FILE": str(Path(health_dir) / f"{name}.health"), **env}
        self.env.pop("METRICS_PORT", None)  # no socket of the machine's in a simulation
        self.stream = io.StringIO()
        """The log stream, as the Logger writes it (LOG_FORMAT's lines)."""
        self.sink: RecordingSink | None = None
        self.stop_requested: Event | None = None
        self.main: Thread | None = None
        self.exit_code: int | None = None
        """0 once it stopped cleanly, 1 if its configuration was fatal; None while it runs (or once killed)."""
        self.started_at: float | None = None
        """When its container last started (virtual time): Docker's health check counts from it."""

    def start(self) -> None:
        """Start the process (again, after a kill or an exit): its main thread serves until `terminate`."""
        self.stream = io.StringIO()
        self.exit_code = None
        self.started_at = self.sim.now()
        with self.sim.owned_by(self.name):
            self.stop_requested = self.sim.event()
            self.main = self.sim.start_thread("main", self._process)

    def _process(self) -> None:
        """The process: its main thread, then its exit, which ends every other thread of it. (A killed process's
        main thread never runs again: it is unwound only when the runtime closes, and exits nothing then.)"""
        try:
            self._main()
        finally:
            if not self.sim.closing:
                self.sim.exit(self.name)

    def _main(self) -> None:
        """neon_cm_main.main without the process's own set-up (signals, the logging bridge)."""
        assert self.stop_requested is not None
        config = load_config(self.env, read_text, path_kind)
        self.sink = sink = RecordingSink(config.level, config.secrets, FORMATTERS[config.log_format], self.stream)
        sink.start()
        log = Log("main", sink)
        if config.fatal or config.consul is None:
            log.fatal(config.fatal or "no Consul address")
            sink.stop()
            self.exit_code = 1
            return
        serve(config, config.consul, log, self.stop_requested)
        log.info("stopped")
        sink.stop()
        self.exit_code = 0

    def terminate(self) -> None:
        """SIGTERM: the service stops (within its shutdown budget) and exits."""
        if self.stop_requested is not None:
            self.stop_requested.set()

    def pause(self, seconds: float) -> None:
        """SIGSTOP, then SIGCONT `seconds` later."""
        self.sim.pause(self.name, seconds)

    def kill(self) -> None:
        """SIGKILL: nothing of the process runs again (its lock session lapses as Consul decides)."""
        self.sim.crash(self.name)
        self.main = None

    @property
    def running(self) -> bool:
        return self.main is not None and self.main.is_alive()

    @property
    def lines(self) -> list[str]:
        """The log stream's lines so far."""
        return self.stream.getvalue().splitlines()

    @property
    def entries(self) -> list[LogEntry]:
        """Every log entry so far (of this start)."""
        return [] if self.sink is None else list(self.sink.entries)
