"""When to list the Swarm's nodes, and what a listing's answer means: the SwarmWatcher's decisions (a decider).

A node event is listed at once when the event before it is at least QUIET_SECONDS old (the leading edge);
an event closer than that to the one before is part of a burst, and the burst is listed once more when it
has been quiet for QUIET_SECONDS (at most LONGEST_BURST_SECONDS after its first unlisted event). So a
change made alone, or one made after the previous one was seen in Consul, is listed at once or within
QUIET_SECONDS, and a burst of events each closer than QUIET_SECONDS to the last, shorter than
LONGEST_BURST_SECONDS, costs two listings however many events it holds. The node poll (node_poll_seconds)
lists the Swarm whatever the events say, the fail-safe for anything the stream missed, except in the middle
of a burst, whose own listings stand for it.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from messages.docker import DockerGarbage, DockerUnreachable, ListNodes, NodesListed, NotAManager
from messages.log import Level
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodeChanged, NodeEventsConnected, NodeListFailed, NodesObserved
from neon_cm.decider import Decision, Publish, StartTimer, TimerFired, log
from neon_cm.outage import Outage

#: An event this long after the one before is listed at once; a burst is listed again once it has been this
#: quiet. Above the spacing of an operator's loop of `docker node update` (about 0.1 s), below what a change
#: waited for may cost (its listing and write take about 0.07 s: at most about 0.25 s in all).
QUIET_SECONDS = 0.15
#: A burst that never goes quiet is still listed this long after its first unlisted event.
LONGEST_BURST_SECONDS = 2.0
#: A failed listing is tried again this soon (or at the next node poll, if sooner): an active instance whose
#: Docker fails hands the lock over after two failures in a row (neon_cm/handover.py), not two node polls.
RETRY_SECONDS = 5.0
#: Settings not told this long after the start: the node poll starts on the default interval. The settings' first
#: read gives up after the Consul client's 10 s and the SettingsWatcher applies the defaults itself, so only a
#: settings actor that does not run (dying as it starts, long-run seed 10420) leaves the listings waiting this long.
SETTINGS_WAIT_SECONDS = 10.0
POLL_TIMER = "node-poll"
BURST_TIMER = "node-events"
SETTINGS_TIMER = "settings-wait"


@attrs.frozen
class WatcherStarted:
    """The SwarmWatcher started: the settings have SETTINGS_WAIT_SECONDS to come."""


@attrs.frozen
class SwarmListing:
    """The SwarmWatcher's state: the node poll's interval, the burst not yet listed, the last listing."""

    interval: float | None = None
    """Seconds between node polls (node_poll_seconds); None until the settings are known (nothing is listed)."""
    polled: float = -math.inf
    """When the node poll last listed (an interval change counts from it)."""
    last_event: float = -math.inf
    """When the latest node event came."""
    unlisted: float | None = None
    """When the first event not yet listed came; None when every event has been listed."""
    last: NodesObserved | None = None
    """The last successful listing (a restarted subscriber is told it)."""
    outage: Outage = attrs.field(factory=Outage)
    """The listing failure going on, if any; copied, never changed in place (this state is a value)."""
    api_version: str = ""
    """The Docker API version of the last successful listing (said at INFO whenever it changes)."""

    def decide(self, event: Any, now: float) -> Decision[SwarmListing]:
        """The next state and effects for `event` at monotonic time `now`."""
        if isinstance(event, SettingsChanged):
            return self.settings(event.settings.node_poll_seconds, now)
        if isinstance(event, WatcherStarted):
            return self, (StartTimer(SETTINGS_TIMER, SETTINGS_WAIT_SECONDS),)
        if isinstance(event, TimerFired) and event.key == SETTINGS_TIMER and self.interval is None:
            # The settings actor does not run (a crash loop: its supervisor gives up only after about 31 s, and
            # Docker replaces the container later still). Without listings this instance would never see its own
            # Docker fail, so as the lock holder it would never hand the lock over, and it would publish nothing.
            default = Settings().node_poll_seconds
            state, effects = self.settings(default, now)
            said = log(
                Level.WARN,
                f"no settings {SETTINGS_WAIT_SECONDS:g} s after starting (is the settings actor running?): listing "
                f"the Swarm's nodes every {default:g} s (the default) until they come",
            )
            return state, (said, *effects)
        if isinstance(event, (NodeChanged, NodeEventsConnected)):
            return self.node_event(now)
        if isinstance(event, TimerFired) and event.key == POLL_TIMER and self.interval is not None:
            if self.unlisted is not None or now - self.last_event <= QUIET_SECONDS:
                # A burst is going on: its own listings (one just made, or one to come) are this poll's, and a
                # listing in its middle would be a third one.
                return self, (StartTimer(POLL_TIMER, self.interval),)
            return attrs.evolve(self, polled=now), (ListNodes(), StartTimer(POLL_TIMER, self.interval))
        if isinstance(event, TimerFired) and event.key == BURST_TIMER and self.unlisted is not None:
            wait = self.burst_due() - now
            if wait > 0:  # a timer that fired early (the shell's clock is not ours): wait on
                return self, (StartTimer(BURST_TIMER, wait),)
            return attrs.evolve(self, unlisted=None), (ListNodes(),)
        if isinstance(event, (NodesListed, DockerUnreachable, NotAManager, DockerGarbage)):
            return self.listed(event, now)
        return self, ()

    def settings(self, interval: float, now: float) -> Decision[SwarmListing]:
        """The first settings start the node poll with a listing; a new interval counts from the last poll."""
        if self.interval is None:
            return attrs.evolve(self, interval=interval, polled=now), (ListNodes(), StartTimer(POLL_TIMER, interval))
        if interval == self.interval:
            return self, ()
        return attrs.evolve(self, interval=interval), (StartTimer(POLL_TIMER, max(0.0, self.polled + interval - now)),)

    def node_event(self, now: float) -> Decision[SwarmListing]:
        """List now (the leading edge), or (re)arm the burst's listing."""
        if self.unlisted is None and now - self.last_event >= QUIET_SECONDS:
            return attrs.evolve(self, last_event=now), (ListNodes(),)
        state = attrs.evolve(self, last_event=now, unlisted=now if self.unlisted is None else self.unlisted)
        return state, (StartTimer(BURST_TIMER, state.burst_due() - now),)

    def burst_due(self) -> float:
        """When the unlisted burst is listed: once quiet for QUIET_SECONDS, at most LONGEST_BURST_SECONDS after
        its first unlisted event."""
        assert self.unlisted is not None  # only asked while a burst is unlisted
        return min(self.last_event + QUIET_SECONDS, self.unlisted + LONGEST_BURST_SECONDS)

    def listed(
        self, outcome: NodesListed | DockerUnreachable | NotAManager | DockerGarbage, now: float
    ) -> Decision[Any]:
        """Tell what a listing found, or that it failed (one ERROR when the failure starts, then every 5 min)."""
        if isinstance(outcome, NodesListed) and outcome.nodes:
            outage = attrs.evolve(self.outage)
            effects: tuple[Any, ...] = ()
            if outage.succeeded() is not None:
                effects = (log(Level.INFO, "listing the Swarm's nodes again"),)
            if outcome.api_version and outcome.api_version != self.api_version:
                effects = (*effects, log(Level.INFO, f"speaking Docker API {outcome.api_version} ({outcome.api_note})"))
            observed = NodesObserved(outcome.nodes, at=now)
            effects = (*effects, log(Level.DEBUG, f"listed {len(outcome.nodes)} nodes"), Publish(observed))
            api_version = outcome.api_version or self.api_version
            return attrs.evolve(self, last=observed, outage=outage, api_version=api_version), effects
        if isinstance(outcome, NodesListed):
            # A real daemon never lists no node; a listing that does is an anomaly, never a Swarm to publish.
            problem, text, reason = "empty listing", "the Swarm listed no nodes (has this manager left it?)", None
        elif isinstance(outcome, DockerGarbage):
            problem = "docker"
            text = "Docker answered the node listing with something that is not a node list"
            reason = outcome.reason
        else:  # unreachable, or not a manager (a worker, a node that left the Swarm): Docker's words say which
            problem, text, reason = "docker", "cannot list the Swarm's nodes through Docker", outcome.reason
        # A manager that listed before and now is not one was demoted (or left): a planned `docker node demote`
        # ends with Swarm stopping this task, so that is a WARN; still so 5 minutes later, the reminder is an ERROR.
        demoted = isinstance(outcome, NotAManager) and self.last is not None and self.outage.problem is None
        outage = attrs.evolve(self.outage)
        effects = ()
        if outage.failed(problem, now):
            # What it means for the Vaults: the fleet learns the managers from these listings.
            if self.last is None:
                consequence = (
                    "no manager is listed yet: until a listing succeeds, the Vaults monitored are those of the"
                    " managers the stored cluster definition names"
                )
            else:
                consequence = "the Vaults of the managers last listed are still monitored"
            if demoted:
                text = (
                    "this node is no longer a Swarm manager (demoted, or it left the Swarm): Swarm replaces this task"
                )
                effects = (log(Level.WARN, f"{text} on a manager; {consequence}", reason),)
            else:
                effects = (log(Level.ERROR, f"{text}; {consequence}", reason),)
        if self.interval is not None and self.interval > RETRY_SECONDS:
            effects = (*effects, StartTimer(POLL_TIMER, RETRY_SECONDS))
        return attrs.evolve(self, outage=outage), (*effects, Publish(NodeListFailed(reason or problem, at=now)))
