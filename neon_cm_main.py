"""neon-cluster-manager's entry point: wires the actors, starts them in order, stops them in reverse."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pykka
import pykka.debug
import urllib3

from actors.definition_publisher import DefinitionPublisher
from actors.logger import Log, Logger, install_logging_bridge
from actors.metrics import Metrics
from actors.node_events import NodeEvents
from actors.settings_watcher import SettingsWatcher
from actors.swarm_watcher import SwarmWatcher
from actors.unsealer import Unsealer
from actors.vault_fleet import VaultFleet
from messages.lifecycle import ActorsStarted, Subscribe
from neon_cm import __version__
from neon_cm.clients import consul_client, docker_api
from neon_cm.config import Config, load_config
from neon_cm.logformat import FORMATTERS

#: SIGTERM to exit must stay under the 5 s Docker gives before SIGKILL.
STOP_TIMEOUT_SECONDS = 4.0


def start_service(env: Mapping[str, str], config: Config, log: Log) -> list[pykka.ActorRef[Any]]:
    """Start the actors in dependency order and wire who tells whom; return them in that order."""
    consul = consul_client(env)
    metrics = Metrics.start(log, config.metrics_port, config.health_file)
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
    actors: list[pykka.ActorRef[Any]] = [metrics, settings, publisher, *([unsealer] if unsealer else [])]
    actors += [fleet, swarm, *node_events]
    metrics.tell(ActorsStarted(tuple((ref.actor_class.__name__, ref) for ref in actors)))
    return actors


def stop_actors(actors: list[pykka.ActorRef[Any]], log: Log) -> None:
    """Stop the actors in reverse order; anything still alive afterwards is a bug and is logged."""
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for actor in reversed(actors):
        try:
            actor.stop(block=True, timeout=max(0.1, deadline - time.monotonic()))
        except pykka.Timeout:
            log.error(f"{actor} did not stop in time")
    leftovers = [ref for ref in pykka.ActorRegistry.get_all() if ref is not log.logger]
    for ref in leftovers:
        log.error(f"{ref} still running after shutdown (a bug); stopping it")
        ref.stop(block=False)


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
    logger = Logger.start(config.level, config.secrets, FORMATTERS[config.log_format])
    log = Log("main", logger, config.level, config.secrets)
    bridge = install_logging_bridge(log.child("python"))
    logging.captureWarnings(True)  # Python warnings are log entries too, never bare stderr
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, pykka.debug.log_thread_tracebacks)
    if config.fatal:
        log.fatal(config.fatal)
        logger.stop()
        return 1
    log_start(config, log)
    if config.verify is False:
        # Said once at start; urllib3 would otherwise warn on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    actors = start_service(env, config, log)
    stop.wait()
    log.info("stopping")
    stop_actors(actors, log)
    log.info("stopped")
    logging.getLogger().removeHandler(bridge)  # the Logger's own stop is not news for the log stream
    logger.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
