"""SettingsWatcher: keeps the service's settings in step with Consul and tells who depends on them."""

from __future__ import annotations

import time
from typing import Any

import consul
import pykka
import requests

from actors.base import ServiceActor
from actors.logger import Log
from actors.ticker import Ticker
from messages.settings import Settings, SettingsChanged
from messages.timing import Tick
from neon_cm.outage import Outage
from neon_cm.settings import PARSERS, SETTINGS_PREFIX, SettingProblem, default_text, describe_settings, parse_settings

#: How often settings are re-read from Consul.
SETTINGS_POLL_SECONDS = 2.0
CONSUL_ERRORS = (consul.ConsulException, requests.RequestException)


class SettingsWatcher(ServiceActor):
    """Reads neon/services/neon-cluster-manager/* from Consul, writes missing defaults once,
    rejects bad values with one WARN each, and tells SettingsChanged when the effective
    settings change."""

    component = "settings"

    def __init__(self, consul_client: consul.Consul, log: Log, poll_seconds: float = SETTINGS_POLL_SECONDS) -> None:
        super().__init__(log)
        self.consul = consul_client
        self.poll_seconds = poll_seconds
        self.settings: Settings | None = None
        self.rejected: set[SettingProblem] = set()
        self.outage = Outage()
        self.ticker: pykka.ActorRef[Any] | None = None

    def on_start(self) -> None:
        self.refresh()
        self.ticker = Ticker.start("settings-poll", self.actor_ref, self.poll_seconds, tick_at_start=False)

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()

    def on_subscribe(self, subscriber: pykka.ActorRef[Any]) -> None:
        subscriber.tell(SettingsChanged(self.settings or Settings()))

    def handle(self, message: Any) -> None:
        if isinstance(message, Tick):
            self.refresh()

    def refresh(self) -> None:
        """GET /v1/kv/neon/services/neon-cluster-manager/?recurse, then PUT any missing default."""
        try:
            stored = self.read()
            for name in PARSERS:
                if name not in stored:
                    self.write_default(name)
        except CONSUL_ERRORS as error:
            if self.outage.failed(f"{type(error).__name__}: {error}", time.monotonic()):
                self.log.error("cannot read settings from Consul; keeping the current ones", error)
            if self.settings is None:
                self.apply(Settings())
            return
        if self.outage.succeeded() is not None:
            self.log.info("reading settings from Consul again")
        settings, problems = parse_settings(stored)
        for problem in set(problems) - self.rejected:
            self.log.warn(problem.describe())
        self.rejected = set(problems)
        self.apply(settings)

    def read(self) -> dict[str, str | None]:
        _, items = self.consul.kv.get(SETTINGS_PREFIX, recurse=True)
        stored: dict[str, str | None] = {}
        for item in items or []:
            name = item["Key"][len(SETTINGS_PREFIX) :]
            value = item.get("Value")
            stored[name] = value.decode("utf-8", errors="replace") if value is not None else ""
        return stored

    def write_default(self, name: str) -> None:
        # cas=0: only if still missing, so a value an operator just wrote is never overwritten.
        if self.consul.kv.put(SETTINGS_PREFIX + name, default_text(name), cas=0):
            self.log.info(f"setting {SETTINGS_PREFIX}{name} was missing; wrote the default {default_text(name)}")

    def apply(self, settings: Settings) -> None:
        if settings == self.settings:
            return
        self.settings = settings
        self.log.info(f"settings: {describe_settings(settings)}")
        self.publish(SettingsChanged(settings))
