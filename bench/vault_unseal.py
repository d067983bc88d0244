"""Vault sealed to unsealed: restart one OpenBao node N times and time until the service has unsealed it."""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time

from bench.common import consul_client, save, service_env, stack, summary
from tests.service import Service


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--poll", default="1", help="vault_poll_seconds for the run")
    args = parser.parse_args()
    with stack.exclusive():
        return run(args)


def run(args: argparse.Namespace) -> int:
    state = stack.up()
    kv = consul_client(state)
    settings = "neon/services/neon-cluster-manager/"
    kv.kv.put(settings + "vault_poll_seconds", args.poll)
    kv.kv.put(settings + "vault_url_template", "http://{addr}:8200")
    kv.kv.delete("neon/cluster/disable-auto-unseal")
    keys = {"UnsealKeys": state["vault"]["keys_base64"], "KeyThreshold": state["vault"]["threshold"]}
    service = Service(service_env(state, VAULT_CREDENTIALS=base64.b64encode(json.dumps(keys).encode()).decode()))
    try:
        service.wait_for(r"Vault on manager-2 .* is unsealed")
        timings = []
        for _ in range(args.restarts):
            stack.vault_restart(1)  # returns once the restarted node answers seal-status: sealed from here
            sealed_at = time.monotonic()
            while stack.vault_seal_status(1)["sealed"]:
                time.sleep(0.01)
            timings.append(time.monotonic() - sealed_at)
    finally:
        code, _ = service.stop()
    stats = summary(timings)
    path = save("vault_unseal", {"vault_poll_seconds": float(args.poll), "sealed_to_unsealed_seconds": stats})
    print(f"{'vault_poll_seconds':<22}{'n':>4}{'p50 s':>9}{'p95 s':>9}{'max s':>9}")
    print(f"{args.poll:<22}{stats['n']:>4}{stats['p50']:>9.3f}{stats['p95']:>9.3f}{stats['max']:>9.3f}")
    print(f"written to {path}; service exit code {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
