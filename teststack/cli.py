"""Command line: python -m teststack up|down|status|env|image|vault-restart N|vault-stop N|vault-start N|
engine29-start N|engine29-stop N."""

from __future__ import annotations

import os
import sys

from .engine29 import engine29_start, engine29_stop
from .image import image_build
from .lifecycle import down, env_lines, status, up
from .openbao import vault_restart, vault_start, vault_stop
from .state import StackError, stack_file, state_dir

#: The commands that take a manager's number (1-3), and what each does to that manager's OpenBao.
VAULT_COMMANDS = {"vault-restart": vault_restart, "vault-stop": vault_stop, "vault-start": vault_start}
#: The commands that put an Engine 29 front (teststack/engine29.py) before manager-N's daemon, or take it away.
FRONT_COMMANDS = {"engine29-start", "engine29-stop"}


def main(argv: list[str] | None = None) -> int:
    """Run one command on the stack; return the exit status (2: usage, 1: the stack said no or is not healthy)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: python -m teststack up|down|status|env|image|vault-restart N|vault-stop N|vault-start N"
        "|engine29-start N|engine29-stop N (image:"
        " build the service's image and load it into every manager; N: 1-3, the manager whose OpenBao restarts,"
        " stops, or starts again (it comes back sealed), or whose daemon gets a front answering as Docker Engine 29"
        " (engine29-start prints its DOCKER_HOST))   (stack:"
        " $NEON_CM_STACK_SLOT, default 0; state dir: $NEON_CM_STACK_DIR, default /tmp/neon-cm-stack, -<slot> for"
        " slots above 0)"
    )
    valid = len(argv) == 1 and argv[0] in ("up", "down", "status", "env", "image")
    valid = valid or (len(argv) == 2 and argv[0] in (*VAULT_COMMANDS, *FRONT_COMMANDS) and argv[1] in ("1", "2", "3"))
    if not valid:
        print(usage, file=sys.stderr)
        return 2
    cmd = argv[0]
    try:
        if cmd in VAULT_COMMANDS:
            VAULT_COMMANDS[cmd](int(argv[1]) - 1)
            return 0
        if cmd == "engine29-start":
            print(engine29_start(f"manager-{argv[1]}"))
            return 0
        if cmd == "engine29-stop":
            engine29_stop(f"manager-{argv[1]}")
            return 0
        if cmd == "up":
            up()
            print(stack_file(state_dir()))
        elif cmd == "image":
            print(image_build())
        elif cmd == "down":
            down()
        elif cmd == "status":
            ok, why = status()
            up_at_all = os.path.exists(stack_file(state_dir()))
            print(f"up: {why}" if ok else (f"NOT healthy: {why}" if up_at_all else why))
            return 0 if ok else 1
        else:
            print("\n".join(env_lines()))
    except StackError as exc:
        print(f"stack {cmd}: {exc}", file=sys.stderr)
        return 1
    return 0
