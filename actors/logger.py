"""Logger: the only writer of the log stream, and the handle every component logs through."""

from __future__ import annotations

import _thread
import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType
from typing import IO, Any

import attrs
import pykka

from actors.runtime import RuntimeActor, runtime, wall
from messages.log import Level, LogEntry
from neon_cm.logformat import Formatter, format_line, redact

PYTHON_LEVELS = {
    logging.CRITICAL: Level.FATAL,
    logging.ERROR: Level.ERROR,
    logging.WARNING: Level.WARN,
    logging.INFO: Level.INFO,
    logging.DEBUG: Level.DEBUG,
}
LOGGING_THRESHOLDS = {
    Level.NONE: logging.CRITICAL + 10,
    Level.FATAL: logging.CRITICAL,
    Level.ERROR: logging.ERROR,
    Level.WARN: logging.WARNING,
    Level.INFO: logging.INFO,
    Level.DEBUG: logging.DEBUG,
}


def write_entry(
    stream: IO[str],
    entry: LogEntry,
    level: Level,
    secrets: frozenset[str] = frozenset(),
    formatter: Formatter = format_line,
) -> None:
    """Write one entry as one line if `level` lets it through, with any secret in it masked."""
    if entry.level <= level:
        stream.write(redact(formatter(entry, level), secrets) + "\n")
        stream.flush()


@attrs.frozen
class LogOutput:
    """How entries become lines: the LOG_LEVEL filter, the secrets masked, the format, and the stream."""

    level: Level
    secrets: frozenset[str] = frozenset()
    formatter: Formatter = format_line
    stream: IO[str] | None = None
    """None: standard output, as it is when the Logger starts."""

    def write(self, stream: IO[str], log_entry: LogEntry) -> None:
        """One entry on `stream`, as write_entry writes it."""
        write_entry(stream, log_entry, self.level, self.secrets, self.formatter)


class Logger(RuntimeActor):
    """Writes every LogEntry it is told, filtered by the LOG_LEVEL, one line each, to its stream."""

    use_daemon_thread = True  # the process exits even if an entry is being written to a blocked stdout

    def __init__(self, output: LogOutput) -> None:
        super().__init__()
        self.output = output
        self.stream = output.stream if output.stream is not None else sys.stdout

    def on_receive(self, message: Any) -> None:
        if isinstance(message, LogEntry):
            self.output.write(self.stream, message)

    def on_stop(self) -> None:
        self.stream.flush()


class LogSink:
    """Where every Log handle sends its entries: the running Logger, restarted when it has died.

    The sink is the Logger's supervisor: the first entry told to a dead Logger goes to stderr, so
    nothing is lost, and a new Logger is started at once (at most once a second), which logs that
    it was restarted.
    """

    RESTART_SECONDS = 1.0

    def __init__(
        self,
        level: Level,
        secrets: frozenset[str] = frozenset(),
        formatter: Formatter = format_line,
        stream: IO[str] | None = None,
    ) -> None:
        self.output = LogOutput(level, secrets, formatter, stream)
        self.ref: pykka.ActorRef[Any] | None = None
        self.stopped = False
        self.restarted_at = 0.0
        self.lock = runtime().lock()

    def start(self) -> pykka.ActorRef[Any]:
        """Start a Logger (again) and send entries to it from now on."""
        self.ref = Logger.start(self.output)
        return self.ref

    def stop(self) -> None:
        self.stopped = True
        if self.ref is not None:
            self.ref.stop()

    @property
    def alive(self) -> bool:
        return self.ref is not None and self.ref.is_alive()

    def tell(self, log_entry: LogEntry) -> None:
        try:
            if self.ref is None:
                raise pykka.ActorDeadError("no Logger started")
            self.ref.tell(log_entry)
        except pykka.ActorDeadError:
            if self.stopped:
                # At exit, an actor left behind (busy with a peer past its stop budget) may still log: its entry
                # is a line of the log stream like any other, written here, not on stderr.
                with self.lock:
                    self.output.write(self.output.stream or sys.stdout, log_entry)
                return
            self.output.write(sys.stderr, log_entry)
            self.restart()

    def restart(self) -> None:
        """Start a new Logger after the old one died (not after stop), at most once a second."""
        with self.lock:
            now = runtime().now()
            if self.stopped or self.ref is None or self.alive or now - self.restarted_at < self.RESTART_SECONDS:
                return
            self.restarted_at = now
            self.start()
        restarted = "the Logger had died; restarted it (meanwhile to stderr)"
        self.tell(entry(runtime().wall(), Level.ERROR, "logger", restarted))


class Log:
    """What a component logs through: builds entries and tells them to the LogSink."""

    def __init__(self, component: str, sink: LogSink, clock: Callable[[], float] = wall) -> None:
        self.component = component
        self.sink = sink
        self.clock = clock

    @property
    def level(self) -> Level:
        return self.sink.output.level

    def child(self, component: str) -> Log:
        """A handle for another component, writing to the same sink."""
        return Log(component, self.sink, self.clock)

    def fatal(self, message: str, exc: BaseException | None = None) -> None:
        self.write(Level.FATAL, message, exc)

    def error(self, message: str, exc: BaseException | None = None) -> None:
        self.write(Level.ERROR, message, exc)

    def warn(self, message: str, exc: BaseException | None = None) -> None:
        self.write(Level.WARN, message, exc)

    def info(self, message: str, exc: BaseException | None = None) -> None:
        self.write(Level.INFO, message, exc)

    def debug(self, message: str, exc: BaseException | None = None) -> None:
        self.write(Level.DEBUG, message, exc)

    def write(self, level: Level, message: str, exc: BaseException | None = None) -> None:
        """Tell the Logger one entry (dropped here already when the level filters it out)."""
        if level > self.level:
            return
        self.tell(entry(self.clock(), level, self.component, message, exc))

    def tell(self, log_entry: LogEntry) -> None:
        self.sink.tell(log_entry)


def entry(timestamp: float, level: Level, component: str, message: str, exc: BaseException | None = None) -> LogEntry:
    """A LogEntry, with the exception's type, text and traceback when there is one."""
    if exc is None:
        return LogEntry(timestamp, level, component, message)
    return LogEntry(
        timestamp,
        level,
        component,
        message,
        type(exc).__name__,
        str(exc),
        "".join(traceback.format_exception(exc)),
    )


class LoggingBridge(logging.Handler):
    """Routes records of Python's `logging` (pykka, docker, urllib3, py-consul) into the log stream."""

    def __init__(self, log: Log) -> None:
        super().__init__()
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        level = PYTHON_LEVELS.get(record.levelno, Level.DEBUG if record.levelno < logging.INFO else Level.ERROR)
        exc = record.exc_info[1] if record.exc_info else None
        message = record.getMessage()
        self.log.tell(entry(record.created, level, record.name, message, exc))


def install_logging_bridge(log: Log) -> LoggingBridge:
    """Make the root logger send everything at or above the LOG_LEVEL into the log stream."""
    bridge = LoggingBridge(log)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(bridge)
    root.setLevel(LOGGING_THRESHOLDS[log.level])
    return bridge


def dump_threads_on_signal(log: Log) -> Callable[[int, FrameType | None], None]:
    """SIGUSR1's handler: it only starts a thread that logs the dump. CPython runs a handler in the main thread
    between two of its bytecodes, maybe while that thread holds a lock the dump needs (the Logger's inbox while it
    logs, threading's own while it starts a thread): a dump made in the handler would wait for it forever, and the
    service would never stop. `_thread.start_new_thread` takes no lock of Python's."""

    def handle(signum: int, frame: FrameType | None) -> None:
        _thread.start_new_thread(log_thread_dump, (log,))

    return handle


def log_thread_dump(log: Log) -> None:
    """Every thread's stack, one entry each at INFO after a header line (SIGUSR1: an operator asked for it, so
    nothing here should page anyone, as pykka's FATAL-level dump would)."""
    frames = sys._current_frames()
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    names.setdefault(threading.get_ident(), "thread-dump")  # the thread SIGUSR1's handler started for it
    log.info(f"thread dump requested (SIGUSR1): {len(frames)} threads, one entry each")
    for ident, frame in sorted(frames.items(), key=lambda item: names.get(item[0], "")):
        log.info(f"thread {names.get(ident, '(unnamed)')} ({ident}):\n{''.join(traceback.format_stack(frame))}")
