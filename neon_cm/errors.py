"""Which failures are a peer's, and saying what went wrong in one short, stable phrase."""

from __future__ import annotations

import json
import re

import consul
import docker.errors
import hvac.exceptions
import requests
import urllib3.exceptions

#: What any HTTP peer can make a request raise: refused, reset, timed out, TLS trouble, a CA file
#: that is not there (requests raises a plain OSError), a body that is not the JSON it should be.
PEER_ERRORS = (OSError, requests.RequestException, urllib3.exceptions.HTTPError, json.JSONDecodeError)
#: What talking to Consul, Docker or Vault raises when the peer is down, slow or refuses (not a bug of ours).
CONSUL_ERRORS = (consul.ConsulException, *PEER_ERRORS)
DOCKER_ERRORS = (docker.errors.DockerException, *PEER_ERRORS)
VAULT_ERRORS = (hvac.exceptions.VaultError, *PEER_ERRORS)

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
