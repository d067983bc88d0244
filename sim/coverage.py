"""The "sometimes" assertions: what a sweep must have reached at least once, in some seed.

An invariant says what must never happen; a sweep that never reached a state the invariants guard proves nothing
about it. So the world records, per seed, which fault kinds fired and which decider states and transitions were
reached (`Coverage.saw`, told of every decision the real actors take: sim/cluster.py's observe_decisions), and a
sweep fails unless every item of `SOMETIMES` (and every fault kind) was reached in at least one seed
(`python -m sim --seeds N` prints the table, sim/cluster.py's coverage_table).

Each item is recognised from one decision: the actor that decided, the event, the effects, and the decider's state
after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

from messages.consul_answers import (
    CheckGone,
    ConsulRefused,
    ConsulUnreachable,
    DefinitionConflict,
    DefinitionFenced,
    DefinitionWritten,
    HolderRead,
    SessionGone,
)
from messages.docker import DockerUnreachable
from messages.leadership import BecameLeader, LeaseExtended, LostLeadership, StandingBy
from messages.lifecycle import SupervisionGaveUp
from messages.log import Level
from messages.vault import UnsealFinished
from neon_cm.decider import Log, Publish, StartTimer, TimerFired
from neon_cm.fleet import StartMonitor, StopMonitor
from neon_cm.handover import STANDBY_KEY
from neon_cm.keys import LEADER_KEY
from neon_cm.lease import DEADLINE, Acquire, Release, Stop, Withdraw
from neon_cm.monitoring import AskUnsealer
from neon_cm.supervision import Escalate, StartChild, StopChildren
from neon_cm.unsealing import (
    FOLLOWER,
    CancelAttempt,
    ReadSealStatus,
    ReadSwitch,
    ResetProgress,
    SubmitShare,
    SwitchRead,
    SwitchUnreadable,
    VaultAnswered,
)
from neon_cm.vault import NotSent, Rejected

Step = tuple[str, Any, tuple[Any, ...], Any]
"""(actor, event, effects, state after)."""


def published(effects: Iterable[Any], kind: type) -> list[Any]:
    return [effect.message for effect in effects if isinstance(effect, Publish) and isinstance(effect.message, kind)]


def has(effects: Iterable[Any], kind: type, test: Callable[[Any], bool] = lambda _: True) -> bool:
    return any(isinstance(effect, kind) and test(effect) for effect in effects)


def logged(effects: Iterable[Any], level: Level, text: str = "") -> bool:
    return any(isinstance(effect, Log) and effect.level is level and text in effect.text for effect in effects)


def lost(effects: Iterable[Any]) -> bool:
    return bool(published(effects, LostLeadership))


def interfered(state: Any) -> bool:
    attempts = getattr(state, "attempts", {})
    return any(attempt.interfered > 0 for attempt in attempts.values())


@attrs.frozen
class Sometimes:
    """A state or transition some seed of a sweep must reach."""

    group: str
    name: str
    actor: str
    """The deciding actor's kind (`vault-monitor` for every monitor; `*` for the supervisors)."""
    test: Callable[[Any, tuple[Any, ...], Any], bool]
    """(event, effects, state after) -> reached."""
    required: bool = True
    """False: shown in the table, but a sweep does not fail without it (a window today's sim makes too rarely)."""


SUPERVISORS = ("service", "vault", "definition", "vault-monitors")

SOMETIMES: tuple[Sometimes, ...] = (
    # ---- the lease (neon_cm/lease.py)
    Sometimes("lease", "acquired", "leadership", lambda e, fx, s: bool(published(fx, BecameLeader))),
    Sometimes("lease", "extended", "leadership", lambda e, fx, s: bool(published(fx, LeaseExtended))),
    Sometimes("lease", "standing by", "leadership", lambda e, fx, s: bool(published(fx, StandingBy))),
    Sometimes("lease", "lost by deadline", "leadership", lambda e, fx, s: e == TimerFired(DEADLINE) and lost(fx)),
    Sometimes("lease", "lost by holder read", "leadership", lambda e, fx, s: isinstance(e, HolderRead) and lost(fx)),
    Sometimes(
        "lease",
        "lost: pass after the deadline",
        "leadership",
        lambda e, fx, s: type(e).__name__ == "CheckPassed" and lost(fx),
    ),
    Sometimes("lease", "check gone", "leadership", lambda e, fx, s: isinstance(e, CheckGone)),
    Sometimes("lease", "session gone", "leadership", lambda e, fx, s: isinstance(e, SessionGone)),
    Sometimes(
        "lease",
        "Consul unreachable (outage)",
        "leadership",
        lambda e, fx, s: isinstance(e, ConsulUnreachable) and not e.leaderless,
    ),
    Sometimes(
        "lease", "Consul election", "leadership", lambda e, fx, s: isinstance(e, ConsulUnreachable) and e.leaderless
    ),
    Sometimes("lease", "Consul refused (403)", "leadership", lambda e, fx, s: isinstance(e, ConsulRefused)),
    Sometimes(
        "lease", "standby offer", "leadership", lambda e, fx, s: has(fx, Acquire, lambda a: a.key == STANDBY_KEY)
    ),
    Sometimes("lease", "handover", "leadership", lambda e, fx, s: has(fx, Withdraw, lambda w: w.key == LEADER_KEY)),
    Sometimes("lease", "released on stop", "leadership", lambda e, fx, s: isinstance(e, Stop) and has(fx, Release)),
    # ---- unsealing (neon_cm/unsealing.py)
    Sometimes(
        "unsealing",
        "attempt started",
        "unsealer",
        lambda e, fx, s: isinstance(e, SwitchRead) and has(fx, ReadSealStatus),
    ),
    Sometimes(
        "unsealing",
        "unseal on takeover",
        "unsealer",
        lambda e, fx, s: isinstance(e, (BecameLeader, LeaseExtended)) and has(fx, ReadSwitch),
    ),
    Sometimes("unsealing", "share sent", "unsealer", lambda e, fx, s: has(fx, SubmitShare)),
    Sometimes(
        "unsealing",
        "unsealed",
        "unsealer",
        lambda e, fx, s: any(f.unsealed for f in published(fx, UnsealFinished)),
    ),
    Sometimes(
        "unsealing",
        "combination refused",
        "unsealer",
        lambda e, fx, s: isinstance(e, VaultAnswered) and isinstance(e.answer, Rejected),
    ),
    Sometimes(
        "unsealing",
        "keys refused",
        "unsealer",
        lambda e, fx, s: any(f.keys_refused for f in published(fx, UnsealFinished)),
    ),
    Sometimes("unsealing", "reset of another's progress", "unsealer", lambda e, fx, s: has(fx, ResetProgress)),
    Sometimes(
        "unsealing",
        "progress resumed after interference",
        "unsealer",
        lambda e, fx, s: has(fx, SubmitShare) and interfered(s),
    ),
    Sometimes(
        "unsealing",
        "follower wait",
        "unsealer",
        lambda e, fx, s: has(fx, StartTimer, lambda t: t.key.startswith(FOLLOWER)),
    ),
    Sometimes("unsealing", "attempt cancelled", "unsealer", lambda e, fx, s: has(fx, CancelAttempt)),
    Sometimes(
        "unsealing",
        "share not sent (deadline or cancel)",
        "unsealer",
        lambda e, fx, s: isinstance(e, VaultAnswered) and isinstance(e.answer, NotSent),
    ),
    Sometimes("unsealing", "switch unreadable", "unsealer", lambda e, fx, s: isinstance(e, SwitchUnreadable)),
    # ---- supervision (neon_cm/supervision.py)
    Sometimes(
        "supervision",
        "restart",
        "*",
        lambda e, fx, s: isinstance(e, TimerFired) and has(fx, StartChild),
    ),
    Sometimes("supervision", "group restart (rest-for-one)", "*", lambda e, fx, s: has(fx, StopChildren)),
    Sometimes("supervision", "escalate", "*", lambda e, fx, s: has(fx, Escalate)),
    Sometimes("supervision", "give up (health red)", "*", lambda e, fx, s: bool(published(fx, SupervisionGaveUp))),
    # ---- publishing (neon_cm/publishing.py)
    Sometimes("publishing", "written", "definition-publisher", lambda e, fx, s: isinstance(e, DefinitionWritten)),
    # A write Consul fences or refuses (cas), or a lease ending between the read and the write, needs a window
    # between a decision and its call that today's 1-8 ms calls almost never open (latency tails will).
    Sometimes(
        "publishing", "fenced", "definition-publisher", lambda e, fx, s: isinstance(e, DefinitionFenced), required=False
    ),
    Sometimes(
        "publishing",
        "conflict",
        "definition-publisher",
        lambda e, fx, s: isinstance(e, DefinitionConflict),
        required=False,
    ),
    Sometimes(
        "publishing",
        "lease ended before the write",
        "definition-publisher",
        lambda e, fx, s: logged(fx, Level.WARN, "ended before the write"),
        required=False,
    ),
    # ---- monitoring, the fleet, the listing
    Sometimes("monitoring", "problem reported at ERROR", "vault-monitor", lambda e, fx, s: logged(fx, Level.ERROR)),
    Sometimes(
        "monitoring",
        "told at INFO by a standby",
        "vault-monitor",
        lambda e, fx, s: logged(fx, Level.INFO, "standing by"),
    ),
    Sometimes("monitoring", "asked the Unsealer", "vault-monitor", lambda e, fx, s: has(fx, AskUnsealer)),
    Sometimes("fleet", "monitor started", "vault-fleet", lambda e, fx, s: has(fx, StartMonitor)),
    Sometimes("fleet", "monitor stopped", "vault-fleet", lambda e, fx, s: has(fx, StopMonitor)),
    Sometimes("listing", "listing failed", "swarm-watcher", lambda e, fx, s: isinstance(e, DockerUnreachable)),
)

BY_ACTOR: dict[str, list[Sometimes]] = {}
for _item in SOMETIMES:
    BY_ACTOR.setdefault(_item.actor, []).append(_item)


def label(item: Sometimes) -> str:
    return f"{item.group}: {item.name}"


class Coverage:
    """What one seed reached: `fault: <kind>` for every fault kind that fired, `<group>: <item>` for the rest."""

    def __init__(self) -> None:
        self.reached: set[str] = set()
        self.pending: dict[str, list[Sometimes]] = {kind: list(items) for kind, items in BY_ACTOR.items()}

    def saw(self, actor: str, event: Any, effects: Any, state: Any) -> None:
        kind = "*" if actor in SUPERVISORS else actor.split(":", 1)[0]
        items = self.pending.get(kind)
        if not items:
            return
        fx = tuple(effects) if isinstance(effects, (tuple, list)) else ()
        for item in list(items):
            if item.test(event, fx, state):
                self.reached.add(label(item))
                items.remove(item)


def expected(fault_kinds: Iterable[str]) -> list[str]:
    """Every item of the table: each fault kind, each decider item, the container restart."""
    return [
        *(f"fault: {kind}" for kind in fault_kinds),
        *(label(item) for item in SOMETIMES),
        "supervision: container restart",
    ]


OPTIONAL = frozenset(label(item) for item in SOMETIMES if not item.required)
