"""ConsulWatch: a Consul blocking query on a key prefix, telling its target whenever the keys change."""

from __future__ import annotations

from typing import Any

import consul
import pykka

from actors.base import ServiceActor, tell
from actors.logger import Log
from actors.runtime import runtime
from gateways.consul import ConsulGateway
from messages.consul import KeysChanged, WatchFailed
from messages.consul_answers import ConsulRefused, KeysRead
from neon_cm.backoff import Backoff
from neon_cm.watching import Watched

#: How long Consul holds a blocking query open when nothing changes.
BLOCK_SECONDS = 30
RETRY_FIRST_SECONDS = 0.5
RETRY_LONGEST_SECONDS = 10.0


class ConsulWatch(ServiceActor):
    """GET /v1/kv/<prefix>?recurse&index=<last>&wait=30s in a loop, in a thread of its own.

    Tells KeysChanged once at start and after every change, WatchFailed on an error (then retries with
    backoff). An answer without an index (neon_cm/watching.py) makes it poll with backoff, said once. An unchanged
    index answered before the wait (a snapshot restore) makes it read afresh after a pause of its backoff.
    Stopping does not wait for a query in flight: the thread is a daemon and tells nothing more once stopped.
    """

    component = "consul-watch"

    def __init__(self, consul_client: consul.Consul, prefix: str, target: pykka.ActorRef[Any], log: Log) -> None:
        super().__init__(log)
        self.gateway = ConsulGateway(consul_client)
        self.prefix = prefix
        self.target = target
        self.stopping = runtime().event()

    def setup(self) -> None:
        self.start_thread(f"consul-watch:{self.prefix}", self.watch)

    def cleanup(self) -> None:
        self.stopping.set()

    def handle(self, message: Any) -> None:
        """Nothing to handle: the thread does the work."""

    def watch(self) -> None:
        watched = Watched()
        backoff = Backoff(RETRY_FIRST_SECONDS, RETRY_LONGEST_SECONDS)
        said_indexless = False
        while not self.stopping.is_set():
            blocking, started = bool(watched.index), runtime().now()  # index 0 or None: no blocking query
            afresh = watched.afresh
            answer = self.gateway.read_keys(self.prefix, watched.index, BLOCK_SECONDS)
            if not isinstance(answer, KeysRead):
                problem = answer.detail if isinstance(answer, ConsulRefused) else answer.reason
                if self.stopping.is_set() or not self.tell(WatchFailed(self.prefix, problem)):
                    return
                watched = watched.failed()
                self.stopping.wait(backoff.failed(runtime().now()))
                continue
            watched, news = watched.answered(answer, early=blocking and runtime().now() - started < BLOCK_SECONDS)
            if news and (self.stopping.is_set() or not self.tell(KeysChanged(self.prefix, answer.values))):
                return
            if watched.afresh:
                # An unchanged index before the wait: Consul dropped the store it held the read on (a snapshot
                # restore, its shutdown). Read afresh after a pause; the pause grows while it goes on.
                self.log.debug(f"Consul answered the read of {self.prefix}* early with nothing changed: reading afresh")
                self.stopping.wait(backoff.failed(runtime().now()))
                continue
            if not watched.indexless:
                if not afresh:
                    backoff.succeeded()
                continue
            # No index to block on (X-Consul-Index 0 or none, from a proxy): poll with backoff, said once.
            if not said_indexless:
                said_indexless = True
                self.log.warn(
                    f"Consul answered a read of {self.prefix}* without an X-Consul-Index: polling it every "
                    f"{RETRY_LONGEST_SECONDS:g} s at most instead of waiting for changes"
                )
            self.stopping.wait(backoff.failed(runtime().now()))

    def tell(self, message: Any) -> bool:
        """Tell the target; False once it is gone."""
        return tell(self.target, message)
