"""What is wrong with a piece of JSON, in an operator's words rather than Python's (never quoting the text)."""

from __future__ import annotations

import json
from typing import Any

#: Python's json messages, as an operator would say them.
MESSAGES = {
    "Expecting value": "a value was expected",
    "Extra data": "more text follows the JSON value",
    "Expecting property name enclosed in double quotes": "a property name in double quotes was expected",
    "Expecting ':' delimiter": "a ':' was expected",
    "Expecting ',' delimiter": "a ',' was expected",
    "Unterminated string starting at": "a string is not closed",
    "Invalid control character at": "a control character is inside a string",
    "Invalid \\escape": "a string has an invalid escape",
    "Invalid \\uXXXX escape": "a string has an invalid \\u escape",
}


def json_problem(error: ValueError) -> str:
    """Why text is not JSON: `a value was expected at line 1, column 1`; other ValueErrors as they are."""
    if isinstance(error, json.JSONDecodeError):
        words = MESSAGES.get(error.msg, error.msg[:1].lower() + error.msg[1:])
        return f"{words} at line {error.lineno}, column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset {error.start})"
    return str(error)


def json_type(value: Any) -> str:
    """A parsed JSON value's type as JSON names it: `an object`, `an array`, `a string`, `a number`, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"
