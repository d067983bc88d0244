"""Which failures are a peer's, and saying what went wrong in one short, stable phrase."""

from __future__ import annotations

import re

import consul
import docker.errors
import requests

#: What talking to Consul or Docker raises when the peer is down, slow or refuses (not a bug of ours).
CONSUL_ERRORS = (consul.ConsulException, requests.RequestException)
DOCKER_ERRORS = (docker.errors.DockerException, requests.RequestException)

OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")]+")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def reason(error: BaseException) -> str:
    """The error's message; for a connection error only the OS error (requests nests it deep in changing text)."""
    text = str(error)
    cause = OS_ERROR.search(text)
    return cause.group(0).strip() if cause else ADDRESS.sub("", text)


def describe(error: BaseException) -> str:
    """`Type: reason`."""
    return f"{type(error).__name__}: {reason(error)}"
