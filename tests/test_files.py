"""Writing operator-named files: through symlinks, atomically over regular files, never over anything else."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateways.files import read_given, write_replacing
from neon_cm.filewords import NotARegularFile, describe_os_error


def null_device(folder: Path) -> Path:
    """A real character device (1, 3: what /dev/null is) made with mknod in `folder`, never /dev's own."""
    device = folder / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return device


def test_a_regular_file_is_replaced_with_its_permissions_kept(tmp_path: Path) -> None:
    """A regular file gets the new content atomically (no temporary file left) and keeps its mode."""
    path = tmp_path / "cache.json"
    path.write_bytes(b"old")
    path.chmod(0o640)

    written = write_replacing(path, b"new")

    assert (path, b"new", 0o640) == (written, path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
    assert ["cache.json"] == sorted(entry.name for entry in tmp_path.iterdir())


def test_a_missing_file_is_created_in_an_existing_folder(tmp_path: Path) -> None:
    """A missing file in a folder that exists is created."""
    path = tmp_path / "health"

    write_replacing(path, b"{}")

    assert b"{}" == path.read_bytes()


def test_a_symlink_is_written_through_to_its_target(tmp_path: Path) -> None:
    """The link stays a link, and its target (not a new file in the link's place) gets the content."""
    target = tmp_path / "real" / "cache.json"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "cache.json"
    link.symlink_to(target)

    written = write_replacing(link, b"new")

    assert (target, True, b"new") == (written, link.is_symlink(), target.read_bytes())


def test_a_device_node_is_refused_and_left_a_device(tmp_path: Path) -> None:
    """A character device (made with mknod) is refused in words, and is still a character device afterwards."""
    device = null_device(tmp_path)

    with pytest.raises(NotARegularFile) as refused:
        write_replacing(device, b"data")

    assert f"{device} is a character device, not a regular file; refusing to replace it" == str(refused.value)
    assert stat.S_ISCHR(device.lstat().st_mode)


def test_a_symlink_to_a_device_is_refused(tmp_path: Path) -> None:
    """Following a link does not make a device writable: the refusal names the target and the link."""
    device = null_device(tmp_path)
    link = tmp_path / "cache.json"
    link.symlink_to(device)

    with pytest.raises(NotARegularFile) as refused:
        write_replacing(link, b"data")

    assert f"{device} (the target of {link}) is a character device" in str(refused.value)
    assert (True, True) == (link.is_symlink(), stat.S_ISCHR(device.lstat().st_mode))


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_directory_or_a_pipe_is_refused(tmp_path: Path, kind: str) -> None:
    """A directory or a named pipe is not replaced by a file."""
    path = tmp_path / "thing"
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)

    with pytest.raises(NotARegularFile, match=r"a directory|a named pipe"):
        write_replacing(path, b"data")

    assert (True, False) == (path.exists(), path.is_file())


def test_a_missing_folder_and_an_empty_path_are_refused(tmp_path: Path) -> None:
    """No folder is made on the operator's behalf, and an empty path is not taken for the current folder."""
    with pytest.raises(NotARegularFile) as missing:
        write_replacing(tmp_path / "no" / "cache.json", b"data")
    with pytest.raises(NotARegularFile) as empty:
        write_replacing("", b"data")

    assert f"the folder {tmp_path / 'no'} does not exist" in str(missing.value)
    assert "an empty path is not a file name" == str(empty.value)
    assert not (tmp_path / "no").exists()


def test_a_path_through_a_regular_file_is_refused_in_words(tmp_path: Path) -> None:
    """`--cache c1.json/x` where c1.json is a file: refused naming the file that is no folder (was a traceback)."""
    (tmp_path / "c1.json").write_text("{}")

    with pytest.raises(NotARegularFile) as refused:
        write_replacing(tmp_path / "c1.json" / "x", b"data")

    assert f"cannot create {tmp_path}/c1.json/x: {tmp_path}/c1.json is a file, not a folder" == str(refused.value)


def test_reading_a_named_pipe_or_a_device_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO with no writer (which would block forever), a device (endless /dev/zero bytes) and a directory are
    refused saying what they are; a symlink to a regular file is read through."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    os.mknod(zero, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    target = tmp_path / "token"
    target.write_bytes(b"tok\n")
    link = tmp_path / "link"
    link.symlink_to(target)

    refusals = []
    for path in (fifo, zero, tmp_path):
        with pytest.raises(NotARegularFile) as refused:
            read_given(path)
        refusals.append(str(refused.value))

    assert [
        f"{fifo} is a named pipe nobody writes to, not a regular file",
        f"{zero} is a character device, not a regular file",
        f"{tmp_path} is a directory, not a regular file",
    ] == refusals
    assert b"tok\n" == read_given(link)


def test_reading_a_symlink_to_a_device_or_a_pipe_names_the_target_and_the_link(tmp_path: Path) -> None:
    """`VAULT_CREDENTIALS_FILE=/run/x` a link to /dev/zero: the refusal says what the link leads to, as writing does
    (it said `/run/x is a character device`, which the operator's `ls -l` of a link contradicts)."""
    zero = tmp_path / "zero"
    os.mknod(zero, 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    refusals = []
    for target in (zero, fifo):
        link = tmp_path / f"link-to-{target.name}"
        link.symlink_to(target)
        with pytest.raises(NotARegularFile) as refused:
            read_given(link)
        refusals.append(str(refused.value))

    assert [
        f"{zero} (the target of {tmp_path / 'link-to-zero'}) is a character device, not a regular file",
        f"{fifo} (the target of {tmp_path / 'link-to-fifo'}) is a named pipe nobody writes to, not a regular file",
    ] == refusals


def test_os_errors_are_said_in_words_not_class_names() -> None:
    """An error made without an errno still reads as the system's words."""

    assert ["No such file or directory", "it is a directory, not a file", "Permission denied"] == [
        describe_os_error(error) for error in (FileNotFoundError("/x"), IsADirectoryError(), PermissionError())
    ]


def test_a_pipe_with_a_writer_is_read_and_a_silent_one_given_up(tmp_path: Path) -> None:
    """`<(cat token)` (a pipe the shell writes) is read to its end; a FIFO whose writer holds it open and
    says nothing is refused after the wait, not waited on for ever."""
    reader, writer = os.pipe()
    os.write(writer, b"token-from-a-pipe\n")
    os.close(writer)
    fifo = tmp_path / "silent"
    os.mkfifo(fifo)
    silent = os.open(fifo, os.O_RDWR)  # a writer that never writes
    try:
        delivered = read_given(f"/proc/self/fd/{reader}")
        with pytest.raises(NotARegularFile) as refused:
            read_given(fifo, pipe_seconds=0.2)
    finally:
        os.close(reader)
        os.close(silent)

    assert b"token-from-a-pipe\n" == delivered
    assert f"{fifo} is a named pipe that delivered nothing for 0.2 s" == str(refused.value)
