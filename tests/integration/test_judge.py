"""A real-stack fault run judged by the simulator's invariant functions (sim/judge.py), from a History recorded
from what the servers received and answered and what the services logged.

Where each record comes from:
- ShareReceived / ResetReceived: each instance reaches the Vaults through a recording HTTP proxy of its own
  (HTTP_PROXY; requests honours it): the proxy knows the sender by construction, and records the time it forwarded
  each PUT /v1/sys/unseal (same host: the Vault receives it within a millisecond) and whether it was a reset. It
  never keeps a share. (OpenBao's file audit device cannot serve: sys/unseal is answered outside the audited
  request path and a sealed node has no audit device loaded; OpenBao 2 also refuses enabling one through the API.)
- LockAcquired / LockLost: the lock key (neon/leader) polled in Consul every 50 ms: its Session, and its value (the
  holder's instance name, which the service's `this instance (...) is active` line ties to a process).
- LeaseTold: not logged by the service; each session's time holding the key stands in for it (told at its
  acquisition, until Consul released it). So "a lease told is a lease held" is not judged here (it holds by
  construction), and "never two unsealers" is judged against the lock as Consul held it.
- ErrorLogged / SeenUnsealed: the monitors' ERROR lines about a sealed Vault, and their `unsealed` lines.
- Sealed / Unsealed: every node's seal-status polled every 100 ms.
- Paused: when the test SIGSTOPped and SIGCONTed the active instance.
- Written: the services' `published the cluster definition` lines, with the holder of that moment per the lock's
  records (the line follows Consul's answer).
- ActorDied / ActorRestarted: the supervisors' crash and restart lines.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import consul
import pytest

import teststack as stack
from neon_cm.keys import LEADER_KEY
from sim import judge as j
from tests.http_relay import relay
from tests.integration.test_definition_pipeline import ACTIVE, seed_base
from tests.service import Service
from tests.waiting import wait_for_polls, wait_until
from teststack.openbao import seal_status

MANAGER_2_VAULT = 1
STANDING_BY = r"standing by: .* is the active instance"
STEPPED_DOWN = r"\[WARN\] \[module:leadership\] this instance is no longer active"
STOPPING = r"\[INFO\] \[module:main\] stopping$"
RELEASED = r"\[INFO\] \[module:leadership\] released the lock "
#: How long the stopped instance's proxy holds each unseal request before forwarding it: well under the Vault
#: client's read timeout (3 s), which bounds the wait of a stop; well over a standby's takeover (0.5 s).
HOLD_SECONDS = 1.5
LINE = re.compile(r"^\[(\S+)\] \[(\w+)\] \[module:([^\]]+)\] (.*)$")
#: The service's check TTL (neon_cm/lease.py CHECK_TTL_SECONDS); a sealed Vault is reported within two polls (0.5 s
#: here) + the TTL + 1.5 s, as in the simulator, + 10 s for a loaded test machine (a wide bound: no timing claim).
CHECK_TTL = 3.0
BOUNDS = j.Bounds(check_ttl=CHECK_TTL, vault_poll=0.5, report_margin=CHECK_TTL + 1.5 + 10.0, restart=70.0)


class RecordingProxy:
    """A plain-HTTP forward proxy for one instance: forwards every request and records each unseal request's time
    and kind (share or reset), never its body. With `hold`, it keeps each unseal request that many seconds after
    reading it whole and before forwarding it: a Vault slow to take a request in, which the sender has written and
    can no longer call back."""

    def __init__(self, sender: str, origin: float, hold: float = 0.0) -> None:
        self.sender = sender
        self.hold = hold
        self.holding = threading.Event()
        """Set as the first unseal request is held."""
        self.taken: list[float] = []
        """When each unseal request was read whole (seconds since the run's origin): the ones not in `records` yet
        are held, or on their way to the Vault."""
        self.records: list[tuple[float, str, bool]] = []
        """(seconds since the run's origin when it was forwarded, Vault host:port, reset)."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if target.path == "/v1/sys/unseal" and body is not None:
                    try:
                        reset = bool(json.loads(body).get("reset"))
                    except ValueError:
                        reset = False
                    proxy.taken.append(time.time() - origin)
                    if proxy.hold:
                        proxy.holding.set()
                        time.sleep(proxy.hold)
                    proxy.records.append((time.time() - origin, target.netloc, reset))
                connection = http.client.HTTPConnection(target.netloc, timeout=10)
                try:
                    relay(self, connection, target.path + (f"?{target.query}" if target.query else ""), body)
                except OSError:
                    self.send_error(502)
                finally:
                    connection.close()

            do_GET = do_PUT = do_POST = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Watcher:
    """Polls the lock key in Consul (50 ms) and every Vault's seal-status (100 ms) from a thread of its own."""

    def __init__(self, kv: consul.Consul, vaults: list[dict[str, Any]], origin: float) -> None:
        self.kv, self.vaults, self.origin = kv, vaults, origin
        self.lock: list[tuple[float, str | None, str | None]] = []
        """(t, session, holder's instance name) at every change."""
        self.seals: list[tuple[float, str, bool]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        last_lock: tuple[str | None, str | None] | None = None
        last_seal: dict[str, bool] = {}
        ticks = 0
        while not self.stopping.wait(0.05):
            now = time.time() - self.origin
            try:
                _, item = self.kv.kv.get(LEADER_KEY)
            except Exception:  # noqa: BLE001 -- a missed look: the next one sees the change
                item = None
            lock = (item.get("Session"), (item.get("Value") or b"").decode()) if item else (None, None)
            if lock[0] is None:
                lock = (None, None)
            if lock != last_lock:
                self.lock.append((now, *lock))
                last_lock = lock
            ticks += 1
            if ticks % 2:
                continue
            for node in self.vaults:
                try:
                    sealed = bool(seal_status(node["url"])["sealed"])
                except Exception:  # noqa: BLE001 -- down while it restarts: not a seal state
                    continue
                if last_seal.get(node["hostname"]) != sealed:
                    self.seals.append((time.time() - self.origin, node["hostname"], sealed))
                    last_seal[node["hostname"]] = sealed

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def log_time(line: str, origin: float) -> float | None:
    found = LINE.match(line)
    if found is None:
        return None
    return datetime.fromisoformat(found.group(1)).timestamp() - origin


def service_records(name: str, service: Service, origin: float) -> Iterator[j.Record]:
    """What one service's log lines tell: ERROR about a sealed Vault, a monitor seeing it unsealed, a write, an
    actor's death and restart."""
    for line in service.stdout:
        found = LINE.match(line)
        t = log_time(line, origin)
        if found is None or t is None:
            continue
        level, module, text = found.group(2), found.group(3), found.group(4)
        if module.startswith("vault-monitor:"):
            host = module.removeprefix("vault-monitor:")
            if level == "ERROR":
                yield j.ErrorLogged(t, name, host, standby="(standing by, but " in text)
            elif re.match(r"Vault on \S+ \(.*\) is unsealed", text):
                yield j.SeenUnsealed(t, name, host)
        if module == "definition-publisher" and text.startswith("published the cluster definition"):
            yield j.Written(t, name, None, "neon/definition")
        crashed = re.match(r"(\S+) .*; restarting .* in ([\d.]+) s$", text)
        if crashed and level == "ERROR":  # the supervisor's line: the restart follows its backoff (inferred)
            yield j.ActorDied(t, name, crashed.group(1), (module,))
            yield j.RestartScheduled(t, name, crashed.group(1))
            yield j.ActorRestarted(t + float(crashed.group(2)), name, crashed.group(1))
        if level == "ERROR" and text.startswith("giving up:"):
            yield j.HealthNamed(t, name, module)


def instance_names(services: dict[str, Service]) -> dict[str, str]:
    """The lock value (host-pid-tag) of each service, from its `this instance (...) is active` line."""
    names: dict[str, str] = {}
    for name, service in services.items():
        for line in service.lines(ACTIVE):
            found = re.search(r"this instance \((.*)\) is active", line)
            if found:
                names[found.group(1)] = name
    return names


def active_times(services: dict[str, Service], origin: float) -> dict[str, list[float]]:
    """When each service said `this instance (...) is active` (its log's clock, as its writes' lines)."""
    return {name: logged_at(service, ACTIVE, origin) for name, service in services.items()}


def logged_at(service: Service, pattern: str, origin: float) -> list[float]:
    """When `service` logged each line matching `pattern` (its log's clock, seconds since the run's origin)."""
    return [t for line in service.lines(pattern) if (t := log_time(line, origin)) is not None]


def lock_records(
    watcher: Watcher, names: dict[str, str], end: float, active: dict[str, list[float]] | None = None
) -> list[j.Record]:
    """LockAcquired / LockLost from the lock key's changes; the lease each session held, told at its acquisition.

    The key is polled every 50 ms, so a change is seen up to a poll late; the holder's own `is active` line, logged
    right after Consul granted the lock, dates the acquisition when it is earlier (a write it logs at once must
    not look older than its own lock)."""
    records: list[j.Record] = []
    held: tuple[float, str, str] | None = None
    for t, session, value in watcher.lock:
        if held is not None:
            start, owner, old = held
            records += [j.LeaseTold(start, owner, old, t), j.LockLost(t, owner, old, "")]
            held = None
        if session is not None and value is not None:
            owner = names.get(value, value)
            said = [at for at in (active or {}).get(owner, []) if t - 1.0 <= at <= t]
            acquired = min([t, *said])
            records.append(j.LockAcquired(acquired, owner, session))
            held = (acquired, owner, session)
    if held is not None:
        records.append(j.LeaseTold(held[0], held[1], held[2], end + 60.0))
    return records


@pytest.fixture
def proxies() -> Iterator[Callable[..., RecordingProxy]]:
    made: list[RecordingProxy] = []

    def make(sender: str, origin: float, hold: float = 0.0) -> RecordingProxy:
        proxy = RecordingProxy(sender, origin, hold)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


def test_a_sigstopped_active_instance_while_a_vault_restarts_sealed_is_judged_by_the_sims_invariants(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    vault: dict[str, Any],
    with_keys: dict[str, str],
    proxies: Callable[..., RecordingProxy],
    real_stack: dict[str, Any],
) -> None:
    """Two instances, each reaching the Vaults through its own recording proxy. The active one is SIGSTOPped past
    its check's TTL; meanwhile manager-2's Vault restarts sealed; the standby takes the lock and unseals it; the
    stopped one is resumed and steps down. The History recorded (see the module's docstring) breaks none of: never
    two unsealers, never a stale writer, always reported, nothing dead unseen."""
    origin = time.time()
    seed_base(kv)
    first_proxy, second_proxy = proxies("i1", origin), proxies("i2", origin)
    watcher = Watcher(kv, vault["nodes"], origin)
    services: dict[str, Service] = {}
    try:
        services.update(active_and_standby(start_service, with_keys, real_stack, first_proxy, second_proxy))
        first, second = services["i1"], services["i2"]
        time.sleep(2.0)  # a few polls of both: every Vault unsealed and seen so

        stopped = time.time() - origin
        os.kill(first.process.pid, signal.SIGSTOP)
        try:
            stack.vault_restart(MANAGER_2_VAULT)
            second.wait_for(ACTIVE, timeout=30)
            wait_unsealed(MANAGER_2_VAULT, second)
            time.sleep(max(0.0, stopped + 2 * CHECK_TTL - (time.time() - origin)))
        finally:
            resumed = time.time() - origin
            os.kill(first.process.pid, signal.SIGCONT)
        first.wait_for(STEPPED_DOWN, timeout=30)
        time.sleep(3.0)  # the woken instance's next polls and attempts, if it made any
    finally:
        watcher.stop()
    end = time.time() - origin
    paused = j.Paused(stopped, "i1", resumed)

    history, findings, summary = judged(vault, watcher, services, (first_proxy, second_proxy), origin, end, paused)
    summary += f"; paused {stopped:.1f}-{resumed:.1f} s"
    print(summary)
    shares = [record for record in history if isinstance(record, (j.ShareReceived, j.ResetReceived))]

    assert [] == findings, summary
    assert {"i2"} <= {record.sender for record in shares if record.vault == "manager-2"}, summary
    assert 2 <= len(history.of(j.LockAcquired)), summary
    # No ERROR line is required: a standby that takes over unseals a Vault it knew sealed at once, often before a
    # poll of its own says so at ERROR; "always reported" (judged above) requires one only past its bound.
    # The negative control on real records: the woken instance's shares judged as if it still held no lease.
    forged = j.History([*history, j.ShareReceived(resumed + 0.5, "manager-2", "i1")])
    assert [j.NEVER_TWO_UNSEALERS] == [f.invariant for f in j.never_two_unsealers(forged, BOUNDS)]


def test_an_active_instance_stopped_while_its_share_is_on_its_way_gives_the_lock_up_only_once_the_vault_took_it(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    vault: dict[str, Any],
    with_keys: dict[str, str],
    proxies: Callable[..., RecordingProxy],
    real_stack: dict[str, Any],
) -> None:
    """Two instances; the active one's proxy holds each PUT /v1/sys/unseal HOLD_SECONDS before forwarding it (a
    Vault slow to take a request in). manager-2's Vault restarts sealed, and as the active instance's first unseal
    request is held, it is sent SIGTERM. Its stop shuts the Unsealer's gate and waits for that request to be
    answered before it releases the lock (actors/under_lock.py), so the standby takes the lock only after the Vault
    received it: the History breaks none of the judged invariants, the new active instance unseals the Vault, and
    the old one's `released the lock` line comes after its held request reached the Vault. Before 4eb57a7 the lock
    was released at once and the held request reached the Vault after the standby took it (sim seed 4153)."""
    origin = time.time()
    seed_base(kv)
    first_proxy, second_proxy = proxies("i1", origin, HOLD_SECONDS), proxies("i2", origin)
    watcher = Watcher(kv, vault["nodes"], origin)
    services: dict[str, Service] = {}
    try:
        services.update(active_and_standby(start_service, with_keys, real_stack, first_proxy, second_proxy))
        first, second = services["i1"], services["i2"]
        for service in (first, second):
            wait_for_polls(service, 0, count=2)  # every Vault seen unsealed by both

        stack.vault_restart(MANAGER_2_VAULT)
        wait_until(
            first_proxy.holding.is_set,
            timeout=30,
            what="the active instance's first unseal request held by its proxy",
            detail=lambda: "\n".join(first.stdout[-30:]),
        )
        stopped = time.time() - origin
        code, took = first.stop()
        second.wait_for(ACTIVE, timeout=30)
        wait_unsealed(MANAGER_2_VAULT, second)
        wait_until(
            lambda: any(t > stopped and (host, sealed) == ("manager-2", False) for t, host, sealed in watcher.seals),
            timeout=10,
            what="the watcher seeing manager-2's Vault unsealed",
        )
        wait_until(
            lambda: len(first_proxy.records) == len(first_proxy.taken),
            timeout=10,
            what="every unseal request of the stopped instance forwarded by its proxy",
        )
    finally:
        watcher.stop()
    end = time.time() - origin

    history, findings, summary = judged(vault, watcher, services, (first_proxy, second_proxy), origin, end)
    held = [t for t, _netloc, _reset in first_proxy.records]
    stopping, released = logged_at(first, STOPPING, origin), logged_at(first, RELEASED, origin)
    summary += (
        f"; SIGTERM at {stopped:.3f} s, its stop took {took:.2f} s (exit {code}); i1's held requests reached the "
        f"Vault at {[round(t, 3) for t in held]}, it released the lock at {[round(t, 3) for t in released]}"
    )
    print(summary)

    assert [] == findings, summary
    assert held, summary
    shares = [record for record in history if isinstance(record, (j.ShareReceived, j.ResetReceived))]
    assert {"i2"} <= {record.sender for record in shares if record.vault == "manager-2"}, summary
    # The stop waited: begun while the request was held, it released the lock only after the request reached the
    # Vault (the log's clock has milliseconds; the proxy recorded the forwarding before it sent the request on).
    assert 1 == len(stopping) == len(released), summary
    assert stopping[0] <= max(held) <= released[0] + 0.001, summary


def judged(
    vault: dict[str, Any],
    watcher: Watcher,
    services: dict[str, Service],
    proxies: Sequence[RecordingProxy],
    origin: float,
    end: float,
    *extra: j.Record,
) -> tuple[j.History, list[j.Finding], str]:
    """The History of a run (see the module's docstring; `extra`: what the test did, such as a pause), what the judge
    finds in it (never two unsealers, never a stale writer, always reported, nothing dead unseen), and a summary."""
    names = instance_names(services)
    history = j.History(
        sorted(
            [
                *(j.RoleChanged(0.0, node["hostname"], manager=True) for node in vault["nodes"]),
                *(j.Listed(0.0, node["hostname"]) for node in vault["nodes"]),
                *lock_records(watcher, names, end, active_times(services, origin)),
                *(
                    (j.ResetReceived if reset else j.ShareReceived)(t, hosts(vault)[netloc], proxy.sender)
                    for proxy in proxies
                    for t, netloc, reset in proxy.records
                ),
                *((j.Sealed if sealed else j.Unsealed)(t, host) for t, host, sealed in watcher.seals),
                *extra,
                *(record for name, service in services.items() for record in service_records(name, service, origin)),
            ],
            key=lambda record: record.t,
        )
    )
    history = j.History(
        attrs_evolve_written(record, history) if isinstance(record, j.Written) else record for record in history
    )
    shares = [record for record in history if isinstance(record, (j.ShareReceived, j.ResetReceived))]
    invariants = (j.NEVER_TWO_UNSEALERS, j.NEVER_A_STALE_WRITER, j.ALWAYS_REPORTED, j.NOTHING_DEAD_UNSEEN)
    findings = j.judge(history, BOUNDS, end=end, invariants=invariants)
    summary = (
        f"{len(history)} records over {end:.1f} s: {len(shares)} unseal requests received "
        f"({sorted({(r.sender, r.vault) for r in shares})}), {len(history.of(j.LockAcquired))} lock acquisitions, "
        f"{len(history.of(j.Written))} writes, {len(history.of(j.ErrorLogged))} ERROR lines about a Vault"
    )
    return history, findings, summary


def active_and_standby(
    start_service: Callable[..., Service],
    with_keys: dict[str, str],
    real_stack: dict[str, Any],
    first_proxy: RecordingProxy,
    second_proxy: RecordingProxy,
) -> dict[str, Service]:
    """i1 started and active, then i2 started and standing by, each reaching the Vaults through its proxy."""
    first = start_service(**with_keys, **through(first_proxy, real_stack))
    first.wait_for(ACTIVE)
    second = start_service(**with_keys, **through(second_proxy, real_stack))
    second.wait_for(STANDING_BY)
    return {"i1": first, "i2": second}


def wait_unsealed(index: int, unsealer: Service) -> None:
    """Wait until the Vault of manager-<index + 1> is unsealed (by `unsealer`, whose log tail a failure shows)."""
    wait_until(
        lambda: not stack.vault_seal_status(index)["sealed"],
        timeout=30,
        what=f"manager-{index + 1}'s Vault unsealed by the new active instance",
        detail=lambda: "\n".join(unsealer.stdout[-30:]),
    )


def through(proxy: RecordingProxy, real_stack: dict[str, Any]) -> dict[str, str]:
    """Environment sending a service's Vault requests through `proxy`, and its Consul requests straight on."""
    consul_host = real_stack["consul"]["http_addr"].rsplit(":", 1)[0]
    return {"HTTP_PROXY": proxy.url, "NO_PROXY": f"{consul_host},localhost", "no_proxy": f"{consul_host},localhost"}


def hosts(vault: dict[str, Any]) -> dict[str, str]:
    """A Vault's host:port (as the proxy saw it) to its node's hostname."""
    return {urlsplit(node["url"]).netloc: node["hostname"] for node in vault["nodes"]}


def attrs_evolve_written(record: j.Written, history: j.History) -> j.Written:
    """A write with the lock's holder of that moment, per the lock's records."""
    return j.Written(record.t, record.writer, j.holder_at(history, record.t), record.key)
