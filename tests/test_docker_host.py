"""DOCKER_HOST forms the Docker gateway cannot use (gateways/docker.py): one reason naming the variable and the forms
it takes, before any connection is tried."""

from __future__ import annotations

import pytest

from gateways.docker import DockerGateway
from messages.docker import DockerUnreachable


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("ssh://me@manager-1", "DOCKER_HOST ssh:// is not supported"),
        ("https://manager-1:2376", "DOCKER_HOST https:// is not supported"),
        ("npipe:////./pipe/docker_engine", "DOCKER_HOST npipe:// is not supported"),
        ("manager-1:2375", "DOCKER_HOST without a scheme is not supported"),
        ("/var/run/docker.sock", "DOCKER_HOST without a scheme is not supported"),
        ("tcp://", "DOCKER_HOST tcp:// names no host: write tcp://HOST:PORT"),
    ],
)
def test_a_docker_host_the_gateway_cannot_use_is_one_reason_naming_the_forms_it_takes(host: str, said: str) -> None:
    answer = DockerGateway(host).nodes()

    assert isinstance(answer, DockerUnreachable)
    assert answer.reason.startswith(said)
    assert "me@" not in answer.reason  # the user part of an address is not repeated
    if "not supported" in said:
        assert "unix:///var/run/docker.sock" in answer.reason and "tcp://HOST:PORT" in answer.reason
