"""SettingsWatcher: keeps the service's settings in step with Consul and tells who depends on them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import consul
import pykka

from actors.base import ServiceActor, tell
from actors.consul_watch import ConsulWatch
from actors.logger import Log
from gateways.consul import ConsulGateway
from gateways.errors import consul_leaderless
from messages.consul import KeysChanged, WatchFailed
from messages.consul_answers import ConsulRefused, ConsulUnreachable, KeysRead, KeyWritten
from messages.settings import Settings, SettingsChanged
from neon_cm.lease import NO_LEADER
from neon_cm.outage import Outage
from neon_cm.settings import (
    PARSERS,
    SETTINGS_PREFIX,
    SettingProblem,
    default_text,
    default_written,
    describe_settings,
    describe_unknown_setting,
    parse_settings,
    stored_settings,
    template_caveat,
    unknown_settings,
)


class SettingsWatcher(ServiceActor):
    """Follows neon/services/neon-cluster-manager/* in Consul (a blocking query, so a change applies
    at once), writes missing defaults once, rejects bad values with one WARN each, and tells
    SettingsChanged when the effective settings change."""

    component = "settings"

    def __init__(self, consul_client: consul.Consul, log: Log) -> None:
        super().__init__(log)
        self.consul = consul_client
        self.gateway = ConsulGateway(consul_client)
        self.settings: Settings | None = None
        self.rejected: set[SettingProblem] = set()
        self.told_rejected: tuple[str, ...] = ()
        """The rejected settings' names last told (SettingsChanged.rejected)."""
        self.unknown: set[str] = set()
        """Keys under the prefix that are no setting, said once each while they are there."""
        self.caveat_said: str | None = None
        """The template with no placeholder last said in a WARN (template_caveat), said again only when it changes."""
        self.denied: set[str] = set()
        """Settings whose default the token may not write (said once each)."""
        self.outage = Outage()
        self.watch: pykka.ActorRef[Any] | None = None

    def setup(self) -> None:
        # Read once before anyone asks, so nothing starts on defaults that Consul overrides.
        answer = self.gateway.read_keys(SETTINGS_PREFIX)
        if isinstance(answer, KeysRead):
            self.update(answer.values)
        else:
            self.consul_failed(answer.detail if isinstance(answer, ConsulRefused) else answer.reason)
        self.watch = self.spawn(ConsulWatch, self.consul, SETTINGS_PREFIX, self.actor_ref, self.log)

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        tell(to, SettingsChanged(self.settings or Settings(), self.told_rejected))

    def rejected_names(self) -> tuple[str, ...]:
        return tuple(sorted({problem.name for problem in self.rejected}))

    def handle(self, message: Any) -> None:
        if isinstance(message, KeysChanged):
            self.update(message.values)
        elif isinstance(message, WatchFailed):
            self.consul_failed(message.error)

    def consul_failed(self, problem: str) -> None:
        leaderless = consul_leaderless(problem)
        what = f"{NO_LEADER}: cannot read settings" if leaderless else "cannot read settings from Consul"
        self.outage_failed(self.outage, "consul", f"{what} ({SETTINGS_PREFIX}*); keeping the current ones ({problem})")
        if self.settings is None:
            self.apply(Settings())

    def update(self, values: Iterable[tuple[str, bytes | None]]) -> None:
        """Apply what is stored; PUT /v1/kv/neon/services/neon-cluster-manager/<name>?cas=0 for a missing one."""
        self.outage_ended(self.outage, "reading settings from Consul again")
        values = tuple(values)
        stored = stored_settings(values)
        for name in PARSERS:
            if stored[name] is None:
                self.write_default(name)
        settings, problems = parse_settings(stored)
        for problem in set(problems) - self.rejected:
            self.log.warn(problem.describe())
        self.rejected = set(problems)
        unknown = unknown_settings(values)
        for name in unknown:
            if name not in self.unknown:
                self.log.warn(describe_unknown_setting(name))
        self.unknown = set(unknown)
        caveat = template_caveat(settings.vault_url_template)
        if caveat is not None and settings.vault_url_template != self.caveat_said:
            self.log.warn(caveat)
        self.caveat_said = settings.vault_url_template if caveat is not None else None
        self.apply(settings, self.rejected_names())

    def write_default(self, name: str) -> None:
        """PUT /v1/kv/neon/services/neon-cluster-manager/<name>?cas=0: only if still missing, so a value an
        operator just wrote is never overwritten. A token without the right to it: one ERROR, the default applies."""
        answer = self.gateway.write_key(SETTINGS_PREFIX + name, default_text(name), only_if_missing=True)
        if isinstance(answer, ConsulRefused):
            if name not in self.denied:
                self.denied.add(name)
                self.log.error(f"cannot write the default of {SETTINGS_PREFIX}{name}: {answer.detail}; using it")
        elif isinstance(answer, ConsulUnreachable):
            self.consul_failed(answer.reason)
        elif isinstance(answer, KeyWritten) and answer.stored:
            warn, line = default_written(name, self.settings)
            (self.log.warn if warn else self.log.info)(line)

    def apply(self, settings: Settings, rejected: tuple[str, ...] = ()) -> None:
        if settings == self.settings and rejected == self.told_rejected:
            return
        if settings != self.settings:
            self.log.info(f"settings: {describe_settings(settings)}")
        self.settings, self.told_rejected = settings, rejected
        self.publish(SettingsChanged(settings, rejected))
