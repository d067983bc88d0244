"""Writing a file an operator named (the CLI's cache, the health file) without surprising them."""

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
