"""Leadership: holds a Consul session lock so that exactly one instance of the service is active."""

from __future__ import annotations

import os
import secrets
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
from messages.timing import SetInterval, Tick
from neon_cm.errors import CONSUL_ERRORS, describe
from neon_cm.keys import LEADER_KEY
from neon_cm.outage import Outage

#: The session is bound to a TTL check of this instance's on the local Consul agent (and to the agent's
#: serfHealth): the check goes critical this long after the last pass, and Consul invalidates the session
#: (releasing the lock) at that moment, not at a session TTL's 10 to 20 s.
CHECK_TTL_SECONDS = 3.0
#: How often the active instance passes its check.
ACTIVE_SECONDS = 1.0
#: How often the active instance reads the lock to see it still holds it (someone may delete the key;
#: its writes are fenced meanwhile): not at every pass, which would double its idle requests.
HOLDER_CHECK_SECONDS = 5.0
#: How often a standby passes its check and tries the lock: a released lock is taken within this.
STANDBY_SECONDS = 0.5
#: An active instance that could not pass its check for this long (counted from the start of the last
#: pass that worked) stops writing and unsealing: a second before the check can expire and another
#: instance take the lock. Its lock requests time out after 1 s (neon_cm_main), so it notices in time.
GIVE_UP_SECONDS = CHECK_TTL_SECONDS - 1.0
CHECK_NAME = "neon-cluster-manager"


def instance_name() -> str:
    """This instance, as the lock's value and the log name it: host, process id and a random tag. In a
    container the pid is always the same small number, and with `--network host` two replicas on one
    manager share the hostname: the tag tells them apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class Leadership(ServiceActor):
    """PUT /v1/agent/check/register (a TTL check of 3 s, passing), PUT /v1/session/create (bound to that
    check and serfHealth, no lock delay), then, every 0.5 s, PUT /v1/agent/check/pass/<check>,
    PUT /v1/session/renew/<session> (is it still valid?) and PUT /v1/kv/<lock>?acquire=<session> until it
    holds the lock; while it does, the check pass every 1 s and GET /v1/kv/<lock> every 5 s. Tells its subscribers
    BecameLeader (with the session, which fences every definition write), LostLeadership, and StandingBy
    when another instance holds it. Releases the lock, destroys the session and deregisters the check on
    stop, so a standby takes over within 0.5 s after a clean shutdown, and about 3 s after a SIGKILL (the
    check's TTL). Give it a client with a short timeout: its stop waits for the release, a hung Consul must
    not hold up an exit, and an active instance must notice it cannot pass its check before the check expires."""

    component = "leadership"

    def __init__(self, consul_client: consul.Consul, log: Log) -> None:
        super().__init__(log)
        self.consul = consul_client
        self.instance = instance_name()
        self.check_id = f"{CHECK_NAME}:{self.instance}"
        self.session: str | None = None
        self.leading = False
        self.last_renewed = 0.0
        self.holder_checked = 0.0
        self.waiting_for: str | None = None
        self.role_said = False
        self.doing = "creating a session"
        """What this instance was asking of Consul for the lock, for a refusal's log line."""
        """Whether subscribers have been told anything yet (active, standing by, or neither)."""
        self.outage = Outage()
        self.ticker: pykka.ActorRef[Any] | None = None

    def setup(self) -> None:
        self.ticker = self.spawn(Ticker, "leadership", self.actor_ref, STANDBY_SECONDS)

    def cleanup(self) -> None:
        if self.session is not None:
            try:
                self.consul.kv.put(LEADER_KEY, self.instance, release=self.session)
                self.consul.session.destroy(self.session)
                self.consul.agent.check.deregister(self.check_id)
            except CONSUL_ERRORS:
                pass  # the check goes critical within its TTL, and the session with it

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        # A subscriber (re)started after the lock was won or a holder seen must still hear it.
        if self.leading and self.session is not None:
            tell(to, BecameLeader(self.instance, self.session))
        elif self.waiting_for is not None:
            tell(to, StandingBy(self.waiting_for))
        elif self.role_said:
            tell(to, LostLeadership("no instance is known to be active"))

    def handle(self, message: Any) -> None:
        if isinstance(message, Tick):
            self.step()

    def create_session(self) -> str:
        """PUT /v1/agent/check/register (passing), then PUT /v1/session/create bound to that check. First,
        GET /v1/agent/checks and PUT /v1/agent/check/deregister/<check> for the critical checks of instances
        gone without deregistering theirs (SIGKILL): their sessions died with them."""
        self.doing = "registering its check"
        for check_id, check in (self.consul.agent.checks() or {}).items():
            if check.get("Name") == CHECK_NAME and check.get("Status") == "critical" and check_id != self.check_id:
                self.consul.agent.check.deregister(check_id)
        self.consul.agent.check.register(
            CHECK_NAME,
            check={"TTL": f"{CHECK_TTL_SECONDS:g}s", "Status": "passing"},
            check_id=self.check_id,
            notes="passed by the instance while it runs; its lock session is bound to this check",
        )
        self.doing = "creating a session"
        session: str = self.consul.session.create(
            name=f"neon-cluster-manager {self.instance}", checks=["serfHealth", self.check_id], lock_delay=0
        )
        return session

    def step(self) -> None:
        started = time.monotonic()
        try:
            if self.session is None:
                self.session = self.create_session()
            else:
                self.doing = "passing its check"
                self.consul.agent.check.ttl_pass(self.check_id)
            self.doing = f"reading and writing {LEADER_KEY}"
            if self.leading:
                self.last_renewed = started  # the check lives CHECK_TTL_SECONDS from the start of this pass
                if started - self.holder_checked >= HOLDER_CHECK_SECONDS:
                    self.check_holder(started)
            else:
                self.consul.session.renew(self.session)  # NotFound when the check expired meanwhile
                self.try_lock(self.session, started)
        except NotFound:
            # Our session is gone (Consul restarted, or our check expired): a new one next time.
            self.session = None
            self.lose("the Consul session expired")
            return
        except consul.ACLPermissionDenied as error:
            # Not an outage: this instance can never be active with this token. One ERROR (a reminder every 5 min).
            if self.outage.failed("permission", time.monotonic()):
                self.log.error(f"Consul refused {self.doing} for the instance lock: {describe(error)}; retrying")
            if self.leading and time.monotonic() - self.last_renewed > GIVE_UP_SECONDS:
                self.lose(f"Consul refused {self.doing} for over {GIVE_UP_SECONDS:g} s")
            return
        except CONSUL_ERRORS as error:
            if "does not have associated TTL" in str(error):
                # Our check is gone (the agent restarted, someone deregistered it), and the session with it.
                self.session = None
                self.lose("this instance's Consul check is gone")
                return
            if self.outage.failed("consul", time.monotonic()):
                self.log.error(f"cannot reach Consul for the instance lock ({describe(error)}); retrying")
            if self.leading and time.monotonic() - self.last_renewed > GIVE_UP_SECONDS:
                self.lose(f"its Consul check not passed for over {GIVE_UP_SECONDS:g} s")
            elif not self.leading and not self.role_said:
                # Nobody can say which instance is active: this one reports Vault problems (at ERROR) meanwhile.
                self.role_said = True
                self.publish(LostLeadership("Consul is unreachable: no instance is known to be active"))
            return
        if self.outage.succeeded() is not None:
            self.log.info("reaching Consul again for the instance lock")

    def try_lock(self, session: str, started: float) -> None:
        """PUT /v1/kv/<lock>?acquire=<session>; standby() when another instance holds it."""
        if self.consul.kv.put(LEADER_KEY, self.instance, acquire=session):
            self.leading, self.last_renewed, self.waiting_for = True, started, None
            tell(self.ticker, SetInterval(ACTIVE_SECONDS))
            self.log.info(f"this instance ({self.instance}) is active")
            self.role_said = True
            self.publish(BecameLeader(self.instance, session))
        else:
            self.standby()

    def check_holder(self, started: float) -> None:
        """GET /v1/kv/<lock>: still ours? (Someone may have deleted the key, or our session expired.)"""
        _, item = self.consul.kv.get(LEADER_KEY)
        self.holder_checked = started
        if item is None or item.get("Session") != self.session:
            self.lose(f"{LEADER_KEY} is no longer held by this instance")

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
            self.role_said = True
            self.publish(StandingBy(holder))
        else:
            self.log.info(f"no instance holds {LEADER_KEY}; trying to take it")
            self.role_said = True
            self.publish(LostLeadership("no instance holds the lock"))

    def lose(self, reason: str) -> None:
        if self.leading:
            self.leading = False
            tell(self.ticker, SetInterval(STANDBY_SECONDS))
            self.log.warn(f"this instance is no longer active: {reason}; it stops writing and unsealing")
            self.publish(LostLeadership(reason))
