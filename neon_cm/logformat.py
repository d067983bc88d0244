"""The log stream's line format (spec: "Log stream")."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable

from messages.log import Level, LogEntry


def escape(text: str) -> str:
    """One entry is one line: backslash doubled, CR and LF written as `\\r` and `\\n`."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def timestamp(seconds: float) -> str:
    """UTC ISO 8601 with milliseconds and an explicit +00:00 offset."""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds")


def format_line(entry: LogEntry, level: Level) -> str:
    """The entry as one line (without the newline), as a logger at `level` writes it."""
    line = f"[{timestamp(entry.timestamp)}] [{entry.level.name}] [module:{entry.component}] {entry.message}"
    if entry.exception_type is not None:
        line += f" [{entry.exception_type}]: {entry.exception_text or ''}"
    if entry.traceback and level >= Level.DEBUG:
        line += f" {entry.traceback.rstrip()}"
    return escape(line)


def format_json(entry: LogEntry, level: Level) -> str:
    """The entry as one JSON object on one line (LOG_FORMAT=json), with the same fields as a text line."""
    record: dict[str, str] = {
        "timestamp": timestamp(entry.timestamp),
        "level": entry.level.name,
        "component": entry.component,
        "message": entry.message,
    }
    if entry.exception_type is not None:
        record["exception_type"] = entry.exception_type
        record["exception"] = entry.exception_text or ""
    if entry.traceback and level >= Level.DEBUG:
        record["traceback"] = entry.traceback.rstrip()
    return json.dumps(record, ensure_ascii=False)


Formatter = Callable[[LogEntry, Level], str]
FORMATTERS: dict[str, Formatter] = {"text": format_line, "json": format_json}


def redact(line: str, secrets: frozenset[str]) -> str:
    """The line with every occurrence of a secret replaced by `***` (a last line of defence for unseal keys)."""
    for secret in secrets:
        if secret and secret in line:
            line = line.replace(secret, "***")
    return line
