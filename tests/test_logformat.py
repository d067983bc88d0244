"""The log line format and the repeating-failure policy (pure logic)."""

from __future__ import annotations

import json
import re

from hypothesis import given

from messages.log import Level, LogEntry
from neon_cm.logformat import format_json, format_line
from neon_cm.outage import Outage
from tests import strategies

LINE = re.compile(
    r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00\] \[(FATAL|ERROR|WARN|INFO|DEBUG)\] \[module:[^\]\n]+\] [^\n]*$"
)


def test_line_format() -> None:
    """A worked example of the spec's format."""
    entry = LogEntry(1795543445.123, Level.INFO, "swarm-watcher", "listed 5 nodes")

    assert "[2026-11-24T18:04:05.123+00:00] [INFO] [module:swarm-watcher] listed 5 nodes" == format_line(
        entry, Level.INFO
    )


def test_exception_and_traceback() -> None:
    """An exception adds its type and text; the traceback only at DEBUG, folded into the line."""
    entry = LogEntry(0, Level.ERROR, "c", "failed", "ValueError", "bad", "Traceback:\n  line 1\n")

    assert format_line(entry, Level.INFO).endswith("failed [ValueError]: bad")
    assert format_line(entry, Level.DEBUG).endswith("failed [ValueError]: bad Traceback:\\n  line 1")


@given(strategies.text, strategies.text)
def test_every_entry_is_one_line(component: str, message: str) -> None:
    """Whatever the text, one entry is one line, and backslashes are doubled."""
    line = format_line(LogEntry(0, Level.WARN, component.replace("]", "") or "c", message), Level.DEBUG)

    assert "\n" not in line and "\r" not in line
    assert line.endswith(message.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r"))
    assert LINE.match(line)


def test_outage_logs_start_change_and_reminders() -> None:
    """A repeating failure is logged when it starts and as a reminder, not when its text changes (one outage
    is one line), unless changes are news; recovery is told."""
    outage = Outage(reminder_seconds=60)
    news = Outage(reminder_seconds=60, changes_are_news=True)

    assert [True, False, True] == [news.failed("sealed", 0), news.failed("sealed", 1), news.failed("unreachable", 2)]
    assert [True, False, False, True, False] == [
        outage.failed("down", 0),
        outage.failed("down", 30),
        outage.failed("refused", 40),
        outage.failed("refused", 99),
        outage.failed("refused", 100),
    ]
    assert "refused" == outage.succeeded()
    assert outage.succeeded() is None


def test_json_format_has_the_same_fields() -> None:
    """LOG_FORMAT=json: one object per line with timestamp, level, component, message and the exception."""
    entry = LogEntry(1795543445.123, Level.ERROR, "unsealer", "failed\nbadly", "ValueError", "bad", "Traceback\n")

    assert {
        "timestamp": "2026-11-24T18:04:05.123+00:00",
        "level": "ERROR",
        "component": "unsealer",
        "message": "failed\nbadly",
        "exception_type": "ValueError",
        "exception": "bad",
    } == json.loads(format_json(entry, Level.INFO))
    assert "\n" not in format_json(entry, Level.DEBUG)
    assert "Traceback" == json.loads(format_json(entry, Level.DEBUG))["traceback"]
