"""The service's and the Docker proxy's images on every manager of the stack's Swarm.

Built by scripts/image on manager-1, loaded into every other manager (images live per daemon; there is no registry)
under every tag they have, tagged and removed on all of them. A build leaves the images it replaced untagged and
removes them; the current ones stay, so that the next build finds Docker's cache (the classic builder's cache is
the images themselves: removing the tags made the next build start from the base, 85 s instead of 30 s here)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from .binaries import find_docker_cli
from .processes import progress
from .state import StackError, load
from .swarm import run_docker

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SERVICE = "neon-cluster-manager"
_PROXY = "neon-docker-proxy"


def _managers(st: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in st["nodes"] if n["role"] == "manager"]


def _image_id(node: dict[str, Any], tag: str) -> str:
    try:
        return run_docker(node["docker_host"], ("image", "inspect", "--format", "{{.Id}}", tag)).strip()
    except StackError:
        return ""


def images_build(path: str | None = None) -> list[str]:
    """Build the service's and the Docker proxy's images with scripts/image on manager-1 and load them into the
    other managers, under each tag they have on manager-1 (`:<version>` and `:latest`, the tag README's commands
    and deploy/neon-cluster-manager.yml name); return scripts/image's tags (the service's first)."""
    st = load(path)
    first, *others = _managers(st)
    previous = {node["hostname"]: _repository_images(node) for node in (first, *others)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER")}
    env.update(DOCKER_HOST=first["docker_host"], DOCKER=find_docker_cli(), PYTHON=sys.executable)
    r = subprocess.run(
        ["bash", os.path.join(_ROOT, "scripts", "image")], capture_output=True, text=True, env=env, check=False
    )
    if r.returncode != 0:
        raise StackError(f"scripts/image failed (exit {r.returncode}):\n{r.stderr.strip()}")
    tags = r.stdout.split()
    names = [name for tag in tags for name in (tag, tag.split(":")[0] + ":latest")]
    wanted = {name: _image_id(first, name) for name in names}
    cli = find_docker_cli()
    for node in others:
        stale = [name for name in names if _image_id(node, name) != wanted[name]]
        # An image the daemon already has under another tag (or none) is tagged, not sent again.
        missing = [name for name in stale if not _image_id(node, wanted[name])]
        for name in stale:
            if name not in missing:
                run_docker(node["docker_host"], ("tag", wanted[name], name))
        if not missing:
            continue
        progress(f"loading {' '.join(missing)} into {node['hostname']}")
        save = subprocess.Popen([cli, "-H", first["docker_host"], "save", *missing], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            [cli, "-H", node["docker_host"], "load", "-q"], stdin=save.stdout, capture_output=True, text=True
        )
        assert save.stdout is not None
        save.stdout.close()
        if save.wait() != 0 or loaded.returncode != 0:
            raise StackError(f"could not load {' '.join(missing)} into {node['hostname']}: {loaded.stderr.strip()}")
    for node in (first, *others):
        _remove_untagged(node, previous[node["hostname"]])
    return tags


def _repository_images(node: dict[str, Any]) -> set[str]:
    """The IDs of the images tagged in the service's and the proxy's repositories on the manager."""
    listed = run_docker(
        node["docker_host"],
        ("images", "-q", "--no-trunc", "--filter", f"reference={_SERVICE}", "--filter", f"reference={_PROXY}"),
    )
    return set(listed.split())


def _remove_untagged(node: dict[str, Any], ids: set[str]) -> None:
    """Remove those of the images `ids` that a new build left without a tag on the manager (the tags are kept
    between sessions so that Docker's build cache stays; this keeps one build's images, not every one's)."""
    for image_id in ids:
        try:
            if (
                "0"
                == run_docker(
                    node["docker_host"], ("image", "inspect", "--format", "{{len .RepoTags}}", image_id)
                ).strip()
            ):
                run_docker(node["docker_host"], ("image", "rm", image_id))
        except StackError:
            pass  # gone already, or a container still uses it: it stays


def image_build(path: str | None = None) -> str:
    """images_build(), returning the service's tag (neon-cluster-manager:<version>)."""
    return images_build(path)[0]


def image_tag(source: str, target: str, path: str | None = None) -> None:
    """Tag image `source` as `target` on every manager."""
    for node in _managers(load(path)):
        run_docker(node["docker_host"], ("tag", source, target))


def image_remove(tag: str, path: str | None = None) -> None:
    """Remove tag `tag` from every manager that has it (the image stays while another tag names it)."""
    for node in _managers(load(path)):
        if _image_id(node, tag):
            run_docker(node["docker_host"], ("image", "rm", tag))
