"""ConsulWatch: a Consul blocking query on a key prefix, telling its target whenever the keys change."""

from __future__ import annotations

import threading
from typing import Any

import consul
import pykka

from actors.base import ServiceActor, tell
from actors.logger import Log
from gateways.errors import CONSUL_ERRORS, describe
from messages.consul import KeysChanged, WatchFailed

#: How long Consul holds a blocking query open when nothing changes.
BLOCK_SECONDS = 30
RETRY_FIRST_SECONDS = 0.5
RETRY_LONGEST_SECONDS = 10.0


class ConsulWatch(ServiceActor):
    """GET /v1/kv/<prefix>?recurse&index=<last>&wait=30s in a loop, in a thread of its own.

    Tells KeysChanged once at start and after every change, WatchFailed on an error
    (then retries with backoff). Stopping does not wait for a query in flight: the
    thread is a daemon and tells nothing more once stopped.
    """

    component = "consul-watch"

    def __init__(self, consul_client: consul.Consul, prefix: str, target: pykka.ActorRef[Any], log: Log) -> None:
        super().__init__(log)
        self.consul = consul_client
        self.prefix = prefix
        self.target = target
        self.stopping = threading.Event()

    def setup(self) -> None:
        self.start_thread(f"consul-watch:{self.prefix}", self.watch)

    def cleanup(self) -> None:
        self.stopping.set()

    def handle(self, message: Any) -> None:
        """Nothing to handle: the thread does the work."""

    def watch(self) -> None:
        index: int | None = None
        delay = RETRY_FIRST_SECONDS
        while not self.stopping.is_set():
            try:
                new_index, items = self.consul.kv.get(
                    self.prefix, recurse=True, index=index, wait=f"{BLOCK_SECONDS}s" if index else None
                )
            except CONSUL_ERRORS as error:
                if self.stopping.is_set() or not self.tell(WatchFailed(self.prefix, describe(error))):
                    return
                index = None  # after an outage, Consul may have restarted with a lower index
                self.stopping.wait(delay)
                delay = min(delay * 2, RETRY_LONGEST_SECONDS)
                continue
            delay = RETRY_FIRST_SECONDS
            new_index = int(new_index) if str(new_index or "").isdigit() else 0  # a proxy's odd header is no index
            if index is not None and new_index == index:
                continue  # the wait ran out with nothing changed
            index = new_index if index is None or new_index > index else None
            values = tuple((item["Key"], item.get("Value")) for item in items or [] if isinstance(item, dict))
            if self.stopping.is_set() or not self.tell(KeysChanged(self.prefix, values)):
                return

    def tell(self, message: Any) -> bool:
        """Tell the target; False once it is gone."""
        return tell(self.target, message)
