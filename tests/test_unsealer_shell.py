"""The Unsealer's shell with real actors: answers go to a node's monitor by name, and a stopped Unsealer's node
threads send nothing more (no Vault involved: Consul is unreachable, so the switch cannot be read)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from actors.base import Directory, linked
from actors.logger import Log
from actors.under_lock import UnderLock
from actors.unsealer import Unsealer
from gateways.consul import consul_client
from gateways.files import read_text
from messages.leadership import BecameLeader
from messages.vault import UnsealFinished, UnsealRequested
from neon_cm.credentials import Secret, UnsealCredentials
from neon_cm.environment import TlsSettings, consul_access
from neon_cm.unsealing import CancelAttempt, SubmitShare
from tests.recorder import Recorder
from tests.waiting import wait_until

CREDENTIALS = UnsealCredentials((Secret("aGVsbG8="), Secret("d29ybGQ=")), 2)


def test_the_answer_goes_to_the_node_monitor_registered_now(log: Log) -> None:
    """Defect 10: the answer is addressed by node name through the directory, so the monitor running when the
    attempt ends gets it (before, it went to the reference in the request: a restarted monitor never heard it)."""
    directory = Directory()
    old, new = Recorder.start(), Recorder.start()
    directory.register("vault-monitor:m1", old)
    with linked(None, directory):
        closed = consul_client(consul_access({"CONSUL_HTTP_ADDR": "127.0.0.1:1"}, read_text))
        unsealer = Unsealer.start(CREDENTIALS, closed, TlsSettings(), log)
    directory.register("vault-monitor:m1", new)  # the monitor restarted before the answer

    unsealer.tell(BecameLeader("me", "s", time.monotonic() + 60))
    unsealer.tell(UnsealRequested("m1", "http://127.0.0.1:1"))
    wait_until(lambda: bool(new.ask("heard")))

    assert [UnsealFinished("m1", False, "auto-unseal is off or undecided")] == new.ask("heard")
    assert [] == old.ask("heard")


def test_a_stopped_unsealer_sends_no_more_shares(log: Log) -> None:
    """Defect 5 across a restart: its cleanup marks its node threads stopped; each checks that the moment before
    a share would go out, so the new Unsealer is alone on every node."""
    unsealer = Unsealer(CREDENTIALS, consul_client(consul_access({}, read_text)), TlsSettings(), log)
    share = SubmitShare("m1", "http://127.0.0.1:1", 1, 0, time.monotonic() + 60)
    assert None is unsealer.refusal(share)

    unsealer.cleanup()

    assert "the attempt was cancelled" == unsealer.refusal(share)
    assert "this instance's lease on the lock ran out before the share went out" == Unsealer(
        CREDENTIALS, consul_client(consul_access({}, read_text)), TlsSettings(), log
    ).refusal(SubmitShare("m1", "http://127.0.0.1:1", 1, 0, time.monotonic()))


def test_the_gateway_is_asked_whether_the_body_may_be_written_once_connected(log: Log) -> None:
    """A share whose connection is being made when the attempt is cancelled (LostLeadership), the Unsealer stops or
    the gate shuts (Leadership is about to give the lock up): the gateway asks `may_write` before it writes the body
    (the sim's `holder stops mid-attempt`: such a share reached its Vault after a standby took the lock)."""
    gate = UnderLock()
    unsealer = Unsealer(CREDENTIALS, consul_client(consul_access({}, read_text)), TlsSettings(), log, gate)
    share = SubmitShare("m1", "http://127.0.0.1:1", 1, 0, time.monotonic() + 60)
    other = SubmitShare("m2", "http://127.0.0.1:1", 2, 0, time.monotonic() + 60)
    passed: list[int] = []
    assert unsealer.may_write(share, passed)
    assert 1 == len(passed)  # on its way until its call returns

    unsealer.perform(CancelAttempt("m1", 1))

    assert not unsealer.may_write(share, [])
    gate.shut()
    assert not unsealer.may_write(other, [])
    gate.reopen()
    assert unsealer.may_write(other, [])
    unsealer.cleanup()
    assert not unsealer.may_write(other, [])


class SlowVault(ThreadingHTTPServer):
    """Takes a PUT /v1/sys/unseal in (its whole body), then answers it only once `answer` is set."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlowUnseal)
        self.took_in = threading.Event()
        self.bodies: list[bytes] = []
        self.answer = threading.Event()
        self.answered = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the refused share's connection, closed before any request was written


class SlowUnseal(BaseHTTPRequestHandler):
    server: SlowVault

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        if len(body) < length:
            return  # the headers came, the body never did (the gate refused it): no request, as for Vault
        self.server.bodies.append(body)
        self.server.took_in.set()
        self.server.answer.wait(10)
        body = b'{"sealed": true, "t": 2, "n": 3, "progress": 1, "nonce": "n1"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.answered.set()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_shut_gate_waits_for_the_share_on_its_way(log: Log) -> None:
    """Seed 4153: a reset written to a slow Vault reached it 66 ms after a standby took the lock the writer had
    released. Leadership shuts the gate before a release and waits: the wait ends only once the share written
    before is answered, and a share after the shut is never written."""
    vault = SlowVault()
    threading.Thread(target=vault.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{vault.server_address[1]}"
    gate = UnderLock()
    unsealer = Unsealer(CREDENTIALS, consul_client(consul_access({}, read_text)), TlsSettings(), log, gate)
    try:
        share = SubmitShare("m1", url, 1, 0, time.monotonic() + 60)
        sending = threading.Thread(target=unsealer.call, args=(share,), daemon=True)
        sending.start()
        assert vault.took_in.wait(10)

        gate.shut()
        assert not gate.wait_quiet(time.monotonic() + 0.2)  # on its way: the release must wait
        threading.Timer(0.3, vault.answer.set).start()
        assert gate.wait_quiet(time.monotonic() + 10)
        assert vault.answered.is_set()

        late = threading.Thread(target=unsealer.call, args=(SubmitShare("m1", url, 1, 1, time.monotonic() + 60),))
        late.start()
        late.join(10)
        vault.took_in.clear()
        gate.reopen()  # the lock held again: the next share goes out
        unsealer.call(SubmitShare("m1", url, 1, 0, time.monotonic() + 60))
        assert vault.took_in.wait(10)
        assert 2 == len(vault.bodies)  # the first share and the last: the one after the shut never had its body
    finally:
        unsealer.cleanup()
        vault.shutdown()
        vault.server_close()
