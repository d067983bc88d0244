"""neon-cluster-manager's entry point: wires the actors, starts them in order, stops them in reverse."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pykka
import urllib3

from actors.definition_publisher import DefinitionPublisher
from actors.leadership import Leadership
from actors.logger import Log, LogSink, install_logging_bridge, log_thread_dump
from actors.metrics import Metrics
from actors.node_events import NodeEvents
from actors.settings_watcher import SettingsWatcher
from actors.supervisor import Supervisor, stop_actors
from actors.swarm_watcher import SwarmWatcher
from actors.unsealer import Unsealer
from actors.vault_fleet import VaultFleet
from messages.lifecycle import ActorsStarted, Subscribe
from neon_cm import __version__
from neon_cm.clients import consul_client, docker_api
from neon_cm.config import Config, load_config
from neon_cm.logformat import FORMATTERS


def start_service(
    env: Mapping[str, str], config: Config, log: Log, metrics: pykka.ActorRef[Any]
) -> list[pykka.ActorRef[Any]]:
    """Start the service's actors in dependency order and wire who tells whom; return them in that order."""
    consul = consul_client(env)
    settings = SettingsWatcher.start(consul, log)
    publisher = DefinitionPublisher.start(consul, log)
    unsealer = Unsealer.start(config.credentials, consul, config.verify, log) if config.credentials else None
    fleet = VaultFleet.start(config.verify, unsealer, log)
    swarm = SwarmWatcher.start(docker_api(env), log)
    wiring: list[tuple[pykka.ActorRef[Any], pykka.ActorRef[Any]]] = [
        (settings, metrics),
        (publisher, metrics),
        (fleet, metrics),
        *([(unsealer, metrics)] if unsealer else []),
        (swarm, metrics),
        (swarm, publisher),
        (swarm, fleet),
        (settings, fleet),
        (settings, swarm),  # last: its first SettingsChanged starts the node polls
    ]
    for source, subscriber in wiring:
        source.tell(Subscribe(subscriber))
    # Its own client: the event stream holds a connection open for as long as it runs.
    node_events = [NodeEvents.start(docker_api(env), swarm, log)] if config.events else []
    actors: list[pykka.ActorRef[Any]] = [settings, publisher, *([unsealer] if unsealer else [])]
    actors += [fleet, swarm, *node_events]
    metrics.tell(ActorsStarted(tuple((ref.actor_class.__name__, ref) for ref in actors)))
    return actors


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
        log.info(f"auto-unseal enabled: {len(config.credentials.keys)} keys, threshold {config.credentials.threshold}")


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; return the process exit code."""
    env = os.environ if env is None else env
    config = load_config(env, lambda path: Path(path).read_text(encoding="utf-8"))
    sink = LogSink(config.level, config.secrets, FORMATTERS[config.log_format])
    sink.start()
    log = Log("main", sink)
    bridge = install_logging_bridge(log.child("python"))
    logging.captureWarnings(True)  # Python warnings are log entries too, never bare stderr
    # pykka logs every actor's death; the Supervisor does that once per crash, with the exception.
    logging.getLogger("pykka").setLevel(logging.CRITICAL)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: log_thread_dump(log))
    if config.fatal:
        log.fatal(config.fatal)
        sink.stop()
        return 1
    log_start(config, log)
    if config.verify is False:
        # Said once at start; urllib3 would otherwise warn on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    metrics = Metrics.start(log, config.metrics_port, config.health_file)
    supervisor = Supervisor.start(lambda: start_service(env, config, log, metrics), sink, log)
    leadership = Leadership.start(consul_client(env), log)
    leadership.tell(Subscribe(supervisor))
    leadership.tell(Subscribe(metrics))
    # A signal may land on any thread, and CPython runs its handler only when the main thread wakes:
    # a timed wait makes sure it does.
    while not stop.wait(timeout=0.2):
        pass
    log.info("stopping")
    # The service's actors first, then the lock (a standby takes over at once), then the observers.
    stop_actors([leadership, metrics, supervisor], log)
    leftovers = [ref for ref in pykka.ActorRegistry.get_all() if ref is not sink.ref]
    for ref in leftovers:
        log.error(f"{ref} still running after shutdown (a bug); stopping it")
        ref.stop(block=False)
    log.info("stopped")
    logging.getLogger().removeHandler(bridge)  # the Logger's own stop is not news for the log stream
    sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
