"""Leadership: holds a Consul session lock so that exactly one instance of the service is active."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import consul
import pykka
from consul.exceptions import NotFound

from actors.base import ServiceActor, tell
from actors.logger import Log
from actors.ticker import Ticker
from messages.leadership import BecameLeader, LostLeadership, StandingBy
from messages.timing import Tick
from neon_cm.errors import CONSUL_ERRORS, describe
from neon_cm.keys import LEADER_KEY
from neon_cm.outage import Outage

#: Consul invalidates a session between TTL and 2 x TTL after its last renewal; 10 s is its minimum.
SESSION_TTL_SECONDS = 10
#: How often the lock is tried (standby) or the session renewed (active).
TRY_SECONDS = 2.0
#: An active instance that could not renew for this long stops working: another may take over.
GIVE_UP_SECONDS = SESSION_TTL_SECONDS / 2


def instance_name() -> str:
    """This instance, as the lock's value and the log name it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Leadership(ServiceActor):
    """PUT /v1/session/create (TTL 10 s, no lock delay), then PUT /v1/kv/<lock>?acquire=<session> every 2 s
    until it holds the lock; while it does, PUT /v1/session/renew/<session> every 2 s. Tells its
    subscribers BecameLeader, LostLeadership, and StandingBy when another instance holds it. Releases
    the lock and destroys the session on stop, so a standby takes over at once after a clean shutdown,
    and within about 20 s after a SIGKILL. Give it a client with a short timeout: its stop waits for the
    release, and a hung Consul must not hold up an exit."""

    component = "leadership"

    def __init__(self, consul_client: consul.Consul, log: Log) -> None:
        super().__init__(log)
        self.consul = consul_client
        self.instance = instance_name()
        self.session: str | None = None
        self.leading = False
        self.last_renewed = 0.0
        self.waiting_for: str | None = None
        self.outage = Outage()
        self.ticker: pykka.ActorRef[Any] | None = None

    def setup(self) -> None:
        self.ticker = self.spawn(Ticker, "leadership", self.actor_ref, TRY_SECONDS)

    def cleanup(self) -> None:
        if self.session is not None:
            try:
                self.consul.kv.put(LEADER_KEY, self.instance, release=self.session)
                self.consul.session.destroy(self.session)
            except CONSUL_ERRORS:
                pass  # the session expires by itself within 2 x TTL

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        # A subscriber (re)started after the lock was won or a holder seen must still hear it.
        if self.leading:
            tell(to, BecameLeader(self.instance))
        elif self.waiting_for is not None:
            tell(to, StandingBy(self.waiting_for))

    def handle(self, message: Any) -> None:
        if isinstance(message, Tick):
            self.step()

    def step(self) -> None:
        doing = "creating a session"
        try:
            if self.session is None:
                self.session = self.consul.session.create(
                    name=f"neon-cluster-manager {self.instance}", ttl=SESSION_TTL_SECONDS, lock_delay=0
                )
            else:
                self.consul.session.renew(self.session)
            doing = f"reading and writing {LEADER_KEY}"
            if self.leading:
                self.check_holder()
            elif self.consul.kv.put(LEADER_KEY, self.instance, acquire=self.session):
                self.leading, self.last_renewed, self.waiting_for = True, time.monotonic(), None
                self.log.info(f"this instance ({self.instance}) is active")
                self.publish(BecameLeader(self.instance))
            else:
                self.standby()
        except NotFound:
            # Our session expired (Consul restarted, or we could not renew in time): a new one next time.
            self.session = None
            self.lose("the Consul session expired")
            return
        except consul.ACLPermissionDenied as error:
            # Not an outage: this instance can never be active with this token. One ERROR (a reminder every 5 min).
            if self.outage.failed("permission", time.monotonic()):
                self.log.error(f"Consul refused {doing} for the instance lock: {describe(error)}; retrying")
            return
        except CONSUL_ERRORS as error:
            if self.outage.failed("consul", time.monotonic()):
                self.log.error(f"cannot reach Consul for the instance lock ({describe(error)}); retrying")
            if self.leading and time.monotonic() - self.last_renewed > GIVE_UP_SECONDS:
                self.lose(f"Consul unreachable for over {GIVE_UP_SECONDS:g} s")
            return
        if self.outage.succeeded() is not None:
            self.log.info("reaching Consul again for the instance lock")

    def check_holder(self) -> None:
        """GET /v1/kv/<lock>: still ours? (Someone may have deleted the key.)"""
        _, item = self.consul.kv.get(LEADER_KEY)
        if item is None or item.get("Session") != self.session:
            self.lose(f"{LEADER_KEY} is no longer held by this instance")
        else:
            self.last_renewed = time.monotonic()

    def standby(self) -> None:
        """GET /v1/kv/<lock>: say once which instance holds it (its monitors then report at INFO)."""
        _, item = self.consul.kv.get(LEADER_KEY)
        value = item.get("Value") if isinstance(item, dict) and item.get("Session") else None
        holder = value.decode("utf-8", errors="replace")[:100] or "an unnamed instance" if value is not None else None
        if holder == self.waiting_for:
            return
        self.waiting_for = holder
        if holder is not None:
            self.log.info(f"standing by: {holder} is the active instance ({LEADER_KEY})")
            self.publish(StandingBy(holder))
        else:
            self.log.info(f"no instance holds {LEADER_KEY}; trying to take it")
            self.publish(LostLeadership("no instance holds the lock"))

    def lose(self, reason: str) -> None:
        if self.leading:
            self.leading = False
            self.log.warn(f"this instance is no longer active: {reason}; it stops writing and unsealing")
            self.publish(LostLeadership(reason))
