"""The VaultMonitor shell with real actors and a real HTTP server as its Vault: a retired monitor tells nothing."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pykka
import pytest

from actors.base import Directory, linked
from actors.logger import Log, LogSink
from actors.vault_monitor import Retirement, VaultMonitor
from messages.log import Level
from messages.routes import ROUTES, UNSEAL_REQUESTS
from messages.vault import ReportingRole
from neon_cm.environment import TlsSettings
from tests.recorder import Recorder
from tests.waiting import wait_until

SEALED = b'{"type":"shamir","initialized":true,"sealed":true,"t":2,"n":3,"progress":0,"nonce":""}'


class SlowVault(ThreadingHTTPServer):
    asked: threading.Event
    answer: threading.Event


class Handler(BaseHTTPRequestHandler):
    server: SlowVault

    def do_GET(self) -> None:
        self.server.asked.set()
        self.server.answer.wait(10)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(SEALED)))
        self.end_headers()
        self.wfile.write(SEALED)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def slow_vault() -> Iterator[SlowVault]:
    server = SlowVault(("127.0.0.1", 0), Handler)
    server.asked, server.answer = threading.Event(), threading.Event()
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.answer.set()
    server.shutdown()
    server.server_close()


def test_a_monitor_retired_mid_probe_publishes_nothing_and_asks_no_unseal(slow_vault: SlowVault, log: Log) -> None:
    """Issue 26, defect 5: a probe slower than the 3 s stop budget ended after the fleet had said MonitoringStopped,
    and its reading was published (its series came back in Metrics) and its Vault, sealed, was sent to the Unsealer.
    The fleet retires a monitor before stopping it: what its probe finds after that is told to no one."""
    directory = Directory({"vault-monitor": ("subscriber",)}, ROUTES)
    subscriber, unsealer = Recorder.start(), Recorder.start()
    directory.register("subscriber", subscriber)
    directory.register(ROUTES[UNSEAL_REQUESTS], unsealer)
    retirement = Retirement()
    url = f"http://127.0.0.1:{slow_vault.server_address[1]}"
    with linked(None, directory):
        monitor = VaultMonitor.start("m1", url, 60.0, TlsSettings(), ReportingRole(None), log, retirement)
    wait_until(slow_vault.asked.is_set)

    retirement.retire()
    slow_vault.answer.set()
    monitor.ask("after the probe")  # handled once the probe's reading was decided on

    assert [] == subscriber.ask("heard")
    assert [] == unsealer.ask("heard")


def test_a_monitor_retired_mid_probe_logs_nothing_of_its_reading(slow_vault: SlowVault) -> None:
    """The simulator's `late probe` setup: the fleet said `no longer monitoring the Vault on m1`, and the probe under
    way then logged `Vault on m1 (...) is sealed` at ERROR, an alert about a Vault no longer monitored. Retired, the
    monitor logs nothing of it either."""
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, stream=stream)
    sink.start()
    retirement = Retirement()
    url = f"http://127.0.0.1:{slow_vault.server_address[1]}"
    try:
        with linked(None, Directory({}, ROUTES)):
            monitor = VaultMonitor.start(
                "m1", url, 60.0, TlsSettings(), ReportingRole(None), Log("test", sink), retirement
            )
        wait_until(slow_vault.asked.is_set)
        retirement.retire()
        slow_vault.answer.set()
        monitor.ask("after the probe")
    finally:
        pykka.ActorRegistry.stop_all()
        sink.stop()

    assert [] == [line for line in stream.getvalue().splitlines() if "Vault on m1" in line]
