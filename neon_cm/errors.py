"""Saying what went wrong in one short, stable phrase (so a repeating failure is recognised as the same one)."""

from __future__ import annotations

import re

OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")]+")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def reason(error: BaseException) -> str:
    """The error's message; for a connection error only the OS error (requests nests it deep in changing text)."""
    text = str(error)
    cause = OS_ERROR.search(text)
    return cause.group(0).strip() if cause else ADDRESS.sub("", text)


def describe(error: BaseException) -> str:
    """`Type: reason`."""
    return f"{type(error).__name__}: {reason(error)}"
