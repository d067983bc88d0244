"""Building the Consul and Docker clients from the environment (no request is made here)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import consul
import docker
import hvac

from neon_cm.environment import consul_token, parse_consul_address

#: Seconds before a Consul or Docker request is given up (a hung peer must not hang an actor).
REQUEST_TIMEOUT = 10.0
#: Engine 20.10 and newer speak it; fixing it spares a version request at start.
DOCKER_API_VERSION = "1.41"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def consul_client(env: Mapping[str, str], timeout: float = REQUEST_TIMEOUT) -> consul.Consul:
    """A Consul client for CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN(_FILE); ValueError if the address is malformed
    or the token file cannot be read (the file is read here, so a rotated token applies at the next client)."""
    address = parse_consul_address(env.get("CONSUL_HTTP_ADDR"))
    token = consul_token(env, lambda path: Path(path).read_text(encoding="utf-8-sig"))
    client = consul.Consul(
        host=address.url_host, port=address.port, scheme=address.scheme, token=token, connections_timeout=timeout
    )
    # py-consul prefers CONSUL_HTTP_TOKEN from the process environment over the token it is given: when
    # CONSUL_HTTP_TOKEN_FILE is set too, the file must win (as with Consul's tools).
    client.token = token
    if token:
        # python-consul sends the token per endpoint, and its txn.put (the definition's one transaction) sends
        # none: with ACLs on, every publish would be refused. The session sends it with every request.
        client.http.session.headers["X-Consul-Token"] = token
    return client


def docker_api(env: Mapping[str, str], timeout: float = REQUEST_TIMEOUT) -> docker.APIClient:
    """A low-level Docker client for DOCKER_HOST (default: the local socket)."""
    return docker.APIClient(
        base_url=env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST, version=DOCKER_API_VERSION, timeout=timeout
    )


#: (connect, read) seconds for Vault: a hung Vault must not hold a monitor or the Unsealer for long.
VAULT_TIMEOUT = (2.0, 3.0)


def vault_client(url: str, verify: bool | str) -> hvac.Client:
    """An unauthenticated hvac client for one Vault node (only sys/seal-status, sys/health, sys/unseal).

    The empty token keeps hvac from picking up VAULT_TOKEN or ~/.vault-token and sending it to every manager.
    """
    return hvac.Client(url=url, token="", verify=verify, timeout=VAULT_TIMEOUT)
