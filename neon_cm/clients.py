"""Building the Consul, Docker and Vault clients from the environment (no request is made here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import consul
import docker
import requests
from requests.adapters import HTTPAdapter

from neon_cm.environment import TlsSettings, consul_address, consul_token, parse_tls
from neon_cm.files import read_given

#: Seconds before a Consul or Docker request is given up (a hung peer must not hang an actor).
REQUEST_TIMEOUT = 10.0
#: Engine 20.10 and newer speak it; fixing it spares a version request at start.
DOCKER_API_VERSION = "1.41"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def consul_client(env: Mapping[str, str], timeout: float = REQUEST_TIMEOUT) -> consul.Consul:
    """A Consul client for CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN(_FILE); ValueError if the address is malformed
    or the token file cannot be read (the file is read here, so a rotated token applies at the next client)."""
    address = consul_address(env)
    token = consul_token(env, read_text)
    tls, _ = parse_tls(env, "CONSUL")  # its warnings are the start-up's (Config) or the CLI's to say
    client = consul.Consul(
        host=address.url_host,
        port=address.port,
        scheme=address.scheme,
        token=token,
        verify=tls.verify,
        # requests looks for a client certificate's files even for http://: a missing one would fail every request.
        cert=tls.cert if address.scheme == "https" else None,
        connections_timeout=timeout,
    )
    with_server_name(client.http.session, tls)
    # py-consul prefers CONSUL_HTTP_TOKEN from the process environment over the token it is given: when
    # CONSUL_HTTP_TOKEN_FILE is set too, the file must win (as with Consul's tools).
    client.token = token
    if token:
        # python-consul sends the token per endpoint, and its txn.put (the definition's one transaction) sends
        # none: with ACLs on, every publish would be refused. The session sends it with every request.
        client.http.session.headers["X-Consul-Token"] = token
    return client


def read_text(path: str) -> str:
    """A token or secret file's text (a BOM dropped), never blocking on a pipe nor reading a device (files.py)."""
    return read_given(path).decode("utf-8-sig")


def docker_api(env: Mapping[str, str], timeout: float = REQUEST_TIMEOUT) -> docker.APIClient:
    """A low-level Docker client for DOCKER_HOST (default: the local socket)."""
    return docker.APIClient(
        base_url=env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST, version=DOCKER_API_VERSION, timeout=timeout
    )


#: (connect, read) seconds for Vault: a hung Vault must not hold a monitor or the Unsealer for long.
VAULT_TIMEOUT = (2.0, 3.0)


def vault_session(tls: TlsSettings) -> requests.Session:
    """A session for Vault's unauthenticated endpoints (sys/seal-status, sys/health, sys/unseal), checking the
    server's name as `tls` says (the gateway gives verify and cert with each request). It sends no token: not even
    VAULT_TOKEN or ~/.vault-token, which hvac would pick up for every manager."""
    return with_server_name(requests.Session(), tls)


class ServerNameAdapter(HTTPAdapter):
    """HTTPS that checks the server's certificate for `server_name` (and sends it as SNI), not the URL's host:
    the *_TLS_SERVER_NAME of Consul's and Vault's tools, for a peer reached by an address its certificate
    does not name."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        kwargs["assert_hostname"] = self.server_name
        super().init_poolmanager(*args, **kwargs)


def with_server_name(session: requests.Session, tls: TlsSettings) -> requests.Session:
    """The session, its https:// requests checked against `tls.server_name` when one is set."""
    if tls.server_name:
        session.mount("https://", ServerNameAdapter(tls.server_name))
    return session
