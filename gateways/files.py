"""Reading and writing a file an operator named (a token or secret file, the CLI's cache, the health file)
without surprising them: never hanging on a pipe, never replacing a device. The service's one gateway to the
local file system (what goes wrong, in words, is neon_cm/filewords.py)."""

from __future__ import annotations

import os
import select
import stat
import tempfile
from pathlib import Path

from neon_cm.filewords import NotARegularFile, kind_of


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
            data = read_pipe(descriptor, named(path), limit, pipe_seconds)
        elif stat.S_ISREG(mode):
            os.set_blocking(descriptor, True)
            with os.fdopen(os.dup(descriptor), "rb") as file:
                data = file.read(limit + 1)
        else:
            raise NotARegularFile(f"{named(path)} is {kind_of(mode)}, not a regular file")
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise NotARegularFile(f"{path} is over {limit // (1024 * 1024)} MiB; not a file this reads")
    return data


def named(path: str | Path) -> str:
    """`path` in a refusal: a symlink as its target and itself (`/dev/zero (the target of /run/x)`), as an operator's
    `ls -l` shows it; anything else as given, also a link to no path (`/dev/stdin` on an anonymous pipe)."""
    target = os.path.realpath(path)
    if not os.path.islink(path) or not os.path.lexists(target):
        return str(path)
    return f"{target} (the target of {path})"


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


def path_kind(path: str) -> str:
    """What is at `path` (a symlink followed), without reading it: `file`, `directory`, `missing` or `other`."""
    if os.path.isfile(path):
        return "file"
    if os.path.isdir(path):
        return "directory"
    return "other" if os.path.exists(path) else "missing"


def read_text(path: str) -> str:
    """A token or secret file's text (a BOM dropped), never blocking on a pipe nor reading a device."""
    return read_given(path).decode("utf-8-sig")
