"""gateways/consul.py's reading of Consul's answers: a 409's errors, a 403's body, newer Consul's 404 for a check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from gateways.consul import ConsulGateway, TxnRejected, consul_client, txn_rejection
from gateways.files import read_text
from messages.consul_answers import CheckGone, CheckPassed, ConsulUnreachable
from neon_cm.environment import consul_access

KEYS = ["neon/cluster/definition.deflate", "neon/cluster/definition.hash", "neon/lock"]


def test_a_409_tells_a_refusal_from_the_fence_from_a_stale_index() -> None:
    """Consul answers 409 for all three, with `{"Errors": [{"OpIndex": i, "What": ...}]}`: `Permission denied`
    names its key; an error on the check-session's operation (or about a session) is the fence; the rest
    (a stale cas, an unreadable body) is a conflict."""
    denied = '{"Errors":[{"OpIndex":1,"What":"Permission denied"}],"Results":null}'
    fenced = '{"Errors":[{"OpIndex":2,"What":"failed session check for key \\"neon/lock\\""}]}'
    missing_lock = '{"Errors":[{"OpIndex":2,"What":"failed to check session, key \\"neon/lock\\" doesn\'t exist"}]}'
    stale = '{"Errors":[{"OpIndex":0,"What":"failed to set key \\"x\\", index is stale"}],"Results":null}'

    assert TxnRejected(("neon/cluster/definition.hash",), False) == txn_rejection(denied, KEYS, 2)
    assert TxnRejected((), True) == txn_rejection(fenced, KEYS, 2)
    assert TxnRejected((), True) == txn_rejection(missing_lock, KEYS, 2)
    assert TxnRejected((), False) == txn_rejection(stale, KEYS, 2)
    assert TxnRejected((), False) == txn_rejection("not json", KEYS, 2)


@pytest.fixture
def consul_answering() -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """A tiny HTTP server standing in for a Consul agent: it answers each request with the next (status, body)
    of the list the test fills; yields its address and the list."""
    answers: list[tuple[int, bytes]] = []

    class Agent(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Agent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()


def test_newer_consuls_404_for_a_check_is_check_gone(consul_answering: tuple[str, list[tuple[int, bytes]]]) -> None:
    """Consul >= 1.11 answers a pass of an unknown check 404, which py-consul's ttl_pass returns as False (the old
    Leadership ignored it and went on leading on a dead session): CheckGone. 200 is CheckPassed; a 500 that is
    not about the check is an outage."""
    address, answers = consul_answering
    gateway = ConsulGateway(consul_client(consul_access({"CONSUL_HTTP_ADDR": address}, read_text)))
    answers.extend([(404, b"Unknown check ID"), (200, b""), (500, b"rpc error: No cluster leader")])

    outcomes = [gateway.pass_check("c") for _ in range(3)]

    assert [CheckGone, CheckPassed, ConsulUnreachable] == [type(outcome) for outcome in outcomes]


def test_an_election_is_told_from_an_outage(consul_answering: tuple[str, list[tuple[int, bytes]]]) -> None:
    """A client agent whose servers hold an election answers 500 `rpc error making call: ...` (while it still dials
    the dead leader) or `No cluster leader`: ConsulUnreachable marked leaderless, so the log says what it is. A
    500 of another kind is not."""
    address, answers = consul_answering
    gateway = ConsulGateway(consul_client(consul_access({"CONSUL_HTTP_ADDR": address}, read_text)))
    dead = b"rpc error making call: rpc error getting client: failed to get conn: dial tcp 127.0.30.33:8300: refused"
    answers.extend([(500, dead), (500, b"No cluster leader"), (500, b"something else broke")])

    outcomes = [gateway.renew_session("s") for _ in range(3)]

    assert [True, True, False] == [getattr(outcome, "leaderless", None) for outcome in outcomes]
