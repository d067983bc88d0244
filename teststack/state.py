"""The stack's layout and its state: addresses, the state dir, stack.json, and the locks its users take."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from typing import Any

DEFAULT_STATE_DIR = "/tmp/neon-cm-stack"
DEFAULT_CACHE_DIR = "/var/cache/neon-cm-stack"

#: (hostname, role, last octet of its loopback address 127.0.<slot>.<octet>)
_LAYOUT: list[tuple[str, str, int]] = [
    ("manager-1", "manager", 11),
    ("manager-2", "manager", 12),
    ("manager-3", "manager", 13),
    ("worker-1", "worker", 21),
    ("worker-2", "worker", 22),
]
SWARM_PORT = 2377
VAULT_PORT = 8200
VAULT_CLUSTER_PORT = 8201
VAULT_SHARES = 3
VAULT_THRESHOLD = 2


class StackError(RuntimeError):
    """Raised when the stack is not up, or a daemon fails to start or become ready in time."""


def slot() -> int:
    """The stack this process uses: $NEON_CM_STACK_SLOT (default 0). Stacks of different slots share nothing
    (state dir, locks, node addresses, Consul's ports), so that parallel test workers each have one of their own."""
    text = os.environ.get("NEON_CM_STACK_SLOT") or "0"
    if not text.isdigit() or not 0 <= int(text) <= 200:
        raise StackError(f"NEON_CM_STACK_SLOT={text!r} is not a slot number (0-200)")
    return int(text)


def node_address(octet: int, n: int | None = None) -> str:
    """The loopback address 127.0.<slot>.<octet> of slot `n` (default: this process's slot): the stack's nodes
    use 11-13 and 21-22; tests that need an address of their own beside them (an extra node) pick another."""
    return f"127.0.{slot() if n is None else n}.{octet}"


def nodes(n: int | None = None) -> list[tuple[str, str, str]]:
    """The nodes of slot `n`'s stack (default: this process's slot): (hostname, role, loopback address)."""
    return [(name, role, node_address(octet, n)) for name, role, octet in _LAYOUT]


def state_dir(path: str | None = None) -> str:
    """Return the absolute state dir: `path`, else $NEON_CM_STACK_DIR, else /tmp/neon-cm-stack for slot 0 and
    /tmp/neon-cm-stack-<slot> for the others."""
    n = slot()
    default = DEFAULT_STATE_DIR if n == 0 else f"{DEFAULT_STATE_DIR}-{n}"
    return os.path.abspath(path or os.environ.get("NEON_CM_STACK_DIR") or default)


def cache_dir() -> str:
    """What every slot's stack shares between runs (binaries, the images' tarballs): $NEON_CM_CACHE, else
    /var/cache/neon-cm-stack."""
    return os.environ.get("NEON_CM_CACHE") or DEFAULT_CACHE_DIR


def stack_file(sd: str) -> str:
    """The state file of the stack in state dir `sd`: <sd>/stack.json."""
    return os.path.join(sd, "stack.json")


def load(path: str | None = None) -> dict[str, Any]:
    """Return the contents of <state dir>/stack.json; raise StackError if the stack is not up."""
    sd = state_dir(path)
    try:
        with open(stack_file(sd)) as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise StackError(f"stack is not up: {stack_file(sd)} does not exist (run: python -m teststack up)") from None


def write_state(sd: str, state: dict[str, Any]) -> None:
    """Replace <sd>/stack.json with `state` (written beside it, then renamed: a reader never sees half of it)."""
    tmp = stack_file(sd) + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(state, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, stack_file(sd))


@contextlib.contextmanager
def flocked(lock_path: str) -> Iterator[None]:
    """An exclusive flock on `lock_path` (created if missing) for the duration of the block."""
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive(path: str | None = None) -> Iterator[None]:
    """Hold the stack for one user (a test session, a benchmark) at a time: they change Consul keys,
    labels and Vault nodes, so two at once would see each other's changes."""
    with flocked(state_dir(path).rstrip("/") + ".session.lock"):
        yield
