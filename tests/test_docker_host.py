"""DOCKER_HOST forms the Docker gateway cannot use (gateways/docker.py): one reason naming the variable and the forms
it takes, before any connection is tried."""

from __future__ import annotations

import pytest

from cli.common import CliError, swarm_nodes
from gateways.docker import DockerGateway
from messages.docker import DockerUnreachable
from neon_cm.config import load_config


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


class RecordingSocket:
    """A socket that records where it is asked to connect and refuses, as a missing socket file does."""

    def __init__(self, connected: list[object]) -> None:
        self.connected = connected

    def __enter__(self) -> RecordingSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def settimeout(self, timeout: float) -> None:
        return None

    def connect(self, address: object) -> None:
        self.connected.append(address)
        raise FileNotFoundError(2, "No such file or directory")


def connected_to(host: str) -> tuple[list[object], DockerUnreachable]:
    connected: list[object] = []
    answer = DockerGateway(host, sockets=lambda family: RecordingSocket(connected)).nodes()  # type: ignore[arg-type,return-value]
    assert isinstance(answer, DockerUnreachable)
    return connected, answer


def test_unix_with_no_path_is_the_default_socket_as_for_the_docker_cli_and_sdk() -> None:
    # It was a connect() to '' and `OSError: [Errno 22] Invalid argument`, which names neither DOCKER_HOST nor a path.
    connected, _ = connected_to("unix://")

    assert connected == ["/var/run/docker.sock"]


def test_unix_with_two_slashes_is_refused_naming_the_three_slash_form() -> None:
    # `unix://tmp/x.sock` parsed `tmp` as a host and connected to /x.sock: `[Errno 2] No such file or directory`
    # while the start line showed the path the operator meant.
    connected, answer = connected_to("unix://tmp/neon/docker.sock")

    assert connected == []
    assert answer.reason == (
        "DOCKER_HOST unix://tmp/neon/docker.sock has two slashes, so its path would be read as tmp/neon/docker.sock: "
        "write unix:///tmp/neon/docker.sock (unix:// and the socket's absolute path)"
    )


def test_unix_with_user_info_is_refused_without_repeating_it() -> None:
    connected, answer = connected_to("unix://me:pw@x/docker.sock")

    assert connected == []
    assert "pw" not in answer.reason and "me@" not in answer.reason
    assert answer.reason.startswith("DOCKER_HOST unix:// with something before its path")


def test_an_absolute_unix_path_is_connected_to_as_written() -> None:
    connected, _ = connected_to("unix:///tmp/neon/docker.sock")

    assert connected == ["/tmp/neon/docker.sock"]


def test_the_start_line_hides_a_password_in_docker_host() -> None:
    # It showed `Docker tcp://me:secret@127.0.0.1:2375`, though user-info is `<hidden>` everywhere else.
    config = load_config({"DOCKER_HOST": "tcp://me:secret@127.0.0.1:2375"}, lambda path: "", lambda path: "file")

    assert "Docker tcp://<hidden>@127.0.0.1:2375 (API negotiated)" in config.describe()
    assert "secret" not in config.describe()


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("tcp://me:secret@127.0.0.1:1", "cannot reach Docker at tcp://<hidden>@127.0.0.1:1: "),
        ("ssh://me:secret@manager-1", "Docker at ssh://<hidden>@manager-1: DOCKER_HOST ssh:// is not supported"),
    ],
)
def test_the_cli_hides_a_password_in_docker_host(host: str, said: str) -> None:
    # `vault status` said `cannot reach Docker at tcp://me:secret@...`.
    with pytest.raises(CliError) as refused:
        swarm_nodes({"DOCKER_HOST": host})

    assert str(refused.value).startswith(said)
    assert "secret" not in str(refused.value)
