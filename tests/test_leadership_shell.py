"""The Leadership shell with real actors: on stop, its subscribers have handled LostLeadership before the lock is
released (no Consul involved: the release is recorded)."""

from __future__ import annotations

import threading
import time
from typing import Any

import attrs
import pykka

from actors.base import Directory, linked
from actors.leadership import Leadership
from actors.logger import Log
from gateways.consul import consul_client
from gateways.files import read_text
from messages.consul_answers import CheckPassed, LockAcquired, SessionRenewed
from messages.leadership import LostLeadership
from neon_cm.decider import TimerFired
from neon_cm.environment import consul_access
from neon_cm.handover import Fitness
from neon_cm.lease import STEP, Lease


class SlowSubscriber(pykka.ThreadingActor):
    """Takes a while to handle LostLeadership (a publisher finishing a write), then says it has."""

    use_daemon_thread = True

    def __init__(self, handled: threading.Event) -> None:
        super().__init__()
        self.handled = handled

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, LostLeadership):
            time.sleep(0.5)
            self.handled.set()
        return None


def test_stop_releases_the_lock_only_after_the_subscribers_handled_lost_leadership(log: Log) -> None:
    """Issue 26, defect 2 (second half): the lock was released right after LostLeadership was told, not handled,
    so a standby could take it while the publisher or the Unsealer still acted as active."""
    handled = threading.Event()
    directory = Directory({"leadership": ("slow",)})
    directory.register("slow", SlowSubscriber.start(handled))
    with linked(None, directory):
        leadership = Leadership(consul_client(consul_access({"CONSUL_HTTP_ADDR": "127.0.0.1:1"}, read_text)), log)
    leadership.state = attrs.evolve(Lease("me"), session="s1", leading=True, valid_until=time.monotonic() + 2)
    handled_at_release: list[bool] = []
    leadership.gateway.release = lambda *_: handled_at_release.append(handled.is_set())  # type: ignore[method-assign]

    leadership.cleanup()

    assert [True] == handled_at_release


def test_a_stop_requested_during_a_step_is_decided_before_the_next_answer(log: Log) -> None:
    """The long run's seed 1960: a SIGTERM's stop takes up to 3 s before it reaches Leadership, which kept stepping:
    it offered to take over and tried the lock. The stop request is read before every decision, so the answer of the
    pass under way when it came is decided by a Lease that knows: no offer, no lock."""
    requested = threading.Event()
    with linked(None, Directory()):
        leadership = Leadership(
            consul_client(consul_access({"CONSUL_HTTP_ADDR": "127.0.0.1:1"}, read_text)), log, requested
        )
    leadership.state = attrs.evolve(Lease("me"), session="s2", fitness=Fitness(listed=True))
    asked: list[str] = []

    def pass_check(check_id: str) -> CheckPassed:
        asked.append("pass")
        requested.set()  # SIGTERM while the pass is under way
        return CheckPassed()

    leadership.gateway.pass_check = pass_check  # type: ignore[method-assign]

    def renew_session(session: str) -> SessionRenewed:
        asked.append("renew")
        return SessionRenewed()

    def acquire(key: str, value: str, session: str) -> LockAcquired:
        asked.append(f"acquire {key}")
        return LockAcquired()

    leadership.gateway.renew_session = renew_session  # type: ignore[method-assign]
    leadership.gateway.acquire = acquire  # type: ignore[method-assign]
    leadership.gateway.release = lambda *_: None  # type: ignore[method-assign]

    leadership.feed(TimerFired(STEP))
    leadership.cleanup()

    assert ["pass", "renew"] == asked
    assert leadership.state.stopping
