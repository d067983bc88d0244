"""A single-node OpenBao of a test's own (in-memory storage, plain HTTP) on manager-1's address, so that a service
whose `vault_url_template` is `http://{addr}:<its port>` finds it as manager-1's Vault (the other managers'
addresses have nothing on that port)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import requests

from tests.integration.test_vault_mtls import MANAGER_1
from tests.prometheus_server import free_port
from tests.server_process import ServerProcess
from teststack.binaries import find_bao


class OwnBao(ServerProcess):
    """`bao server` (the stack's binary, teststack.binaries.find_bao) with `seal_stanza` added to its configuration
    ("" for Shamir's seal), not yet initialised."""

    name = "OpenBao"

    def __init__(self, folder: Path, seal_stanza: str = "") -> None:
        self.port = free_port(MANAGER_1)
        config = folder / "bao.hcl"
        config.write_text(
            f'storage "inmem" {{}}\n'
            f'listener "tcp" {{\n  address = "{MANAGER_1}:{self.port}"\n  tls_disable = true\n}}\n'
            f'{seal_stanza}disable_mlock = true\napi_addr = "{self.url}"\n'
        )
        self.log = folder / "bao.log"
        environment = {name: value for name, value in os.environ.items() if not name.startswith(("VAULT_", "BAO_"))}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [find_bao(), "server", f"-config={config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**environment, "HOME": str(folder)},
            )
        self.wait_until_answering(lambda: self.api("GET", "/v1/sys/seal-status"))

    @property
    def url(self) -> str:
        return f"http://{MANAGER_1}:{self.port}"

    def answer(self, method: str, path: str, body: Any = None, token: str = "") -> requests.Response:
        """One request, whatever its status."""
        return requests.request(
            method,
            self.url + path,
            data=json.dumps(body) if body is not None else None,
            headers={"X-Vault-Token": token} if token else {},
            timeout=10,
        )

    def api(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        """One request that must succeed: its JSON body (None when empty)."""
        answer = self.answer(method, path, body, token)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def seal(self, root_token: str) -> None:
        """PUT /v1/sys/seal with the root token (once the node is active: retried until it answers)."""
        self.wait_until_answering(lambda: self.api("PUT", "/v1/sys/seal", token=root_token))
