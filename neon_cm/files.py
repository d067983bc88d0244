"""Reading and writing a file an operator named (a token or secret file, the CLI's cache, the health file)
without surprising them: never hanging on a pipe, never replacing a device."""

from __future__ import annotations

import os
import select
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


#: How long a pipe (`<(cat token)`, a FIFO) may take to deliver its content before the reader gives up on it.
PIPE_SECONDS = 10.0


def read_given(path: str | Path, limit: int = READ_LIMIT, pipe_seconds: float = PIPE_SECONDS) -> bytes:
    """The bytes of the file an operator named (a symlink followed), read without ever hanging.

    A regular file is read. A pipe (a FIFO, or the shell's `<(...)`) is read as long as a writer delivers,
    each wait at most `pipe_seconds`: a FIFO nobody writes to is refused at once (NotARegularFile), one
    whose writer goes quiet after `pipe_seconds`. A device (/dev/zero), a directory or a socket is refused
    saying what it is. Over `limit` bytes: refused too. Other failures are the OSError the system gave
    (describe_os_error says it in words).
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISFIFO(mode):
            data = read_pipe(descriptor, path, limit, pipe_seconds)
        elif stat.S_ISREG(mode):
            os.set_blocking(descriptor, True)
            with os.fdopen(os.dup(descriptor), "rb") as file:
                data = file.read(limit + 1)
        else:
            raise NotARegularFile(f"{path} is {kind_of(mode)}, not a regular file")
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise NotARegularFile(f"{path} is over {limit // (1024 * 1024)} MiB; not a file this reads")
    return data


def read_pipe(descriptor: int, path: str | Path, limit: int, pipe_seconds: float) -> bytes:
    """What a pipe opened non-blocking delivers until its writers close it (see read_given)."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = os.read(descriptor, 65536)  # b"" at once when no writer has it open (Linux, non-blocking)
        except BlockingIOError:  # a writer holds it open and has said nothing yet
            readable, _, _ = select.select([descriptor], [], [], pipe_seconds)
            if not readable:
                raise NotARegularFile(f"{path} is a named pipe that delivered nothing for {pipe_seconds:g} s") from None
            continue
        if not chunk:
            if not chunks:
                raise NotARegularFile(f"{path} is a named pipe nobody writes to, not a regular file")
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


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
