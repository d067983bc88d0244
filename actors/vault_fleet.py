"""VaultFleet: the shell over neon_cm/fleet.py; one VaultMonitor per Swarm manager, under a plain supervisor."""

from __future__ import annotations

from typing import Any

import consul
import pykka

from actors.base import DecidingActor, tell
from actors.logger import Log
from actors.supervisor import STOP_TIMEOUT_SECONDS, ChildSpec, Strategy, Supervisor, stop_actors
from actors.vault_monitor import Retirement, VaultMonitor
from gateways.consul import ConsulGateway
from messages.lifecycle import StopChild, SuperviseChild, TellChildren
from messages.routes import monitor_key, monitor_name
from messages.vault import VaultsToMonitor
from neon_cm.environment import TlsSettings
from neon_cm.fleet import Fleet, ReadStoredManagers, StartMonitor, StopMonitor, TellMonitors


class VaultFleet(DecidingActor):
    """Follows NodesObserved (managers), SettingsChanged (poll interval, URL template) and the instance's role;
    what to monitor is neon_cm/fleet.py's decision. The monitors are dynamic children of a one-for-one
    supervisor linked to the fleet: a monitor that crashes is restarted alone; one past its restart intensity
    takes that supervisor and the fleet down, so the Vault supervisor decides.

    Monitoring needs neither the lock nor Consul: on defaults until settings are read, with the
    managers of the last listing. While no listing has succeeded since start, the fleet reads the stored cluster
    definition (its own Consul client) for the managers it names. Tells its subscribers VaultsToMonitor and
    MonitoringStopped.
    """

    component = "vault-fleet"

    def __init__(self, tls: TlsSettings, log: Log, consul_client: consul.Consul) -> None:
        super().__init__(log)
        self.component_log = log
        self.tls = tls
        self.consul = ConsulGateway(consul_client)
        self.state: Fleet = Fleet()
        self.monitors: pykka.ActorRef[Any] | None = None
        self.retirements: dict[str, Retirement] = {}
        """Per monitored node ID: its monitor's retirement, set before the monitor is stopped."""

    def setup(self) -> None:
        self.monitors = self.spawn(Supervisor, "vault-monitors", Strategy.ONE_FOR_ONE, [], self.component_log)

    def cleanup(self) -> None:
        super().cleanup()
        if self.monitors is not None:
            # Waits for the monitors to stop (within the supervisor's budget), as a stop of the service expects.
            stop_actors([self.monitors], self.log)

    def send_current_view(self, to: pykka.ActorRef[Any]) -> None:
        tell(to, VaultsToMonitor(self.state.hostnames()))

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, ReadStoredManagers):
            return self.consul.read_definition(effect.prefix)
        if isinstance(effect, StartMonitor):
            tell(self.monitors, SuperviseChild(self.monitor_spec(effect)))
        elif isinstance(effect, StopMonitor):
            # Retired first: a probe still under way (slower than the stop budget) tells nothing when it ends. Then
            # waits for the stop, so no reading of the old monitor comes after MonitoringStopped.
            retirement = self.retirements.pop(effect.node_id, None)
            if retirement is not None:
                retirement.retire()
            if self.monitors is not None:
                try:
                    self.monitors.ask(StopChild(monitor_key(effect.node_id)), timeout=STOP_TIMEOUT_SECONDS + 1)
                except (pykka.ActorDeadError, pykka.Timeout):
                    pass  # the supervisor is going down (the fleet goes with it) or the monitor was left behind
        elif isinstance(effect, TellMonitors):
            tell(self.monitors, TellChildren(effect.message))
        else:
            return super().perform(effect)
        return None

    def monitor_spec(self, start: StartMonitor) -> ChildSpec:
        retirement = self.retirements[start.node_id] = Retirement()

        def start_monitor() -> pykka.ActorRef[Any]:
            # Interval and role as they are when (re)started, not as they were when first started; a restart keeps
            # the retirement of the monitor it replaces.
            state = self.state
            return VaultMonitor.start(
                start.hostname, start.url, state.interval, self.tls, state.role, self.component_log, retirement
            )

        return ChildSpec(monitor_name(start.hostname), start_monitor, key=monitor_key(start.node_id))
