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
from actors.node_events import NodeEvents
from actors.settings_watcher import SettingsWatcher
from actors.swarm_watcher import SwarmWatcher
from actors.unsealer import Unsealer
from actors.vault_fleet import VaultFleet
from messages.lifecycle import Subscribe
from neon_cm import __version__
from neon_cm.clients import consul_client, docker_api
from neon_cm.credentials import CredentialsError, UnsealCredentials, credentials_from_env
from neon_cm.environment import (
    parse_consul_address,
    parse_log_format,
    parse_log_level,
    parse_swarm_events,
    parse_vault_verify,
)
from neon_cm.logformat import FORMATTERS

#: SIGTERM to exit must stay under the 5 s Docker gives before SIGKILL.
STOP_TIMEOUT_SECONDS = 4.0


def start_service(
    env: Mapping[str, str], credentials: UnsealCredentials | None, verify: bool | str, events: bool, log: Log
) -> list[pykka.ActorRef[Any]]:
    """Start the actors in dependency order; return them in that order."""
    consul = consul_client(env)
    settings = SettingsWatcher.start(consul, log)
    publisher = DefinitionPublisher.start(consul, log)
    unsealer = Unsealer.start(credentials, consul, verify, log) if credentials is not None else None
    fleet = VaultFleet.start(verify, unsealer, log)
    swarm = SwarmWatcher.start(docker_api(env), log)
    swarm.tell(Subscribe(publisher))
    swarm.tell(Subscribe(fleet))
    settings.tell(Subscribe(fleet))
    settings.tell(Subscribe(swarm))
    # Its own client: the event stream holds a connection open for as long as it runs.
    node_events = [NodeEvents.start(docker_api(env), swarm, log)] if events else []
    return [settings, publisher, *([unsealer] if unsealer else []), fleet, swarm, *node_events]


def load_credentials(env: Mapping[str, str]) -> tuple[UnsealCredentials | None, str | None]:
    """The unseal credentials, or None and the error saying why they cannot be used (never the value)."""
    try:
        return credentials_from_env(env, lambda path: Path(path).read_text(encoding="utf-8")), None
    except CredentialsError as error:
        return None, str(error)


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


def main(env: Mapping[str, str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; return the process exit code."""
    env = os.environ if env is None else env
    level, level_warning = parse_log_level(env.get("LOG_LEVEL"))
    log_format, format_warning = parse_log_format(env.get("LOG_FORMAT"))
    credentials, credentials_error = load_credentials(env)
    secrets = frozenset(credentials.forms()) if credentials else frozenset()
    logger = Logger.start(level, secrets, FORMATTERS[log_format])
    log = Log("main", logger, level, secrets)
    bridge = install_logging_bridge(log.child("python"))
    logging.captureWarnings(True)  # Python warnings are log entries too, never bare stderr
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, pykka.debug.log_thread_tracebacks)
    for warning in (level_warning, format_warning):
        if warning:
            log.warn(warning)
    try:
        consul_address = parse_consul_address(env.get("CONSUL_HTTP_ADDR"))
    except ValueError as error:
        log.fatal(str(error))
        logger.stop()
        return 1
    verify, verify_warning = parse_vault_verify(env)
    events, events_warning = parse_swarm_events(env)
    log.info(
        f"neon-cluster-manager {__version__} starting: Consul {consul_address}, "
        f"Docker {env.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'}, log level {level.name}, "
        f"Vault TLS {'verified' if verify is True else 'trusting ' + verify if verify else 'NOT verified'}, "
        f"node events {'on' if events else 'off (polling only)'}"
    )
    for warning in (verify_warning, events_warning):
        if warning:
            log.warn(warning)
    if verify is False:
        # Said once above; urllib3 would otherwise warn on every request.
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    if credentials_error:
        log.error(f"auto-unseal disabled: {credentials_error}")
    elif credentials is None:
        log.info("auto-unseal disabled: no credentials (VAULT_CREDENTIALS or VAULT_CREDENTIALS_FILE)")
    else:
        log.info(f"auto-unseal enabled: {len(credentials.keys)} keys, threshold {credentials.threshold}")
    actors = start_service(env, credentials, verify, events, log)
    stop.wait()
    log.info("stopping")
    stop_actors(actors, log)
    log.info("stopped")
    logging.getLogger().removeHandler(bridge)  # the Logger's own stop is not news for the log stream
    logger.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
