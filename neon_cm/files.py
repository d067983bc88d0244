"""Reading and writing a file an operator named (a token or secret file, the CLI's cache, the health file)
without surprising them: never hanging on a pipe, never replacing a device."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

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


def replaceable(path: str | Path) -> tuple[Path, int | None]:
    """The file that writing `path` would replace (a symlink followed) and its mode (None: missing).

    Raises NotARegularFile for a device node, a directory, a pipe or a socket, a missing file in a
    folder that does not exist, and an empty path.
    """
    if not str(path):
        raise NotARegularFile("an empty path is not a file name")
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        raise NotARegularFile(f"cannot create {target}: {not_a_folder(target)}") from None
    if mode is not None and not stat.S_ISREG(mode):
        through = f" (the target of {path})" if Path(path) != target else ""
        raise NotARegularFile(f"{target}{through} is {kind_of(mode)}, not a regular file; refusing to replace it")
    if mode is None and not target.parent.is_dir():
        raise NotARegularFile(f"cannot create {target}: the folder {target.parent} does not exist")
    return target, mode


def write_replacing(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` so that a reader never sees half of it; return the file written.

    A symlink is followed and its target written (the link stays a link). A regular file is
    replaced atomically (a temporary file in its folder, then `os.replace`), keeping its
    permissions. A missing file is created, but only in a folder that exists. Anything else (a
    device node, a directory, a pipe, a socket) is refused with NotARegularFile and left as it
    is. Other failures are the OSError the system gave.
    """
    target, mode = replaceable(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        if mode is not None:
            os.chmod(temporary, stat.S_IMODE(mode))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def not_a_folder(path: Path) -> str:
    """Which part of `path`'s folders is a file (`/a/c1.json is a file, not a folder`)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return f"{parent} is a file, not a folder"
    return f"a part of {path.parent} is not a folder"


#: More than any token, secret or cluster definition an operator hands over: a bigger "file" is not one.
READ_LIMIT = 16 * 1024 * 1024


def read_regular(path: str | Path, limit: int = READ_LIMIT) -> bytes:
    """The bytes of the regular file at `path` (a symlink followed), read without ever blocking.

    Opened non-blocking and checked before reading, so a named pipe with no writer never hangs the reader, and
    a device (/dev/zero), a directory or a socket is refused with NotARegularFile saying what it is. Over
    `limit` bytes: NotARegularFile too. Other failures are the OSError the system gave (describe_os_error).
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(f"{path} is {kind_of(mode)}, not a regular file")
        os.set_blocking(descriptor, True)
        with os.fdopen(os.dup(descriptor), "rb") as file:
            data = file.read(limit + 1)
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise NotARegularFile(f"{path} is over {limit // (1024 * 1024)} MiB; not a file this reads")
    return data


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
