"""Whether this instance can do its part (list the Swarm's nodes through Docker): the rule the lease uses to hand
the lock over (a decider's state, no I/O).

An active instance that cannot list the Swarm keeps nobody else from doing it but writes nothing itself: the
definition in Consul goes stale. So the lock is handed over, but only to an instance that can list:

- every instance counts its own listings (the SwarmWatcher's NodesObserved and NodeListFailed); a death of the
  SwarmWatcher or of the definition side around it (ActorRestarted) ends its listing without a result and counts as
  a failed one, and that side given up on (SupervisionGaveUp) lists no more: a crash loop is no fitter than a hung
  daemon;
- a standby whose last listing succeeded *offers* to take over: its session holds STANDBY_KEY (one standby at a
  time; its value names the instance), acquired again every OFFER_RETRY_SECONDS. Consul releases the key with the
  session, so a dead standby's offer goes with it;
- an active instance whose last UNFIT_FAILURES listings failed (the bound), or whose listing side died
  DEAD_UNFIT_SECONDS ago with no listing since, reads STANDBY_KEY at every step:
  held by another session, it releases the lock and does not compete for YIELD_BACKOFF_SECONDS; held by nobody
  (no standby can list either, or none runs), it keeps the lock and says so once.
"""

from __future__ import annotations

import math

import attrs

from messages.routes import DEFINITION_SIDE, SWARM_WATCHER

#: The actors whose death ends the instance's listing: the SwarmWatcher and the supervisor of the definition side
#: it leads (neon_cm_main.service_tree).
LISTING_ACTORS = frozenset({SWARM_WATCHER, DEFINITION_SIDE})
#: A standby that can list the Swarm holds this key with its session (its value: the instance's name).
STANDBY_KEY = "neon/services/neon-cluster-manager.standby"
#: An active instance yields after this many listings in a row failed (a hung daemon: 10 s each; a failed
#: listing is tried again RETRY_SECONDS later, neon_cm/listing.py).
UNFIT_FAILURES = 2
#: An instance that yielded does not try the lock for this long (it stands by and watches who holds it): the fit
#: standby takes it within a standby step (0.5 s), and a flapping Docker does not bounce the lock back and forth.
YIELD_BACKOFF_SECONDS = 10.0
#: An active instance is also unfit once its listing side died this long ago with no listing since: its supervisor
#: restarts it after 1 s the first time (then lists at once), but after earlier crashes its backoff grows to 60 s.
DEAD_UNFIT_SECONDS = 5.0
#: How often a fit standby tries STANDBY_KEY again: while another standby holds it, and while it holds it itself (a
#: no-op then, but a snapshot restore or a lost write can free the key under its live session: long-run seed 17720).
OFFER_RETRY_SECONDS = 5.0


@attrs.frozen
class Fitness:
    """This instance's listings of the Swarm, as far as the lease cares: none yet, or how many failed in a row."""

    listed: bool = False
    """Whether a listing has succeeded since the start."""
    failures: int = 0
    """Failed listings since the last one that succeeded (a listing ended by a crash counts)."""
    failed_at: float = -math.inf
    """When the last failure heard of failed (its NodeListFailed's time, when it has one; a crash's when heard)."""
    crashes: int = 0
    """Of `failures`, how many were a death of the listing side (LISTING_ACTORS)."""
    given_up: bool = False
    """The listing side is given up on (left stopped until Docker replaces the container): no listing comes."""
    dead_since: float | None = None
    """When the listing side died with no listing since (its restart may wait out a backoff of up to 60 s)."""

    def succeeded(self, at: float | None = None) -> Fitness:
        """A listing that answered at `at`: no news if it is older than the last failure (the SwarmWatcher's view,
        re-sent late to a restarted Leadership while the watcher was blocked on a hung daemon)."""
        if at is not None and at <= self.failed_at:
            return self
        return Fitness(listed=True, failures=0, failed_at=self.failed_at)

    def failed(self, at: float | None = None) -> Fitness:
        failed_at = self.failed_at if at is None else max(at, self.failed_at)
        return attrs.evolve(self, failures=self.failures + 1, failed_at=failed_at)

    def crashed(self, at: float) -> Fitness:
        """The SwarmWatcher (or the definition side) died and is restarted: its listing, if any, ended unanswered."""
        dead_since = self.dead_since if self.dead_since is not None else at
        return attrs.evolve(self.failed(at), crashes=self.crashes + 1, dead_since=dead_since)

    def gave_up(self, at: float) -> Fitness:
        """The listing side is left stopped: unfit until a listing succeeds (a new container)."""
        failed_at = max(at, self.failed_at)
        return attrs.evolve(self, failures=max(self.failures, UNFIT_FAILURES), failed_at=failed_at, given_up=True)

    @property
    def fit(self) -> bool:
        """It has shown it can list: its last listing succeeded (a standby offers to take over)."""
        return self.listed and self.failures == 0

    @property
    def unfit(self) -> bool:
        """Its last UNFIT_FAILURES listings failed (an active instance hands the lock over, if it can)."""
        return self.failures >= UNFIT_FAILURES

    def unfit_at(self, now: float) -> bool:
        """Unfit (above), or its listing side dead for DEAD_UNFIT_SECONDS with no listing since."""
        return self.unfit or (self.dead_since is not None and now - self.dead_since >= DEAD_UNFIT_SECONDS)

    def why(self, now: float) -> str:
        """Why it is unfit at `now`, for the log."""
        if self.given_up:
            return "its SwarmWatcher is given up on (a crash loop)"
        if not self.unfit and self.dead_since is not None:
            return f"its SwarmWatcher died {now - self.dead_since:.1f} s ago and has not listed since"
        if self.crashes == self.failures:
            return f"its SwarmWatcher died {self.failures} times in a row"
        if self.crashes == 0:
            return f"{self.failures} listings failed in a row"
        return f"{self.failures} listings failed or ended by a crash in a row"
