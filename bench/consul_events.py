"""`python -m bench.consul_events [--rounds N]`: production Consul's events (issue 27) on teststack's 3-server Consul,
two instances on its agent, a label change right after each fault; per event, Consul's part (until the agent's
/v1/status/leader names a running leader and a read answers), the service's part (from then to the definition
write that carried the label) and the time without an active instance. Prints a table, the ERROR and WARN lines the
instances logged (addresses and names starred, counted) and the JSON of every run.

The events and their measurement are tests/consul_events.py's (tests/integration/test_consul_cluster.py runs each
once); this runs each `rounds` times on the stack of $NEON_CM_STACK_SLOT (started if down, stopped again then).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

import consul

import teststack
from bench.common import percentile, service_env
from neon_cm.encoding import deflate
from neon_cm.keys import DEFINITION_KEY, SETTINGS_PREFIX
from tests.consul_events import ACTIVE, EVENTS, PUBLISHED, Outcome, as_json, run_event
from tests.service import Service
from teststack import consul_cluster as cluster


def two_instances(state: dict[str, Any], agent: str) -> list[Service]:
    """Two instances on the agent: the first active and published, the second standing by."""
    host, port = agent.rsplit(":", 1)
    kv = consul.Consul(host=host, port=int(port))
    kv.kv.delete("neon/", recurse=True)
    kv.kv.put(DEFINITION_KEY, deflate(json.dumps({"Name": "bench", "Schema": "1.0", "Nodes": {}}).encode()))
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "60")
    first = Service(service_env(state, CONSUL_HTTP_ADDR=agent))
    first.wait_for(ACTIVE, timeout=60)
    first.wait_for(PUBLISHED, timeout=60)
    second = Service(service_env(state, CONSUL_HTTP_ADDR=agent))
    second.wait_for(r"standing by: .* is the active instance", timeout=60)
    return [first, second]


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "event              runs  Consul p50/max   service p50/max   no active p50/max   two active max  writes max"
    ]
    for event in EVENTS:
        runs = [o for o in outcomes if o.event == event]
        if not runs:
            continue

        def pair(values: list[float]) -> str:
            return f"{percentile(values, 0.5):5.2f} / {max(values):5.2f}"

        lines.append(
            f"{event:<18} {len(runs):>4}  {pair([o.consul_part for o in runs])}  {pair([o.service_part for o in runs])}"
            f"     {pair([o.without_active for o in runs])}        {max(o.two_active for o in runs):5.2f}"
            f"      {max(o.writes for o in runs):>3}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.consul_events")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="events, comma-separated (default: all)")
    args = parser.parse_args(argv)
    events = [event for event in EVENTS if not args.only or event in args.only.split(",")]
    outcomes: list[Outcome] = []
    with teststack.exclusive():
        was_up, _ = teststack.status()
        state = teststack.up()
        agent = cluster.cluster_up()["agent"]
        services = two_instances(state, agent)
        try:
            for round_ in range(args.rounds):
                for event in events:
                    outcome = run_event(event, services, f"r{round_}")
                    print(outcome, file=sys.stderr, flush=True)
                    outcomes.append(outcome)
        finally:
            said: dict[str, int] = {}
            for service in services:
                service.stop()
                for line in service.lines(r"\[(ERROR|WARN)\]"):
                    words = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|127\.[0-9.:]+|\S+:\d+:[0-9a-f]{4}", "*", line[31:])
                    said[words] = said.get(words, 0) + 1
            cluster.cluster_down()
            if not was_up and os.environ.get("NEON_CM_KEEP_STACK") != "1":
                teststack.down()
    print(table(outcomes))
    print("\n".join(f"{count:4} x {words}" for words, count in sorted(said.items())))
    print(as_json(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
