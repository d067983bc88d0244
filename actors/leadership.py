"""Leadership: holds a Consul session lock so that exactly one instance of the service is active."""

from __future__ import annotations

import os
import secrets
import socket
from typing import Any

import consul
import pykka

from actors.base import DecidingActor, tell
from actors.logger import Log
from actors.runtime import Event, runtime
from actors.under_lock import UnderLock
from gateways.consul import ConsulGateway
from gateways.vault import VAULT_TIMEOUT
from messages.leadership import LostLeadership
from neon_cm.lease import (
    CHECK_NAME,
    Acquire,
    CreateSession,
    DestroySession,
    Lease,
    OpenGate,
    PassCheck,
    ReadHolder,
    ReadSessionChecks,
    RegisterCheck,
    Release,
    RenewSession,
    ShutGate,
    Start,
    Stop,
    StopBegun,
    Withdraw,
)

__all__ = ["CHECK_NAME", "Leadership", "instance_name"]

CHECK_NOTES = "passed by the instance while it runs; its lock session is bound to this check"
#: On stop, how long the subscribers have to handle LostLeadership before the lock is released anyway.
STOP_NOTICE_SECONDS = 2.0
#: Before the lock is given up, how long a share or reset on its way may hold it: the Vault client's read timeout,
#: after which the request's client has given up on it.
GATE_WAIT_SECONDS = VAULT_TIMEOUT[1]


def instance_name() -> str:
    """This instance, as the lock's value and the log name it: host, process id and a random tag. In a
    container the pid is always the same small number, and with `--network host` two replicas on one
    manager share the hostname: the tag tells them apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class Leadership(DecidingActor):
    """The shell of the Lease decider (neon_cm/lease.py): PUT /v1/agent/check/register (a TTL check of 3 s,
    passing), PUT /v1/session/create (bound to that check and serfHealth, no lock delay), then, every 0.5 s,
    PUT /v1/agent/check/pass/<check>, PUT /v1/session/renew/<session> and PUT /v1/kv/<lock>?acquire=<session>
    until it holds the lock; while it does, every 1 s the check pass then GET /v1/kv/<lock> (the lease is extended
    only if the session still holds it: a destroyed session's check keeps passing). Tells its subscribers
    BecameLeader and LeaseExtended (with the session, which fences every definition write, and the
    lease's deadline), LostLeadership, and StandingBy when another instance holds it. On stop (clean or a
    crash) it tells LostLeadership, waits (2 s at most) for its subscribers to have handled it and (3 s at most)
    for the shares and resets on their way to a Vault to be answered (actors/under_lock.py), releases the lock,
    destroys the session and deregisters the check, so a standby takes over within 0.5 s after a clean shutdown,
    and about 3 s after a SIGKILL (the check's TTL). Give it a client with a short timeout: its stop
    waits for the release, a hung Consul must not hold up an exit, and an active instance must notice it cannot
    pass its check before the check expires.

    `stop_requested` is the instance's stop request (SIGTERM; the simulator's per instance): once it is set, the
    supervisors stop the actors one by one, this one fourth, up to 3 s later. It is read before every decision (the
    answer of a call included), and from then on the Lease offers nothing and takes no lock (StopBegun)."""

    component = "leadership"

    def __init__(
        self,
        consul_client: consul.Consul,
        log: Log,
        stop_requested: Event | None = None,
        under_lock: UnderLock | None = None,
    ) -> None:
        super().__init__(log)
        self.gateway = ConsulGateway(consul_client)
        self.under_lock = under_lock if under_lock is not None else UnderLock()
        """The gate of the Unsealer's shares (actors/under_lock.py): opened as the lock is taken, shut (and its
        requests on their way waited for) before it is given up."""
        self.state: Lease = Lease(instance_name())
        self.stopping = False
        self.stop_requested = stop_requested

    @property
    def instance(self) -> str:
        return self.state.instance

    def setup(self) -> None:
        self.feed(Start())

    def cleanup(self) -> None:
        self.stopping = True
        try:
            self.feed(Stop())
        finally:
            super().cleanup()

    def news(self) -> list[Any]:
        """The instance's stop began (the request is set, the decider not told yet)."""
        if self.stop_requested is not None and self.stop_requested.is_set() and not self.state.stopping:
            return [StopBegun()]
        return []

    def publish(self, message: Any) -> None:
        """On stop, LostLeadership is handled by every subscriber (within STOP_NOTICE_SECONDS) before the lock is
        released: none writes or starts a share after a standby may have taken the lock."""
        if not (self.stopping and isinstance(message, LostLeadership)):
            super().publish(message)
            return
        notices = [subscriber.ask(message, block=False) for subscriber in self.directory.subscribers(self.component)]
        deadline = runtime().now() + STOP_NOTICE_SECONDS
        for notice in notices:
            try:
                notice.get(timeout=max(0.0, deadline - runtime().now()))
            except Exception:  # noqa: BLE001 (stopped already, busy past the budget, or dead of a bug of its
                pass  # own, which its supervisor reports: the lock is released all the same)

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        # A subscriber (re)started after the lock was won or a holder seen must still hear it.
        view = self.state.view()
        if view is not None:
            tell(to, view)

    def perform(self, effect: Any) -> Any:
        gateway = self.gateway
        if isinstance(effect, PassCheck):
            return gateway.pass_check(effect.check_id)
        if isinstance(effect, RenewSession):
            return gateway.renew_session(effect.session)
        if isinstance(effect, Acquire):
            return gateway.acquire(effect.key, effect.value, effect.session)
        if isinstance(effect, ReadHolder):
            return gateway.read_holder(effect.key)
        if isinstance(effect, ReadSessionChecks):
            return gateway.read_session_checks(effect.session, effect.own_check)
        if isinstance(effect, RegisterCheck):
            return gateway.register_check(effect.check_id, effect.name, effect.ttl_seconds, CHECK_NOTES)
        if isinstance(effect, CreateSession):
            return gateway.create_session(effect.name, effect.checks)
        if isinstance(effect, OpenGate):
            self.under_lock.reopen()
            return None
        if isinstance(effect, ShutGate):
            self.under_lock.shut()
            if waiting := self.under_lock.on_its_way():
                self.log.info(
                    f"{'a share or reset' if waiting == 1 else f'{waiting} shares or resets'} sent to a Vault not "
                    f"answered yet: the lock is given up once answered ({GATE_WAIT_SECONDS:g} s at most)"
                )
            if not self.under_lock.wait_quiet(runtime().now() + GATE_WAIT_SECONDS):
                self.log.warn("a share or reset sent to a Vault is still unanswered; the lock is given up all the same")
            return None
        if isinstance(effect, Withdraw):
            gateway.release_key(effect.key, effect.value, effect.session)
            return None
        if isinstance(effect, DestroySession):
            gateway.destroy_session(effect.session)
            return None
        if isinstance(effect, Release):
            released = gateway.release(effect.key, effect.value, effect.session, effect.check_id)
            if released:  # the old task of an update says it let go: the new one's takeover follows
                self.log.info(f"released the lock {effect.key}: another instance can take over now")
            elif released is None:
                self.log.warn(f"cannot release the lock {effect.key} (Consul did not answer); it lapses within 3 s")
            return None
        return super().perform(effect)
