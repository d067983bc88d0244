"""What Consul does with a session a snapshot restore brings back while the agent has its check critical or no longer
has it (the simulator's `SimConsul.restore` follows it). Without the service:

    python scripts/consul_restore_probe.py <host:port of an agent> critical|deregistered [seconds [wait]]

It registers a TTL check (3 s, passing) on the agent, creates a session bound to it and serfHealth (lock delay 0),
acquires a key, passes the check 2 s, saves a snapshot (GET /v1/snapshot), stops passing until the session is gone
(and, `deregistered`, deregisters the check), waits `wait` seconds (default 2), restores the snapshot (PUT
/v1/snapshot), then every 0.5 s reads the session, the key's holder, the catalog's check (/v1/health/node/<node>)
and the agent's, printing each change, until the session is gone (or `seconds`, default 200). Its last line is JSON.

Consul 1.8.7 (2026-12-07, 13 runs: the stack's dev server and the 3-server cluster's client agent): the session
always came back valid, holding the key, its check passing in the catalog while the agent had it critical (or had
none); the agent's next full anti-entropy sync wrote the agent's view to the catalog and Consul invalidated the
session then, 3.0 to 86.7 s after the restore (runs back to back, each restore about 10 s after the previous sync:
50.4-86.7 s; with `wait` 30-45 s, later in the cycle: 3.0, 7.6, 33.3 s). The full sync runs every 60 s plus up to
60 s of stagger: a restore at any moment is ended 0-120 s later, the range the simulator draws from.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any


def call(address: str, method: str, path: str, body: Any = None, raw: bool = False) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://{address}{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            out = answer.read()
            return answer.status, out if raw else (json.loads(out) if out else None)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def main(address: str, variant: str, limit: float, wait: float) -> None:
    started = time.monotonic()

    def say(*what: object) -> None:
        print(f"{time.monotonic() - started:7.2f}", *what, flush=True)

    tag = uuid.uuid4().hex[:6]
    check, key = f"neon-cluster-manager:probe-{tag}", f"probe/{tag}/leader"
    node = call(address, "GET", "/v1/agent/self")[1]["Config"]["NodeName"]
    call(address, "PUT", "/v1/agent/check/register", {"ID": check, "Name": check, "TTL": "3s", "Status": "passing"})
    created = call(address, "PUT", "/v1/session/create", {"Checks": ["serfHealth", check], "LockDelay": "0s"})[1]
    session = created["ID"]
    say("session", session, "acquires", call(address, "PUT", f"/v1/kv/{key}?acquire={session}", b"x"))
    for _ in range(4):
        call(address, "PUT", f"/v1/agent/check/pass/{check}")
        time.sleep(0.5)
    status, snapshot = call(address, "GET", "/v1/snapshot", raw=True)
    say("snapshot saved", status, len(snapshot), "bytes")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and call(address, "GET", f"/v1/session/info/{session}")[1]:
        time.sleep(0.25)
    say("the check critical, the session gone:", not call(address, "GET", f"/v1/session/info/{session}")[1])
    if variant == "deregistered":
        say("check deregistered", call(address, "PUT", f"/v1/agent/check/deregister/{check}"))
    time.sleep(wait)
    status, _ = call(address, "PUT", "/v1/snapshot", snapshot)
    restored = time.monotonic()
    say("snapshot restored", status)
    last: tuple[Any, ...] = ()
    gone: float | None = None
    while time.monotonic() - restored < limit:
        info = call(address, "GET", f"/v1/session/info/{session}")[1]
        entry = call(address, "GET", f"/v1/kv/{key}")[1]
        holder = entry[0].get("Session") if isinstance(entry, list) else None
        health = call(address, "GET", f"/v1/health/node/{node}")[1]
        catalog = next((c["Status"] for c in health if c["CheckID"] == check), "absent")
        agent = call(address, "GET", "/v1/agent/checks")[1].get(check, {}).get("Status", "absent")
        state = (bool(info), holder == session, catalog, agent)
        if state != last:
            say(
                f"+{time.monotonic() - restored:6.2f} s after the restore: session valid {state[0]}, holds the key "
                f"{state[1]}, catalog's check {catalog}, agent's check {agent}"
            )
            last = state
        if not info and gone is None:
            gone = time.monotonic() - restored
        if gone is not None and time.monotonic() - restored > gone + 3:
            break
        time.sleep(0.5)
    call(address, "PUT", f"/v1/agent/check/deregister/{check}")
    print(json.dumps({"variant": variant, "invalidated_after_s": gone, "limit_s": limit}))


if __name__ == "__main__":
    arguments = [float(argument) for argument in sys.argv[3:5]]
    main(sys.argv[1], sys.argv[2], *(arguments + [200.0, 2.0][len(arguments) :]))
