"""The service's image on the stack's Swarm: built by scripts/image on manager-1, loaded into every other manager
(images live per daemon; there is no registry), tagged and removed on all of them."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from .common import StackError, _find_docker_cli, _log, load
from .swarm import _run_docker

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _managers(st: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in st["nodes"] if n["role"] == "manager"]


def _image_id(node: dict[str, Any], tag: str) -> str:
    try:
        return _run_docker(node["docker_host"], ("image", "inspect", "--format", "{{.Id}}", tag)).strip()
    except StackError:
        return ""


def image_build(path: str | None = None) -> str:
    """Build the image with scripts/image on manager-1 and load it into the other managers that lack it;
    return its tag (neon-cluster-manager:<version>)."""
    st = load(path)
    first, *others = _managers(st)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER")}
    env.update(DOCKER_HOST=first["docker_host"], DOCKER=_find_docker_cli(), PYTHON=sys.executable)
    r = subprocess.run(
        ["bash", os.path.join(_ROOT, "scripts", "image")], capture_output=True, text=True, env=env, check=False
    )
    if r.returncode != 0:
        raise StackError(f"scripts/image failed (exit {r.returncode}):\n{r.stderr.strip()}")
    tag = r.stdout.strip()
    wanted = _image_id(first, tag)
    for node in others:
        if _image_id(node, tag) == wanted:
            continue
        _log(f"loading {tag} into {node['hostname']}")
        cli = _find_docker_cli()
        save = subprocess.Popen([cli, "-H", first["docker_host"], "save", tag], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            [cli, "-H", node["docker_host"], "load", "-q"], stdin=save.stdout, capture_output=True, text=True
        )
        assert save.stdout is not None
        save.stdout.close()
        if save.wait() != 0 or loaded.returncode != 0:
            raise StackError(f"could not load {tag} into {node['hostname']}: {loaded.stderr.strip()}")
    return tag


def image_tag(source: str, target: str, path: str | None = None) -> None:
    """Tag image `source` as `target` on every manager."""
    for node in _managers(load(path)):
        _run_docker(node["docker_host"], ("tag", source, target))


def image_remove(tag: str, path: str | None = None) -> None:
    """Remove tag `tag` from every manager that has it (the image stays while another tag names it)."""
    for node in _managers(load(path)):
        if _image_id(node, tag):
            _run_docker(node["docker_host"], ("image", "rm", tag))
