"""Log entries: every component logs by telling one of these to the Logger."""

from __future__ import annotations

import enum

import attrs


class Level(enum.IntEnum):
    """Log levels, most severe first; a logger at level L writes entries with level <= L."""

    NONE = 0
    FATAL = 1
    ERROR = 2
    WARN = 3
    INFO = 4
    DEBUG = 5


@attrs.frozen
class LogEntry:
    """One line of the log stream."""

    timestamp: float
    """Seconds since the epoch, taken where the entry was made."""
    level: Level
    """Severity; never NONE."""
    component: str
    """Who logs: an actor's name or a library logger's name."""
    message: str
    """The text; may hold newlines (the Logger escapes them)."""
    exception_type: str | None = None
    """Class name of the exception being reported, if any."""
    exception_text: str | None = None
    """`str()` of that exception."""
    traceback: str | None = None
    """Formatted traceback; written only at DEBUG."""
