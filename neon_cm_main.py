"""neon-cluster-manager's entry point: wires the actors, starts them in order, stops them in reverse."""

from __future__ import annotations

import neon_cm_stopping as stopping

stopping.install()  # first of all: a stop while the imports below take their ~0.3 s is a clean stop

import logging
import os
import signal
import sys
from collections.abc import Mapping

import pykka
import urllib3

from actors.base import Directory, linked
from actors.definition_publisher import DefinitionPublisher
from actors.leadership import Leadership
from actors.logger import Log, LogSink, dump_threads_on_signal, install_logging_bridge
from actors.metrics import Metrics
from actors.node_events import NodeEvents
from actors.runtime import Event, runtime
from actors.settings_watcher import SettingsWatcher
from actors.supervisor import ChildSpec, Strategy, Supervisor, stop_actors
from actors.swarm_watcher import SwarmWatcher
from actors.under_lock import UnderLock
from actors.unsealer import Unsealer
from actors.vault_fleet import VaultFleet
from gateways.consul import consul_client
from gateways.docker import ApiVersions, DockerGateway
from gateways.files import path_kind, read_text, write_replacing
from messages.routes import DEFINITION_SIDE, ROUTES, SWARM_WATCHER, WIRING
from neon_cm import __version__
from neon_cm.config import Config, load_config
from neon_cm.environment import ConsulAccess
from neon_cm.filewords import describe_os_error
from neon_cm.health import stopped_document
from neon_cm.logformat import FORMATTERS

#: The lock's client: its release on stop must not wait out a hung Consul, and an active instance must
#: find out it cannot pass its check well before the check expires (actors/leadership.py).
LOCK_REQUEST_TIMEOUT = 1.0
#: SIGTERM to exit 0 within the 5 s Docker gives, whatever hangs.
SHUTDOWN_SECONDS = 3.5


def service_tree(config: Config, consul: ConsulAccess, log: Log, stop: Event | None = None) -> list[ChildSpec]:
    """The top supervisor's children, in start order (stopped in reverse). README draws the tree. `stop`: the
    instance's stop request, which Leadership reads (once it is set, it neither offers to take over nor takes the lock).

    Three failure domains that never stop or restart each other: settings, the Vault side and the
    definition side; the observers (metrics, leadership) beside them. Each actor has its own client, built from
    what `load_config` parsed (`consul`: Config.consul, known good once there is no fatal error).
    """
    key_set = config.credentials.fingerprint() if config.credentials is not None else None
    under_lock = UnderLock()  # the Unsealer's shares pass it; Leadership shuts it (and waits) before a release
    vault_side = [ChildSpec("vault-fleet", lambda: VaultFleet.start(config.vault_tls, log, consul_client(consul)))]
    if config.credentials is not None:
        credentials = config.credentials
        unsealer = ChildSpec(
            "unsealer",
            lambda: Unsealer.start(credentials, consul_client(consul), config.vault_tls, log, under_lock),
        )
        vault_side.insert(0, unsealer)
    # One API version for the listing and the event stream: negotiated once, again when the daemon refuses it.
    versions = ApiVersions(config.docker_api_pin)
    definition_side = [
        ChildSpec(SWARM_WATCHER, lambda: SwarmWatcher.start(DockerGateway(config.docker_host, versions=versions), log)),
        # Its own client: the event stream holds a connection open for as long as it runs.
        *(
            [
                ChildSpec(
                    "node-events", lambda: NodeEvents.start(DockerGateway(config.docker_host, versions=versions), log)
                )
            ]
            if config.events
            else []
        ),
        ChildSpec("definition-publisher", lambda: DefinitionPublisher.start(consul_client(consul), log)),
    ]
    return [
        ChildSpec(
            "metrics",
            lambda: Metrics.start(log, config.metrics_port, config.health_file, key_set, config.credentials_error),
        ),
        ChildSpec(
            "leadership",
            lambda: Leadership.start(consul_client(consul, LOCK_REQUEST_TIMEOUT), log, stop, under_lock),
        ),
        ChildSpec("settings", lambda: SettingsWatcher.start(consul_client(consul), log)),
        ChildSpec("vault", lambda: Supervisor.start("vault", Strategy.ONE_FOR_ONE, vault_side, log)),
        ChildSpec(
            DEFINITION_SIDE, lambda: Supervisor.start(DEFINITION_SIDE, Strategy.REST_FOR_ONE, definition_side, log)
        ),
    ]


def log_start(config: Config, log: Log) -> None:
    """The start-up lines: version and configuration, warnings, and whether auto-unseal is on."""
    log.info(f"neon-cluster-manager {__version__} starting: {config.describe()}")
    for warning in config.warnings:
        log.warn(warning)
    if config.credentials_error:
        log.error(f"auto-unseal disabled: {config.credentials_error}")
    elif config.credentials is None:
        log.info("auto-unseal disabled: no credentials (VAULT_CREDENTIALS or VAULT_CREDENTIALS_FILE)")
    else:
        log.info(f"auto-unseal enabled: {config.credentials.describe()}")


def leave_health_file(path: str, log: Log) -> None:
    """Mark the health file stopped, so `neon-cluster-manager health` fails at once rather than once it is stale."""
    try:
        write_replacing(path, stopped_document(runtime().wall()))
    except OSError as error:  # Metrics already said it cannot write there; say why once more, at exit
        log.debug(f"cannot mark the health file {path} stopped: {describe_os_error(error)}")


def serve(config: Config, consul: ConsulAccess, log: Log, stop: Event) -> None:
    """Start the service's tree, run it until `stop` is set, then stop it within SHUTDOWN_SECONDS and mark the health
    file stopped (`main`'s work between the process's set-up and its exit; the simulator runs it too)."""
    log_start(config, log)
    if config.vault_tls.verify is False or consul.tls.verify is False:
        # Said once at start; urllib3 would otherwise warn on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    with linked(None, Directory(WIRING, ROUTES)):
        top = Supervisor.start("service", Strategy.ONE_FOR_ONE, service_tree(config, consul, log, stop), log)
    # A signal may land on any thread, and CPython runs its handler only when the main thread wakes:
    # a timed wait makes sure it does.
    while not stop.wait(timeout=0.2):
        pass
    log.info("stopping")
    stop_actors([top], log, SHUTDOWN_SECONDS)
    leave_health_file(config.health_file, log)


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; return the process exit code."""
    stop = stopping.install()  # again: a caller may have changed the handlers since the import
    env = os.environ if env is None else env
    config = load_config(env, read_text, path_kind)
    sink = LogSink(config.level, config.secrets, FORMATTERS[config.log_format])
    sink.start()
    log = Log("main", sink)
    bridge = install_logging_bridge(log.child("python"))
    logging.captureWarnings(True)  # Python warnings are log entries too, never bare stderr
    # pykka logs every actor's death; supervisors do that once per crash, with the exception.
    logging.getLogger("pykka").setLevel(logging.CRITICAL)
    signal.signal(signal.SIGUSR1, dump_threads_on_signal(log))
    if config.fatal or config.consul is None:
        log.fatal(config.fatal or "no Consul address")
        sink.stop()
        return 1
    serve(config, config.consul, log, stop)
    for ref in pykka.ActorRegistry.get_all():
        if ref is not sink.ref:
            log.warn(f"{ref.actor_class.__name__} still busy at exit (a peer that does not answer); leaving it")
    log.info("stopped")
    logging.getLogger().removeHandler(bridge)  # the Logger's own stop is not news for the log stream
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
