"""A benchmark's hold on the real stack: Consul keys, node labels and services, all put back afterwards."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import teststack
from actors.leadership import CHECK_NAME
from bench.common import ROOT, consul_client, service_env
from neon_cm.encoding import decode_definition, deflate
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, SETTINGS_PREFIX
from tests.service import Service

MANAGER = "manager-1"
#: Every key the service reads or writes lives under this prefix.
SERVICE_PREFIX = "neon/"
PUBLISHED = r"published the cluster definition"


class Lab:
    """The stack as one benchmark uses it: helpers that remember what they changed, so `close` can undo it."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.kv = consul_client(state)
        self.labels: set[tuple[str, str]] = set()
        self.services: list[Service] = []

    def settings(self, **values: str) -> None:
        """Delete every setting (so the service uses its defaults), then store `values`."""
        self.kv.kv.delete(SETTINGS_PREFIX, recurse=True)
        for name, value in values.items():
            self.kv.kv.put(SETTINGS_PREFIX + name, value)

    def seed_base(self) -> None:
        """Store the example base definition and delete the hash, so the service's next poll publishes."""
        base = json.loads((ROOT / "examples" / "cluster-definition.json").read_text())
        self.kv.kv.put(DEFINITION_KEY, deflate(json.dumps(base).encode()))
        self.kv.kv.delete(HASH_KEY)

    def label(self, node: str, key: str, value: str) -> None:
        """`docker node update --label-add key=value node` on manager-1, as an operator would."""
        teststack.docker(MANAGER, "node", "update", "--label-add", f"{key}={value}", node)
        self.labels.add((node, key))

    def start(self, events: bool = True, credentials: bool = False) -> Service:
        """Start the service against the stack; `events=False` sets SWARM_EVENTS=off."""
        env: dict[str, str] = {} if events else {"SWARM_EVENTS": "off"}
        if credentials:
            vault = self.state["vault"]
            keys = {"UnsealKeys": vault["keys_base64"], "KeyThreshold": vault["threshold"]}
            env["VAULT_CREDENTIALS"] = base64.b64encode(json.dumps(keys).encode()).decode()
        service = Service(service_env(self.state, **env))
        self.services.append(service)
        return service

    def start_published(self, events: bool = True, **settings: str) -> Service:
        """Seed the base definition, store `settings`, start the service and wait for its first publish."""
        self.settings(**settings)
        self.seed_base()
        service = self.start(events=events)
        service.wait_for(PUBLISHED, timeout=60)
        return service

    def stop(self, service: Service) -> dict[str, Any]:
        """SIGTERM the service; its exit code, how long it took, and anything it wrote to stderr."""
        self.services.remove(service)
        code, seconds = service.stop()
        return {"exit_code": code, "stop_seconds": seconds, "stderr_lines": len(service.stderr)}

    def hash_item(self) -> tuple[int, bytes | None]:
        """The hash key's Consul index and value (None when missing)."""
        index, item = self.kv.kv.get(HASH_KEY)
        return int(index), (item or {}).get("Value")

    def wait_hash_change(self, index: int, old: bytes | None, timeout: float) -> tuple[int, bytes | None]:
        """Block (Consul blocking queries from `index`) until the hash key holds something other than `old`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{HASH_KEY} did not change within {timeout:.0f}s")
            new_index, item = self.kv.kv.get(HASH_KEY, index=index, wait=f"{max(1, round(remaining))}s")
            value = (item or {}).get("Value")
            if value != old:
                return int(new_index), value
            index = int(new_index)

    def custom_label(self, node: str, key: str) -> str | None:
        """The value of a custom label of `node` in the definition now stored in Consul."""
        _, item = self.kv.kv.get(DEFINITION_KEY)
        nodes = decode_definition(item["Value"]).get("Nodes") or {}
        label: str | None = ((nodes.get(node) or {}).get("Labels") or {}).get("Custom", {}).get(key)
        return label

    def close(self) -> None:
        """Stop services still running, remove the labels added, unseal any sealed Vault."""
        for service in list(self.services):
            self.stop(service)
        for node, key in sorted(self.labels):
            teststack.docker(MANAGER, "node", "update", "--label-rm", key, node)
        self.labels.clear()
        for i, _ in enumerate(self.state["vault"]["nodes"]):
            if teststack.vault_seal_status(i)["sealed"]:
                teststack.vault_unseal(i)
        # A SIGKILLed instance leaves its lock check behind, critical (the next instance to start removes it).
        for check_id, check in self.kv.agent.checks().items():
            if check.get("Name") == CHECK_NAME and check.get("Status") == "critical":
                self.kv.agent.check.deregister(check_id)


@contextlib.contextmanager
def lab(state: dict[str, Any]) -> Iterator[Lab]:
    """A Lab on the stack; afterwards the service's Consul keys are exactly as they were before."""
    kv = consul_client(state)
    _, before = kv.kv.get(SERVICE_PREFIX, recurse=True)
    held = Lab(state)
    try:
        yield held
    finally:
        held.close()
        kv.kv.delete(SERVICE_PREFIX, recurse=True)
        for item in before or []:
            kv.kv.put(item["Key"], item["Value"], flags=item.get("Flags") or None)
