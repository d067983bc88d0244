"""The deployment commands of docs/deployment.md, as the tests run them (so the page and the tests cannot drift)."""

from __future__ import annotations

import shlex
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"


def documented_block(marker: str, path: Path = DOCS) -> str:
    """The shell block that follows `<!-- tested: <marker> -->` in docs/deployment.md, as written."""
    text = path.read_text(encoding="utf-8")
    start = text.index("```sh\n", text.index(f"<!-- tested: {marker} -->")) + len("```sh\n")
    return text[start : text.index("```", start)]


def documented_commands(marker: str, path: Path = DOCS) -> list[list[str]]:
    """The commands of the shell block that follows `<!-- tested: <marker> -->` in docs/deployment.md, each split as
    the shell would (continuation lines joined; `$(...)` left as it is written)."""
    block = documented_block(marker, path)
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def documented_command(marker: str, *words: str) -> list[str]:
    """The one command of block `marker` that starts with `words`."""
    (command,) = [command for command in documented_commands(marker) if tuple(command[: len(words)]) == words]
    return command
