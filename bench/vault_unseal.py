"""Vault sealed to unsealed: restart one OpenBao node N times and time until the service has unsealed it."""

from __future__ import annotations

import argparse
import sys
import time

import teststack
from bench.common import Row, Section, save, summary
from bench.lab import Lab, lab

#: The OpenBao node restarted (0-based): manager-2's, a raft follower, so the cluster keeps its leader.
RESTARTED = 1


def measure(held: Lab, restarts: int, poll: float) -> Section:
    """Restart manager-2's OpenBao `restarts` times with the service running at `vault_poll_seconds=poll`."""
    held.settings(vault_poll_seconds=f"{poll:g}", vault_url_template="http://{addr}:8200")
    held.kv.kv.delete("neon/cluster/disable-auto-unseal")
    service = held.start(credentials=True)
    service.wait_for(r"Vault on manager-2 .* is unsealed")
    timings = []
    for _ in range(restarts):
        teststack.vault_restart(RESTARTED)  # returns once the restarted node answers seal-status: sealed from here
        sealed_at = time.monotonic()
        while teststack.vault_seal_status(RESTARTED)["sealed"]:
            time.sleep(0.01)
        timings.append(time.monotonic() - sealed_at)
    stopped = held.stop(service)
    stats = summary(timings)
    return Section(
        "vault",
        {"vault_poll_seconds": poll, "sealed_to_unsealed_seconds": stats, "service": stopped},
        (
            Row(f"Vault sealed to unsealed, p50 of {len(timings)} restarts (poll {poll:g} s)", f"{stats['p50']:.3f} s"),
            Row("Vault sealed to unsealed, max", f"{stats['max']:.3f} s"),
        ),
    )


def main() -> int:
    """`python -m bench.vault_unseal`: this benchmark alone, into bench/results/vault_unseal.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--poll", type=float, default=1.0, help="vault_poll_seconds for the run")
    args = parser.parse_args()
    with teststack.exclusive(), lab(teststack.up()) as held:
        section = measure(held, args.restarts, args.poll)
    stats = section.figures["sealed_to_unsealed_seconds"]
    path = save("vault_unseal", {"vault_poll_seconds": args.poll, "sealed_to_unsealed_seconds": stats})
    print(f"{'vault_poll_seconds':<22}{'n':>4}{'p50 s':>9}{'p95 s':>9}{'max s':>9}")
    print(f"{args.poll:<22g}{stats['n']:>4}{stats['p50']:>9.3f}{stats['p95']:>9.3f}{stats['max']:>9.3f}")
    print(f"written to {path}; service exit code {section.figures['service']['exit_code']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
