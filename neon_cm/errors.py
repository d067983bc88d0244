"""Which failures are a peer's, and saying what went wrong in one short, stable phrase."""

from __future__ import annotations

import json
import re

import consul
import docker.errors
import requests
import urllib3.exceptions

#: What any HTTP peer can make a request raise: refused, reset, timed out, TLS trouble, a CA file
#: that is not there (requests raises a plain OSError), a body that is not the JSON it should be.
PEER_ERRORS = (OSError, requests.RequestException, urllib3.exceptions.HTTPError, json.JSONDecodeError)
#: What talking to Consul or Docker raises when the peer is down, slow or refuses (not a bug of ours).
CONSUL_ERRORS = (consul.ConsulException, *PEER_ERRORS)
DOCKER_ERRORS = (docker.errors.DockerException, *PEER_ERRORS)

#: What to say about a request Consul's ACLs refused (HTTP 403): retrying will not help, the policy must change.
ACL_ADVICE = "the Consul token's ACL policy does not allow it (see examples/consul-acl-policy.hcl)"

OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")]+")
SSL_ERROR = re.compile(r"\[SSL: \w+\] [^(]+|hostname '[^']*' doesn't match '[^']*'")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def reason(error: BaseException) -> str:
    """The error's message; for a connection or TLS error only the OS or OpenSSL error (requests nests it deep
    in changing text): `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, ...`."""
    text = str(error)
    cause = SSL_ERROR.search(text) or OS_ERROR.search(text)
    return cause.group(0).strip() if cause else ADDRESS.sub("", text)


def describe(error: BaseException) -> str:
    """`Type: reason`; a refusal by Consul's ACLs says so in words (it is no outage: retrying will not help)."""
    if isinstance(error, consul.ACLPermissionDenied):
        return f"permission denied (403): {ACL_ADVICE}"
    return f"{type(error).__name__}: {reason(error)}"
