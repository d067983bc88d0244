"""The Unsealer's shell with real actors: answers go to a node's monitor by name, and a stopped Unsealer's node
threads send nothing more (no Vault involved: Consul is unreachable, so the switch cannot be read)."""

from __future__ import annotations

import time

from actors.base import Directory, linked
from actors.logger import Log
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


def test_the_gateway_is_asked_whether_the_attempt_was_cancelled_once_connected(log: Log) -> None:
    """A share whose connection is being made when the attempt is cancelled (LostLeadership: Leadership releases the
    lock as soon as the Unsealer handled it) or the Unsealer stops: the gateway asks `cancelled_call` before it writes
    the body (the sim's `holder stops mid-attempt`: such a share reached its Vault after a standby took the lock)."""
    unsealer = Unsealer(CREDENTIALS, consul_client(consul_access({}, read_text)), TlsSettings(), log)
    share = SubmitShare("m1", "http://127.0.0.1:1", 1, 0, time.monotonic() + 60)
    other = SubmitShare("m2", "http://127.0.0.1:1", 2, 0, time.monotonic() + 60)
    assert not unsealer.cancelled_call(share)

    unsealer.perform(CancelAttempt("m1", 1))

    assert unsealer.cancelled_call(share)
    assert not unsealer.cancelled_call(other)
    unsealer.cleanup()
    assert unsealer.cancelled_call(other)
