"""Prepare the local stack for the demo: a base definition, quick polls, and the environment to run with.

Run from the repository's root as `python -m scripts.demo_setup` (scripts/demo does), so teststack imports."""

from __future__ import annotations

import base64
import json
import shlex
import sys
from pathlib import Path

import consul

import teststack
from neon_cm.encoding import deflate
from neon_cm.keys import DEFINITION_KEY, SETTINGS_PREFIX

ROOT = Path(__file__).resolve().parent.parent

DEMO_SETTINGS = {"node_poll_seconds": "5", "vault_poll_seconds": "5", "vault_url_template": "http://{addr}:8200"}


def main() -> int:
    """Seed Consul for the demo and print the service's environment as shell export lines."""
    state = teststack.load()
    host, port = state["consul"]["http_addr"].rsplit(":", 1)
    client = consul.Consul(host=host, port=int(port))
    base = json.loads((ROOT / "examples" / "cluster-definition.json").read_text())
    # cas=0: keep a definition that is already there (from an earlier demo or the tests).
    client.kv.put(DEFINITION_KEY, deflate(json.dumps(base).encode()), cas=0)
    for name, value in DEMO_SETTINGS.items():
        client.kv.put(SETTINGS_PREFIX + name, value)
    manager = state["nodes"][0]
    unseal = {"UnsealKeys": state["vault"]["keys_base64"], "KeyThreshold": state["vault"]["threshold"]}
    env = {
        "CONSUL_HTTP_ADDR": state["consul"]["http_addr"],
        "DOCKER_HOST": manager["docker_host"],
        "VAULT_CREDENTIALS": base64.b64encode(json.dumps(unseal).encode()).decode(),
    }
    print("\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
