"""Metrics: observes what the other actors tell, keeps Prometheus metrics and the health verdict, serves both."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pykka
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from actors.base import ServiceActor
from actors.logger import Log
from actors.ticker import Ticker
from messages.definition import DefinitionNotPublished, DefinitionPublished, DefinitionUnchanged
from messages.leadership import BecameLeader, LostLeadership
from messages.lifecycle import ActorsStarted
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodeListFailed, NodesObserved
from messages.timing import Tick
from messages.vault import MonitoringStopped, UnsealFinished, VaultObserved, VaultState
from neon_cm.files import write_replacing
from neon_cm.health import Health, assess, to_document

#: How often the health verdict is refreshed and written to the health file.
HEALTH_SECONDS = 5.0


class ServiceMetrics:
    """The Prometheus metrics of one service instance, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.node_polls = Counter("neon_cm_node_polls", "Successful listings of the Swarm's nodes", registry=r)
        self.node_poll_failures = Counter("neon_cm_node_poll_failures", "Failed listings of the Swarm", registry=r)
        self.nodes = Gauge("neon_cm_swarm_nodes", "Nodes in the last listing", registry=r)
        self.publishes = Counter("neon_cm_definition_publishes", "Definitions written to Consul", registry=r)
        self.unchanged = Counter("neon_cm_definition_unchanged", "Listings that changed nothing", registry=r)
        self.publish_failures = Counter(
            "neon_cm_definition_failures", "Listings whose definition could not be written", registry=r
        )
        self.last_publish = Gauge(
            "neon_cm_definition_last_publish_timestamp_seconds", "When a definition was last written", registry=r
        )
        self.definition_bytes = Gauge(
            "neon_cm_definition_compressed_bytes", "Size of the raw-deflated definition", registry=r
        )
        self.vault_state = Gauge(
            "neon_cm_vault_state", "1 for the Vault's current state, 0 for the others", ["node", "state"], registry=r
        )
        self.unseal_attempts = Counter("neon_cm_unseal_attempts", "Unseal attempts", ["node"], registry=r)
        self.unseal_failures = Counter("neon_cm_unseal_failures", "Failed unseal attempts", ["node"], registry=r)
        self.healthy = Gauge("neon_cm_healthy", "1 when the service is healthy", registry=r)
        self.active = Gauge("neon_cm_active", "1 while this instance holds the lock and works", registry=r)


class Metrics(ServiceActor):
    """Counts polls, publishes, failures and unseals from the messages it hears; judges health every 5 s
    (a standby instance is healthy), writes the verdict to the health file, and serves /metrics and
    /health when given a port. It runs on standby instances too, outside the supervised group."""

    component = "metrics"

    def __init__(self, log: Log, port: int | None, health_file: str) -> None:
        super().__init__(log)
        self.metrics = ServiceMetrics()
        self.port = port
        self.health_file = health_file
        self.started = time.time()
        self.last_listing: float | None = None
        self.settings = Settings()
        self.actors: tuple[tuple[str, Any], ...] = ()
        self.health = Health(True)
        self.active = False
        self.server: ThreadingHTTPServer | None = None
        self.ticker: pykka.ActorRef[Any] | None = None

    def on_start(self) -> None:
        self.ticker = Ticker.start("health", self.actor_ref, HEALTH_SECONDS)
        if self.port is not None:
            self.server = ThreadingHTTPServer(("", self.port), handler_for(self))
            threading.Thread(target=self.server.serve_forever, name="metrics-http", daemon=True).start()
            self.log.info(f"serving /metrics and /health on port {self.port}")

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def handle(self, message: Any) -> None:
        m = self.metrics
        if isinstance(message, NodesObserved):
            m.node_polls.inc()
            m.nodes.set(len(message.nodes))
            self.last_listing = time.time()
        elif isinstance(message, NodeListFailed):
            m.node_poll_failures.inc()
        elif isinstance(message, DefinitionPublished):
            m.publishes.inc()
            m.last_publish.set_to_current_time()
            m.definition_bytes.set(message.compressed_bytes)
        elif isinstance(message, DefinitionUnchanged):
            m.unchanged.inc()
            m.definition_bytes.set(message.compressed_bytes)
        elif isinstance(message, DefinitionNotPublished):
            m.publish_failures.inc()
        elif isinstance(message, VaultObserved):
            # Zero-valued series from the first reading on, so a rate() sees the first attempt.
            m.unseal_attempts.labels(message.hostname)
            m.unseal_failures.labels(message.hostname)
            for state in VaultState:
                m.vault_state.labels(message.hostname, state.value).set(1 if state is message.state else 0)
        elif isinstance(message, MonitoringStopped):
            with contextlib.suppress(KeyError):  # a monitor stopped before its first reading has no series
                for state in VaultState:
                    m.vault_state.remove(message.hostname, state.value)
                m.unseal_attempts.remove(message.hostname)
                m.unseal_failures.remove(message.hostname)
        elif isinstance(message, UnsealFinished):
            m.unseal_attempts.labels(message.hostname).inc()
            if not message.unsealed:
                m.unseal_failures.labels(message.hostname).inc()
        elif isinstance(message, SettingsChanged):
            self.settings = message.settings
        elif isinstance(message, ActorsStarted):
            self.actors = message.actors
        elif isinstance(message, BecameLeader):
            self.active, self.started, self.last_listing = True, time.time(), None
            m.active.set(1)
        elif isinstance(message, LostLeadership):
            self.active, self.actors = False, ()
            m.active.set(0)
        elif isinstance(message, Tick):
            self.judge()

    def judge(self) -> None:
        """Refresh the verdict; log when it changes; write the health file (atomically)."""
        if self.active:
            dead = [name for name, ref in self.actors if not ref.is_alive()]
            health = assess(time.time(), self.started, self.last_listing, self.settings.node_poll_seconds, dead)
        else:
            health = Health(True, ())  # a standby is doing its job: waiting for the lock
        if health != self.health:
            if health.ok:
                self.log.info("healthy again")
            else:
                self.log.error(f"unhealthy: {'; '.join(health.reasons)}")
        self.health = health
        self.metrics.healthy.set(1 if health.ok else 0)
        write_health_file(self.health_file, health)


def write_health_file(path: str, health: Health) -> None:
    """Replace the health file atomically, so `neon-cluster-manager health` never reads half of it; through a
    symlink, and never over a device or anything else that is not a regular file (NotARegularFile, an OSError)."""
    write_replacing(path, to_document(health, time.time()))


def handler_for(owner: Metrics) -> type[BaseHTTPRequestHandler]:
    """A request handler serving GET /metrics and GET /health from `owner`'s state."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self.answer(200, CONTENT_TYPE_LATEST, generate_latest(owner.metrics.registry))
            elif self.path.startswith("/health"):
                health = owner.health
                self.answer(200 if health.ok else 503, "application/json", to_document(health, time.time()))
            else:
                self.answer(404, "text/plain", b"try /metrics or /health\n")

        def answer(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            owner.log.debug(f"metrics http: {format % args}")

    return Handler
