"""A second, real Consul agent for tests: -dev mode on free loopback ports, ACLs on (default deny), TLS optional."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import requests

from tests.prometheus_server import CACHE, free_port
from tests.server_process import ServerProcess


def consul_binary() -> str:
    """The Consul 1.8.7 the stack installed (scripts/install-deps)."""
    return str(Path(CACHE) / "bin" / "consul")


class ConsulServer(ServerProcess):
    """One `consul agent -dev` with `acl { enabled = true, default_policy = "deny" }` and a master token.

    With `tls` (CA, certificate, key, all PEM files) it also serves HTTPS on `https_port`, requiring client
    certificates signed by that CA (`verify_incoming`). The master token reaches the agent in its config
    file, never in its arguments.
    """

    name = "Consul"

    def __init__(self, directory: Path, tls: dict[str, str] | None = None) -> None:
        self.master = str(uuid.uuid4())
        self.http_port, self.https_port = free_port(), free_port()
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.https_url = f"https://127.0.0.1:{self.https_port}"
        config: dict[str, Any] = {
            "node_name": f"neon-acl-test-{self.http_port}",
            "bind_addr": "127.0.0.1",
            "client_addr": "127.0.0.1",
            "disable_update_check": True,
            "ports": {
                "http": self.http_port,
                "https": self.https_port if tls else -1,
                "dns": -1,
                "grpc": -1,
                "serf_lan": free_port(),
                "serf_wan": free_port(),
                "server": free_port(),
            },
            "acl": {
                "enabled": True,
                "default_policy": "deny",
                "enable_token_persistence": False,
                "tokens": {"master": self.master},
            },
        }
        if tls:
            config.update(ca_file=tls["ca"], cert_file=tls["cert"], key_file=tls["key"], verify_incoming=True)
        config_file = directory / "consul.json"
        config_file.write_text(json.dumps(config))
        os.chmod(config_file, 0o600)
        self.log = directory / "consul.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [consul_binary(), "agent", "-dev", f"-config-file={config_file}"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """One request to the HTTP API with the master token (or `token`); the answer's JSON (None if empty)."""
        answer = requests.request(
            method,
            self.http_url + path,
            headers={"X-Consul-Token": token or self.master},
            data=body if isinstance(body, (bytes, type(None))) else json.dumps(body),
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until the master token works (a leader elected and the ACL system bootstrapped)."""
        self.wait_until_answering(lambda: self.api("GET", "/v1/acl/token/self"), timeout)

    def token_for(self, name: str, rules: str) -> str:
        """A new token whose only policy is `rules` (HCL), named `name`: PUT /v1/acl/policy, PUT /v1/acl/token."""
        self.api("PUT", "/v1/acl/policy", {"Name": name, "Rules": rules})
        return str(self.api("PUT", "/v1/acl/token", {"Description": name, "Policies": [{"Name": name}]})["SecretID"])

    def put(self, key: str, value: bytes) -> None:
        """Write a key with the master token (test setup)."""
        self.api("PUT", f"/v1/kv/{key}", value)

    def get(self, key: str) -> bytes | None:
        """A key's raw value, read with the master token; None when missing."""

        answer = requests.get(f"{self.http_url}/v1/kv/{key}?raw", headers={"X-Consul-Token": self.master}, timeout=10)
        return None if answer.status_code == 404 else answer.content
