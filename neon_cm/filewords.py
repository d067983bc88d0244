"""What is wrong with a file an operator named, in words (the file I/O itself is gateways/files.py)."""

from __future__ import annotations

import os
import stat

#: What `stat` calls each kind of file that is not a regular one, for the refusal.
KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


class NotARegularFile(OSError):
    """The path names something that must not be replaced by a file; the text says what it is."""


def kind_of(mode: int) -> str:
    """`a character device`, `a directory`, ...: what a non-regular file is, in words."""
    return next((words for test, words in KINDS if test(mode)), "not a regular file")


def describe_os_error(error: OSError) -> str:
    """An OSError in an operator's words: `No such file or directory`, `Permission denied`, `it is a directory,
    not a file` (never a Python class name); NotARegularFile's own text."""
    if isinstance(error, NotARegularFile):
        return str(error)
    for kind, words in OS_ERROR_WORDS:
        if isinstance(error, kind):
            return words
    if error.errno is not None:
        return os.strerror(error.errno)
    return str(error) or "it cannot be read"


#: The system's words for the errors an operator's path meets most, by class (an error made without an errno
#: has no strerror to show).
OS_ERROR_WORDS: tuple[tuple[type[OSError], str], ...] = (
    (FileNotFoundError, "No such file or directory"),
    (PermissionError, "Permission denied"),
    (IsADirectoryError, "it is a directory, not a file"),
    (NotADirectoryError, "a part of the path is a file, not a folder"),
)
