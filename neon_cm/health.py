"""Is the service healthy? Pure judgement from what it last did; the Metrics actor feeds it."""

from __future__ import annotations

import json
import time

import attrs

#: A poll counts as overdue after this many node-poll intervals without a successful listing.
OVERDUE_INTERVALS = 3


@attrs.frozen
class Health:
    """The verdict served at /health and written to the health file."""

    ok: bool
    """Whether the service is doing its job."""
    reasons: tuple[str, ...] = ()
    """What is wrong, when it is not ok."""
    causes: tuple[str, ...] = ()
    """The reasons without their changing figures (how many seconds): one outage while these stay the same."""


def assess(
    now: float,
    started: float,
    last_listing: float | None,
    poll_seconds: float,
    dead_actors: list[str],
    unwatched: tuple[str, ...] = (),
) -> Health:
    """Unhealthy when an actor stays dead (its supervisor gave up), a manager's Vault has no live monitor,
    or no listing of the Swarm succeeded for several poll intervals."""
    reasons = [f"actor {name} is not running" for name in dead_actors]
    reasons += [f"the Vault on {hostname} has no live monitor" for hostname in unwatched]
    causes = list(reasons)
    since = last_listing if last_listing is not None else started
    overdue = OVERDUE_INTERVALS * poll_seconds
    if now - since > overdue:
        what = "the last successful node listing" if last_listing is not None else "start"
        reasons.append(f"no successful node listing for {now - since:.0f} s since {what} (limit {overdue:g} s)")
        causes.append("no successful node listing")
    return Health(not reasons, tuple(reasons), tuple(causes))


#: The health file is rewritten every 5 s; older than this, the service that wrote it is hung or gone.
STALE_SECONDS = 30.0


def to_document(health: Health, at: float) -> bytes:
    """The health file's (and /health's) JSON."""
    return json.dumps({"ok": health.ok, "reasons": list(health.reasons), "at": at}).encode()


def stopped_document(at: float) -> bytes:
    """The health file the service leaves when it exits: unhealthy at once, not only once the file is stale."""
    return json.dumps({"ok": False, "reasons": [], "at": at, "stopped": True}).encode()


def from_document(document: bytes, now: float) -> Health:
    """The verdict a health file holds, judged stale (unhealthy) when it was not refreshed lately."""
    try:
        record = json.loads(document)
        ok, reasons, at = bool(record["ok"]), tuple(map(str, record["reasons"])), float(record["at"])
    except (ValueError, KeyError, TypeError):
        return Health(False, ("the health file is not one the service wrote",))
    if record.get("stopped") is True:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))  # formats the given time; reads no clock
        return Health(False, (f"the service stopped at {when}",))
    if now - at > STALE_SECONDS:
        return Health(False, (f"the health file was last written {now - at:.0f} s ago (the service is hung or gone)",))
    return Health(ok, reasons)
