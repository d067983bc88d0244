"""Which failures are a peer's, and saying what went wrong in one short, stable phrase."""

from __future__ import annotations

import json
import re

import consul
import docker.errors
import requests
import urllib3.exceptions

#: What a request to a peer can raise besides the client library's own refusals: requests' and urllib3's errors,
#: and the OSError requests raises itself (a CA bundle it cannot find).
REQUEST_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
#: What any HTTP peer can make a request raise: refused, reset, timed out, TLS trouble, a CA file
#: that is not there (requests raises a plain OSError), a body that is not the JSON it should be.
PEER_ERRORS = (*REQUEST_ERRORS, json.JSONDecodeError)
#: What talking to Consul or Docker raises when the peer is down, slow or refuses (not a bug of ours).
CONSUL_ERRORS = (consul.ConsulException, *PEER_ERRORS)
DOCKER_ERRORS = (docker.errors.DockerException, *PEER_ERRORS)

#: What to say about a request Consul's ACLs refused (HTTP 403): retrying will not help, the policy must change.
ACL_ADVICE = "the Consul token's ACL policy does not allow it (see examples/consul-acl-policy.hcl)"
#: What to say when Consul does not know the token at all (403 `ACL not found`): the policy is not the problem.
UNKNOWN_TOKEN = (
    "Consul does not know the token (403 ACL not found): it is wrong, expired or deleted; "
    "check CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE"
)
#: What a TLS handshake with a peer that answers plain HTTP ends in (OpenSSL's words), and what to say instead.
PLAIN_HTTP_SIGNS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure")
PLAIN_HTTP = "the server answered plain HTTP: use http:// or check the port"

OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")]+")
#: An OSError as its repr appears nested in requests' texts: `ConnectionResetError(104, 'Connection reset by peer')`.
OS_ERROR_REPR = re.compile(r"\w+Error\((-?\d+), '([^']+)'\)")
SSL_ERROR = re.compile(r"\[SSL: \w+\] [^(]+|hostname '[^']*' doesn't match '[^']*'")
ADDRESS = re.compile(r" at 0x[0-9a-f]+")
#: What requests raises (a plain OSError) for a certificate file that is not there, and what each file is.
MISSING_TLS_FILE = re.compile(
    r"Could not find (a suitable TLS CA certificate bundle|the TLS certificate file|the TLS key file), "
    r"invalid path: (\S+)"
)
TLS_FILE_WORDS = {
    "a suitable TLS CA certificate bundle": "CA bundle (CACERT)",
    "the TLS certificate file": "client certificate (CLIENT_CERT)",
    "the TLS key file": "client key (CLIENT_KEY)",
}
#: How requests says how long it waited: `Read timed out. (read timeout=1.0)`, `(connect timeout=2.0)`.
TIMEOUT = re.compile(r"timed out\. \((?:read|connect) timeout=([0-9.]+)\)")


#: What `reason` says of a server that took the connection and closed it without an answer.
CLOSED_UNANSWERED = "the server closed the connection without answering"


def reason(error: BaseException) -> str:
    """The error's message; for a connection or TLS error only the OS or OpenSSL error (requests nests it deep
    in changing text): `[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, ...`."""
    text = str(error)
    if answered_plain_http(error):
        return PLAIN_HTTP
    waited = TIMEOUT.search(text)
    if isinstance(error, requests.Timeout) or waited:
        return f"no answer within {float(waited.group(1)):g} s" if waited else "no answer in time"
    if "RemoteDisconnected" in text:
        return CLOSED_UNANSWERED
    missing = MISSING_TLS_FILE.search(text)
    if missing:
        return f"the {TLS_FILE_WORDS[missing.group(1)]} {missing.group(2)} does not exist"
    cause = SSL_ERROR.search(text) or OS_ERROR.search(text)
    if cause:
        return cause.group(0).strip()
    nested = OS_ERROR_REPR.search(text)
    if nested:
        return f"[Errno {nested.group(1)}] {nested.group(2)}"
    return ADDRESS.sub("", text)


def answered_plain_http(error: BaseException) -> bool:
    """Whether a TLS handshake failed because the peer speaks plain HTTP (an https:// URL on an http port)."""
    text = str(error)
    return "SSL" in text and any(sign in text for sign in PLAIN_HTTP_SIGNS)


#: What a Consul 1.8 client agent answers (500) while its servers hold an election: once the followers know the
#: leader is gone, and before, while the agent still forwards to the dead leader (tests/integration/
#: test_consul_cluster.py pins both on three real servers).
CONSUL_NO_LEADER = ("No cluster leader", "rpc error making call", "rpc error getting client")


def consul_leaderless(text: str) -> bool:
    """Whether Consul's answer `text` says its servers have no leader (Consul is up; an election is under way)."""
    return any(words in text for words in CONSUL_NO_LEADER)


def describe(error: BaseException) -> str:
    """`Type: reason`; a refusal by Consul's ACLs says so in words (it is no outage: retrying will not help), and
    so does a token Consul does not know, and an https:// request a plain-HTTP server answered."""
    if isinstance(error, consul.ACLPermissionDenied):
        return acl_refusal(error)
    if answered_plain_http(error):
        return PLAIN_HTTP
    return f"{type(error).__name__}: {reason(error)}"


def acl_refusal(error: BaseException) -> str:
    """A 403 from Consul in words: an unknown token (`ACL not found`) is not a policy that lacks a right."""
    if "acl not found" in str(error).lower():
        return UNKNOWN_TOKEN
    return f"permission denied (403): {ACL_ADVICE}"


def os_reason(error: BaseException) -> str:
    """The useful part of a connection failure (`[Errno 111] Connection refused`), else the error's text."""
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if answered_plain_http(error):
        return PLAIN_HTTP
    found = OS_ERROR.search(str(error))
    if found:
        return found.group(0).strip()
    pending: list[object] = [error]
    while pending:  # requests and urllib3 nest the OS error in args (docker's unix socket does)
        current = pending.pop()
        if isinstance(current, OSError) and current.errno is not None and current.strerror:
            return f"[Errno {current.errno}] {current.strerror}"
        if isinstance(current, BaseException):
            pending.extend(current.args)
    return reason(error)
