"""The service's and the Docker proxy's images on every manager of the stack's Swarm.

Built once for every slot's stack: scripts/image builds them on the first manager that needs them, `docker save`
keeps them in a tarball under $NEON_CM_CACHE/images/<digest of what goes into them>/, and every manager of every
slot loads that (images live per daemon; there is no registry). A file lock beside those folders makes parallel
test workers wait for the one build instead of each making its own. On a manager, a new build's images leave the
ones they replaced untagged, and those are removed; the current ones stay, so that the next build finds Docker's
cache (the classic builder's cache is the images themselves: removing the tags made the next build start from the
base, 85 s instead of 30 s here)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from typing import Any

from .binaries import find_docker_cli
from .processes import progress
from .state import StackError, cache_dir, flocked, load
from .swarm import run_docker

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SERVICE = "neon-cluster-manager"
_PROXY = "neon-docker-proxy"
#: What scripts/image puts into the two images (besides the pinned wheels and Debian's .debs that it caches
#: itself, keyed by constraints.txt and the package names): a change to any of these is a new image.
_INPUTS = ("Dockerfile", "setup.py", "constraints.txt", "pyproject.toml", "neon_cm_main.py", "scripts/image")
_INPUT_TREES = ("actors", "cli", "gateways", "messages", "neon_cm", "deploy/docker-proxy")
#: How many cached builds stay (the newest): a checkout switched back and forth between two branches reuses both.
_KEEP = 3


def _managers(st: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in st["nodes"] if n["role"] == "manager"]


def _image_id(node: dict[str, Any], tag: str) -> str:
    try:
        return run_docker(node["docker_host"], ("image", "inspect", "--format", "{{.Id}}", tag)).strip()
    except StackError:
        return ""


def images_digest() -> str:
    """The digest of everything that goes into the images from this checkout (file names and contents)."""
    paths = [p for p in _INPUTS if os.path.exists(os.path.join(_ROOT, p))]
    for tree in _INPUT_TREES:
        for folder, dirs, files in os.walk(os.path.join(_ROOT, tree)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            paths += [os.path.relpath(os.path.join(folder, f), _ROOT) for f in files if not f.endswith(".pyc")]
    digest = hashlib.sha256()
    for rel in sorted(paths):
        with open(os.path.join(_ROOT, rel), "rb") as fh:
            content = fh.read()
        digest.update(f"{rel}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()[:16]


def _images_folder() -> str:
    return os.path.join(cache_dir(), "images")


def images_cached(path: str | None = None) -> tuple[str, list[str], dict[str, str]]:
    """The images of this checkout as a tarball in the cache shared by every slot; return (tarball, scripts/image's
    tags (the service's first), {tag and its :latest: image ID}). Unless they are there, build them with
    scripts/image on this stack's manager-1 and save them; a file lock makes a second caller wait for the first
    one's build and find it."""
    folder = os.path.join(_images_folder(), images_digest())
    tarball, index = os.path.join(folder, "images.tar"), os.path.join(folder, "images.json")
    os.makedirs(_images_folder(), exist_ok=True)
    with flocked(os.path.join(_images_folder(), "build.lock")):
        if not os.path.exists(index):
            _build_and_save(load(path), folder, tarball, index)
    with open(index) as fh:
        saved = json.load(fh)
    return tarball, saved["tags"], saved["ids"]


def images_in_cache() -> bool:
    """Whether the images of this checkout are in the cache already (images_cached would not build them)."""
    return os.path.exists(os.path.join(_images_folder(), images_digest(), "images.json"))


def _build_and_save(st: dict[str, Any], folder: str, tarball: str, index: str) -> None:
    """scripts/image on the stack's manager-1, then `docker save` of both images under every tag into `folder`."""
    first = _managers(st)[0]
    previous = _repository_images(first)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER")}
    env.update(DOCKER_HOST=first["docker_host"], DOCKER=find_docker_cli(), PYTHON=sys.executable)
    r = subprocess.run(
        ["bash", os.path.join(_ROOT, "scripts", "image")], capture_output=True, text=True, env=env, check=False
    )
    if r.returncode != 0:
        raise StackError(f"scripts/image failed (exit {r.returncode}):\n{r.stderr.strip()}")
    tags = r.stdout.split()
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    run_docker(first["docker_host"], ("save", "-o", tarball + ".tmp", *_names(tags)), timeout=300)
    os.replace(tarball + ".tmp", tarball)
    with open(index + ".tmp", "w") as fh:
        json.dump({"tags": tags, "ids": {name: _image_id(first, name) for name in _names(tags)}}, fh)
    os.replace(index + ".tmp", index)  # last: its presence says the folder is complete
    _remove_untagged(first, previous)
    # The images an earlier build made here and a later load took the tags from (see _load): this build's
    # layers are the cache now.
    run_docker(first["docker_host"], ("image", "prune", "--force"))
    _prune(folder)


def _names(tags: list[str]) -> list[str]:
    """scripts/image's tags and the `:latest` of each (what README's commands and deploy/ name)."""
    return [name for tag in tags for name in (tag, tag.split(":")[0] + ":latest")]


def _prune(keep: str) -> None:
    """Remove the cached builds but `keep` and the newest others (_KEEP in all)."""
    root = _images_folder()
    others = [os.path.join(root, d) for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))]
    others = sorted((d for d in others if d != keep), key=os.path.getmtime, reverse=True)
    for old in others[_KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


def _load(node: dict[str, Any], tarball: str, ids: dict[str, str]) -> None:
    """Make the tags of `ids` on manager `node` name those images, from `tarball` (`docker load`, which also moves
    the tags) unless they do already; remove the loaded images that lost their tags to them. Images built here
    stay, untagged, until the next build here: their layers are Docker's build cache (the classic builder's cache
    is the images themselves), which makes the next build on this manager take 30 s instead of minutes."""
    if all(_image_id(node, name) == image_id for name, image_id in ids.items()):
        return
    previous = {image_id for image_id in _repository_images(node) if not _built_here(node, image_id)}
    progress(f"loading {' '.join(ids)} into {node['hostname']}")
    run_docker(node["docker_host"], ("load", "-q", "-i", tarball), timeout=300)
    _remove_untagged(node, previous)


def _built_here(node: dict[str, Any], image_id: str) -> bool:
    """Whether the manager built the image (a build's image has its last step as parent; a loaded one has none)."""
    try:
        return bool(run_docker(node["docker_host"], ("image", "inspect", "--format", "{{.Parent}}", image_id)).strip())
    except StackError:
        return False


def images_build(path: str | None = None) -> list[str]:
    """The service's and the Docker proxy's images of this checkout on every manager of the stack, under each tag
    (`:<version>` and `:latest`, the tag README's commands and deploy/neon-cluster-manager.yml name): built once
    for all slots (images_cached), loaded into the managers in parallel; return scripts/image's tags (the
    service's first)."""
    st = load(path)
    tarball, tags, ids = images_cached(path)
    errors: list[BaseException] = []

    def load_into(node: dict[str, Any]) -> None:
        try:
            _load(node, tarball, ids)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=load_into, args=(node,), daemon=True) for node in _managers(st)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
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
