"""SettingsWatcher: keeps the service's settings in step with Consul and tells who depends on them."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import consul
import pykka

from actors.base import ServiceActor, tell
from actors.consul_watch import ConsulWatch
from actors.logger import Log
from messages.consul import KeysChanged, WatchFailed
from messages.settings import Settings, SettingsChanged
from neon_cm.errors import CONSUL_ERRORS, describe
from neon_cm.outage import Outage
from neon_cm.settings import PARSERS, SETTINGS_PREFIX, SettingProblem, default_text, describe_settings, parse_settings


class SettingsWatcher(ServiceActor):
    """Follows neon/services/neon-cluster-manager/* in Consul (a blocking query, so a change applies
    at once), writes missing defaults once, rejects bad values with one WARN each, and tells
    SettingsChanged when the effective settings change."""

    component = "settings"

    def __init__(self, consul_client: consul.Consul, log: Log) -> None:
        super().__init__(log)
        self.consul = consul_client
        self.settings: Settings | None = None
        self.rejected: set[SettingProblem] = set()
        self.denied: set[str] = set()
        """Settings whose default the token may not write (said once each)."""
        self.outage = Outage()
        self.watch: pykka.ActorRef[Any] | None = None

    def setup(self) -> None:
        # Read once before anyone asks, so nothing starts on defaults that Consul overrides.
        try:
            _, items = self.consul.kv.get(SETTINGS_PREFIX, recurse=True)
            self.update((item["Key"], item.get("Value")) for item in items or [])
        except CONSUL_ERRORS as error:
            self.consul_failed(describe(error))
        self.watch = self.spawn(ConsulWatch, self.consul, SETTINGS_PREFIX, self.actor_ref, self.log)

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        tell(to, SettingsChanged(self.settings or Settings()))

    def handle(self, message: Any) -> None:
        if isinstance(message, KeysChanged):
            try:
                self.update(message.values)
            except CONSUL_ERRORS as error:
                self.consul_failed(describe(error))
        elif isinstance(message, WatchFailed):
            self.consul_failed(message.error)

    def consul_failed(self, problem: str) -> None:
        if self.outage.failed("consul", time.monotonic()):
            self.log.error(
                f"cannot read settings from Consul ({SETTINGS_PREFIX}*); keeping the current ones ({problem})"
            )
        if self.settings is None:
            self.apply(Settings())

    def update(self, values: Iterable[tuple[str, bytes | None]]) -> None:
        """Apply what is stored; PUT /v1/kv/neon/services/neon-cluster-manager/<name>?cas=0 for a missing one."""
        if self.outage.succeeded() is not None:
            self.log.info("reading settings from Consul again")
        stored = {
            key[len(SETTINGS_PREFIX) :]: (value or b"").decode("utf-8", errors="replace") for key, value in values
        }
        for name in PARSERS:
            if name not in stored:
                self.write_default(name)
        settings, problems = parse_settings(stored)
        for problem in set(problems) - self.rejected:
            self.log.warn(problem.describe())
        self.rejected = set(problems)
        self.apply(settings)

    def write_default(self, name: str) -> None:
        """PUT /v1/kv/neon/services/neon-cluster-manager/<name>?cas=0: only if still missing, so a value an
        operator just wrote is never overwritten. A token without the right to it: one ERROR, the default applies."""
        try:
            written = self.consul.kv.put(SETTINGS_PREFIX + name, default_text(name), cas=0)
        except consul.ACLPermissionDenied as error:
            if name not in self.denied:
                self.denied.add(name)
                self.log.error(f"cannot write the default of {SETTINGS_PREFIX}{name}: {describe(error)}; using it")
            return
        if written:
            self.log.info(f"setting {SETTINGS_PREFIX}{name} was missing; wrote the default {default_text(name)}")

    def apply(self, settings: Settings) -> None:
        if settings == self.settings:
            return
        self.settings = settings
        self.log.info(f"settings: {describe_settings(settings)}")
        self.publish(SettingsChanged(settings))
