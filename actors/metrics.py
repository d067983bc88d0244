"""Metrics: observes what the other actors tell, keeps Prometheus metrics and the health verdict, serves both."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from actors.base import ServiceActor
from actors.logger import Log
from actors.runtime import runtime
from actors.ticker import Ticker
from gateways.files import write_replacing
from messages.definition import DefinitionNotPublished, DefinitionPublished, DefinitionUnchanged
from messages.leadership import BecameLeader, LostLeadership, StandingBy
from messages.lifecycle import ActorRestarted, ServiceStopping, SupervisionGaveUp
from messages.routes import MONITOR_LIVENESS
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodeListFailed, NodesObserved
from messages.timing import Tick
from messages.vault import MonitoringStopped, UnsealFinished, VaultObserved, VaultState, VaultsToMonitor
from neon_cm.health import DEGRADED_REASONS, Health, Shortfalls, assess, to_document
from neon_cm.outage import Outage

#: How often the health verdict is refreshed and written to the health file.
HEALTH_SECONDS = 5.0


class ServiceMetrics:
    """The Prometheus metrics of one service instance, in a registry of their own.

    Names follow Prometheus' conventions: a unit suffix (`_seconds`, `_bytes`), `_total` on counters
    (prometheus_client appends it to the names given here), timestamps as `_timestamp_seconds`.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.node_listings = Counter(
            "neon_cm_node_listings", "Successful listings of the Swarm's nodes (by poll or node event)", registry=r
        )
        self.node_listing_failures = Counter(
            "neon_cm_node_listing_failures", "Failed listings of the Swarm's nodes", registry=r
        )
        self.nodes = Gauge("neon_cm_swarm_nodes", "Nodes in the last listing", registry=r)
        self.publishes = Counter("neon_cm_definition_publishes", "Definitions written to Consul", registry=r)
        self.unchanged = Counter(
            "neon_cm_definition_unchanged",
            "Listings whose definition was already in Consul: nothing written",
            registry=r,
        )
        self.publish_failures = Counter(
            "neon_cm_definition_publish_failures",
            "Listings whose definition could not or must not be written (the one in Consul stays)",
            registry=r,
        )
        self.last_publish = Gauge(
            "neon_cm_definition_last_publish_timestamp_seconds",
            "When this instance last wrote a definition (0: not since it started)",
            registry=r,
        )
        self.definition_bytes = Gauge(
            "neon_cm_definition_compressed_bytes", "Size of the raw-deflated definition", registry=r
        )
        self.vault_state = Gauge(
            "neon_cm_vault_state", "1 for the Vault's current state, 0 for the others", ["node", "state"], registry=r
        )
        self.vault_state_changed = Gauge(
            "neon_cm_vault_state_last_change_timestamp_seconds",
            "When the Vault's monitor first saw its current state",
            ["node"],
            registry=r,
        )
        self.vault_poll_interval = Gauge(
            "neon_cm_vault_poll_interval_seconds", "Seconds between seal-status checks (vault_poll_seconds)", registry=r
        )
        self.vault_poll_interval.set(Settings().vault_poll_seconds)
        self.unseal_attempts = Counter(
            "neon_cm_vault_unseal_attempts", "Auto-unseal attempts on a sealed Vault", ["node"], registry=r
        )
        self.unseal_failures = Counter(
            "neon_cm_vault_unseal_failures", "Auto-unseal attempts that left the Vault sealed", ["node"], registry=r
        )
        self.keys_refused = Gauge(
            "neon_cm_vault_unseal_keys_refused",
            "1 from the moment this instance found that no combination of the unseal keys unseals the Vault (rotated, "
            "or another cluster's) until it sees it unsealed",
            ["node"],
            registry=r,
        )
        self.seal_type = Gauge(
            "neon_cm_vault_seal_type",
            "1 for the seal type the Vault last said (shamir, static, transit, awskms...): one series per node",
            ["node", "type"],
            registry=r,
        )
        self.healthy = Gauge(
            "neon_cm_healthy", "1 when the service passes its health check (healthy or degraded)", registry=r
        )
        self.degraded = Gauge(
            "neon_cm_degraded",
            "1 while the service runs but cannot do part of its job for this reason (`health` says degraded)",
            ["reason"],
            registry=r,
        )
        for reason in DEGRADED_REASONS:
            self.degraded.labels(reason)
        self.active = Gauge("neon_cm_active", "1 while this instance holds the lock and works", registry=r)
        self.standby = Gauge(
            "neon_cm_standby", "1 while another instance holds the lock (this one reports Vaults at INFO)", registry=r
        )
        self.restarts = Counter(
            "neon_cm_actor_restarts", "Restarts of an actor that crashed (a bug)", ["actor"], registry=r
        )
        self.actors_seen: set[str] = set()
        """The actors whose restart series exists (actors_known)."""

    # Prometheus' guidance: a labelled metric has its known series at 0 from the start, so a dashboard panel
    # shows 0 rather than "No data" and a rate() sees the first increment.
    def actors_known(self, names: Iterable[str]) -> None:
        """A restart series (at 0 until one restarts) for each of these actors. Told at every message: a name seen
        before is skipped (its series stays: restart series are never removed), which saves a `labels` look-up each."""
        for name in names:
            if name not in self.actors_seen:
                self.restarts.labels(name)
                self.actors_seen.add(name)

    def nodes_monitored(self, hostnames: Iterable[str]) -> None:
        """The unseal attempt and failure series (at 0 until an attempt) and the state series (all 0 until the
        first reading) of each of these nodes; series there already keep their values."""
        for hostname in hostnames:
            self.unseal_attempts.labels(hostname)
            self.unseal_failures.labels(hostname)
            self.keys_refused.labels(hostname)
            for state in VaultState:
                self.vault_state.labels(hostname, state.value)


class Metrics(ServiceActor):
    """Counts polls, publishes, failures, unseals and restarts from the messages it hears; judges health
    every 5 s, writes the verdict to the health file, and serves /metrics and /health when given a port.
    A port it cannot bind or a health file it cannot write is one ERROR naming it; the rest goes on."""

    component = "metrics"

    def __init__(
        self,
        log: Log,
        port: int | None,
        health_file: str,
        key_set: str | None = None,
        keys_unusable: str | None = None,
    ) -> None:
        super().__init__(log)
        self.metrics = ServiceMetrics()
        self.port = port
        self.health_file = health_file
        self.started = runtime().wall()
        self.last_listing: float | None = None
        self.settings = Settings()
        self.gave_up: dict[str, str] = {}
        """Actors their top supervisor left stopped, and why."""
        self.monitored: tuple[str, ...] = ()
        """Managers whose Vault must have a live monitor."""
        self.retired: set[str] = set()
        """Nodes told MonitoringStopped and not monitored again since: their late readings and unseal outcomes are
        dropped (a monitor retired mid-probe tells nothing more, but a message may already be on its way)."""
        self.vault_states: dict[str, VaultState] = {}
        self.seal_types: dict[str, str] = {}
        """The seal type each node's series of neon_cm_vault_seal_type is for."""
        self.health = Health(True)
        self.shortfalls = Shortfalls(key_set, keys_unusable=keys_unusable)
        """What the service cannot do although it runs (the degraded verdict), as far as heard."""
        self.server: MetricsServer | None = None
        self.serving_trouble = Outage()
        self.health_file_trouble = Outage()
        self.stopping = False
        """The service is stopping: its actors stop on purpose, so the verdict is left as it was (the health file is
        marked stopped at the end)."""
        self.unhealthy = Outage(changes_are_news=True)
        """The verdict's causes while unhealthy: one ERROR as they start or change, a reminder, one INFO at the end."""

    def setup(self) -> None:
        self.spawn(Ticker, "health", self.actor_ref, HEALTH_SECONDS)
        self.serve()

    def serve(self) -> None:
        """Serve /metrics and /health on the port asked for; while it cannot (another process, or another replica on
        this host, holds the port), one ERROR, a try at every health tick, and `degraded`."""
        if self.port is None or self.server is not None:
            return
        try:
            server = MetricsServer(("", self.port), handler_for(self))
        except OSError as error:
            why = error.strerror or str(error)
            self.shortfalls = attrs.evolve(
                self.shortfalls,
                metrics_unserved=f"/metrics and /health are not served: port {self.port} is taken ({why})",
            )
            self.outage_failed(
                self.serving_trouble,
                "bind",
                f"cannot serve /metrics and /health on port {self.port} ({why}); trying again every "
                f"{HEALTH_SECONDS:g} s",
            )
            return
        server.log = self.log
        self.server = server
        self.shortfalls = attrs.evolve(self.shortfalls, metrics_unserved=None)
        self.start_thread("metrics-http", server.serve_forever)
        self.log.info(f"serving /metrics and /health on port {self.port}")
        self.serving_trouble.succeeded()

    def cleanup(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def handle(self, message: Any) -> None:
        m = self.metrics
        m.actors_known(self.directory.names())  # every actor of the tree, as soon as its supervisor started it
        if isinstance(message, (VaultObserved, UnsealFinished)) and message.hostname in self.retired:
            return  # news of a node no longer monitored, late: its series stay gone
        if isinstance(message, NodesObserved):
            m.node_listings.inc()
            m.nodes.set(len(message.nodes))
            self.last_listing = runtime().wall()
        elif isinstance(message, NodeListFailed):
            m.node_listing_failures.inc()
        elif isinstance(message, DefinitionPublished):
            self.definition_found()
            m.publishes.inc()
            m.last_publish.set_to_current_time()
            m.definition_bytes.set(message.compressed_bytes)
        elif isinstance(message, DefinitionUnchanged):
            self.definition_found()
            m.unchanged.inc()
            m.definition_bytes.set(message.compressed_bytes)
        elif isinstance(message, DefinitionNotPublished):
            m.publish_failures.inc()
            if message.missing_base is not None:
                self.shortfalls = attrs.evolve(self.shortfalls, missing_definition=message.missing_base)
        elif isinstance(message, VaultObserved):
            m.nodes_monitored((message.hostname,))
            if self.vault_states.get(message.hostname) is not message.state:
                self.vault_states[message.hostname] = message.state
                m.vault_state_changed.labels(message.hostname).set_to_current_time()
            for state in VaultState:
                m.vault_state.labels(message.hostname, state.value).set(1 if state is message.state else 0)
            if message.state is VaultState.UNSEALED:
                m.keys_refused.labels(message.hostname).set(0)
                self.refused(message.hostname, False)
            if message.seal_type and self.seal_types.get(message.hostname) != message.seal_type:
                self.forget_seal_type(message.hostname)  # a seal migrated: the old type's series goes
                self.seal_types[message.hostname] = message.seal_type
                m.seal_type.labels(message.hostname, message.seal_type).set(1)
        elif isinstance(message, MonitoringStopped):
            self.retired.add(message.hostname)
            self.vault_states.pop(message.hostname, None)
            with contextlib.suppress(KeyError):  # a monitor stopped before its first reading has no series
                for state in VaultState:
                    m.vault_state.remove(message.hostname, state.value)
                m.vault_state_changed.remove(message.hostname)
                m.unseal_attempts.remove(message.hostname)
                m.unseal_failures.remove(message.hostname)
                m.keys_refused.remove(message.hostname)
            self.forget_seal_type(message.hostname)
            self.refused(message.hostname, False)
        elif isinstance(message, UnsealFinished):
            m.unseal_attempts.labels(message.hostname).inc()
            if not message.unsealed:
                m.unseal_failures.labels(message.hostname).inc()
            if message.unsealed or message.keys_refused:
                m.keys_refused.labels(message.hostname).set(1 if message.keys_refused else 0)
                self.refused(message.hostname, message.keys_refused)
        elif isinstance(message, SettingsChanged):
            self.settings = message.settings
            self.shortfalls = attrs.evolve(self.shortfalls, settings_rejected=message.rejected)
            m.vault_poll_interval.set(message.settings.vault_poll_seconds)
        elif isinstance(message, ActorRestarted):
            m.restarts.labels(message.actor).inc()
        elif isinstance(message, SupervisionGaveUp):
            self.gave_up[message.actor] = message.reason
            self.judge()
        elif isinstance(message, VaultsToMonitor):
            self.retired -= set(message.hostnames)
            self.monitored = message.hostnames
            m.nodes_monitored(message.hostnames)
        elif isinstance(message, (BecameLeader, LostLeadership, StandingBy)):
            m.active.set(1 if isinstance(message, BecameLeader) else 0)
            m.standby.set(1 if isinstance(message, StandingBy) else 0)
            if not isinstance(message, BecameLeader):  # only the active instance unseals: its finding is the one
                for hostname in self.monitored:
                    m.keys_refused.labels(hostname).set(0)
                self.shortfalls = attrs.evolve(self.shortfalls, keys_refused=(), missing_definition=None)
        elif isinstance(message, ServiceStopping):
            self.stopping = True
        elif isinstance(message, Tick) and not self.stopping:
            self.serve()
            self.judge()

    def refused(self, hostname: str, refused: bool) -> None:
        """Note whether the Vault on `hostname` refused every combination of the loaded keys."""
        others = tuple(name for name in self.shortfalls.keys_refused if name != hostname)
        self.shortfalls = attrs.evolve(
            self.shortfalls, keys_refused=tuple(sorted((*others, hostname) if refused else others))
        )

    def definition_found(self) -> None:
        self.shortfalls = attrs.evolve(self.shortfalls, missing_definition=None)

    def forget_seal_type(self, hostname: str) -> None:
        seal_type = self.seal_types.pop(hostname, None)
        if seal_type is not None:
            self.metrics.seal_type.remove(hostname, seal_type)

    def judge(self) -> None:
        """Refresh the verdict; log when it changes; write the health file (atomically). Not once the service is
        stopping: the Vault side stops before Metrics, and its monitors gone are no fault."""
        if self.stopping:
            return
        unwatched = tuple(hostname for hostname in self.monitored if not self.monitor_alive(hostname))
        health = assess(
            runtime().wall(),
            self.started,
            self.last_listing,
            self.settings.node_poll_seconds,
            sorted(self.gave_up),
            unwatched,
            self.shortfalls,
        )
        if health.ok:
            self.outage_ended(self.unhealthy, "healthy again")
        else:
            self.outage_failed(self.unhealthy, "; ".join(health.causes), f"unhealthy: {'; '.join(health.reasons)}")
        self.health = health
        self.metrics.healthy.set(1 if health.ok else 0)
        degraded = self.shortfalls.reasons()
        for reason in DEGRADED_REASONS:
            self.metrics.degraded.labels(reason).set(1 if reason in degraded else 0)
        try:
            write_health_file(self.health_file, health, self.shortfalls)
        except OSError as error:
            self.outage_failed(
                self.health_file_trouble,
                "write",
                f"cannot write the health file {self.health_file} ({error}); `health` will say so",
            )
        else:
            self.outage_ended(self.health_file_trouble, f"writing the health file {self.health_file} again")

    def monitor_alive(self, hostname: str) -> bool:
        ref = self.directory.route(MONITOR_LIVENESS, hostname)
        return ref is not None and ref.is_alive()


def write_health_file(path: str, health: Health, shortfalls: Shortfalls) -> None:
    """Replace the health file atomically, so `neon-cluster-manager health` never reads half of it; through a
    symlink, and never over a device or anything else that is not a regular file (NotARegularFile, an OSError)."""
    write_replacing(path, to_document(health, runtime().wall(), shortfalls))


class MetricsServer(ThreadingHTTPServer):
    """The /metrics and /health server; a request that fails (a scraper that hung up) is a DEBUG line,
    not a traceback on stderr as socketserver would print."""

    daemon_threads = True
    log: Log | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.log is not None:
            self.log.debug(f"metrics http: a request from {client_address[0]} failed", sys.exc_info()[1])


def handler_for(owner: Metrics) -> type[BaseHTTPRequestHandler]:
    """A request handler serving GET (and HEAD) /metrics and /health from `owner`'s state."""

    class Handler(BaseHTTPRequestHandler):
        head_only = False

        def do_HEAD(self) -> None:
            self.head_only = True  # a monitor's or load balancer's probe: GET's status and headers, no body
            self.do_GET()

        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                self.answer(200, CONTENT_TYPE_LATEST, generate_latest(owner.metrics.registry))
            elif self.path.startswith("/health"):
                health, shortfalls = owner.health, owner.shortfalls
                body = to_document(health, runtime().wall(), shortfalls)
                self.answer(200 if health.ok else 503, "application/json", body)
            else:
                self.answer(404, "text/plain", b"try /metrics or /health\n")

        def answer(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not self.head_only:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            owner.log.debug(f"metrics http: {format % args}")

    return Handler
