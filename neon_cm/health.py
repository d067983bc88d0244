"""Is the service healthy? Pure judgement from what it last did; the Metrics actor feeds it."""

from __future__ import annotations

import json
import time

import attrs

from neon_cm.keys import SETTINGS_PREFIX

#: Where the service leaves its verdict for `neon-cluster-manager health` (NEON_CM_HEALTH_FILE overrides it).
DEFAULT_HEALTH_FILE = "/tmp/neon-cluster-manager.health"
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
    degraded: tuple[str, ...] = ()
    """What the service cannot do although it runs: it passes the health check (a new task would do no better)
    but is not `healthy`."""

    @property
    def state(self) -> str:
        """`healthy`, `degraded` or `unhealthy`: the first word of `health` and of /health's answer."""
        return "unhealthy" if not self.ok else "degraded" if self.degraded else "healthy"


#: The reasons the service can be degraded, as `neon_cm_degraded{reason}` names them.
DEGRADED_REASONS = ("keys_refused", "keys_unusable", "metrics_not_served", "no_base_definition", "settings_rejected")


@attrs.frozen
class Shortfalls:
    """What the service cannot do although it runs, as the Metrics actor heard it (each None or empty: fine)."""

    key_set: str | None = None
    """The fingerprint of the loaded unseal keys (None: no keys)."""
    keys_refused: tuple[str, ...] = ()
    """Managers whose Vault refused every combination of the keys (only the active instance finds out)."""
    metrics_unserved: str | None = None
    """Why the /metrics port asked for is not served."""
    missing_definition: str | None = None
    """The key where the base definition is missing (only the active instance finds out)."""
    keys_unusable: str | None = None
    """Why the unseal keys given (VAULT_CREDENTIALS or VAULT_CREDENTIALS_FILE) cannot be used: auto-unseal is off
    although the operator asked for it (None: none given, or they are usable)."""
    settings_rejected: tuple[str, ...] = ()
    """Settings whose stored value was rejected: their default applies, not what the operator wrote (a typo in
    `vault_url_template` leaves every Vault unwatched where it really is)."""

    def reasons(self) -> dict[str, str]:
        """Each degraded reason that applies (a name of DEGRADED_REASONS) and its words."""
        found: dict[str, str] = {}
        if self.keys_refused:
            found["keys_refused"] = (
                f"the unseal keys (key set {self.key_set}) were refused by the Vault on {', '.join(self.keys_refused)} "
                "(rotated, or another cluster's): put its current keys in the credentials secret"
            )
        if self.keys_unusable:
            found["keys_unusable"] = (
                f"auto-unseal is off: the unseal keys given cannot be used ({self.keys_unusable}); put usable "
                "credentials in the secret"
            )
        if self.metrics_unserved:
            found["metrics_not_served"] = self.metrics_unserved
        if self.missing_definition:
            found["no_base_definition"] = (
                f"no base definition at {self.missing_definition}, so no definition is published: publish cluster "
                "setup's with `neon-cluster-manager definition put FILE`"
            )
        if self.settings_rejected:
            names = ", ".join(f"{SETTINGS_PREFIX}{name}" for name in self.settings_rejected)
            one = len(self.settings_rejected) == 1
            found["settings_rejected"] = (
                f"the {'value' if one else 'values'} stored at {names} {'was' if one else 'were'} rejected, so the "
                f"default {'applies' if one else 'apply'}: see the WARN or `neon-cluster-manager settings get`, and "
                "mend it"
            )
        return found


def assess(
    now: float,
    started: float,
    last_listing: float | None,
    poll_seconds: float,
    dead_actors: list[str],
    unwatched: tuple[str, ...] = (),
    shortfalls: Shortfalls = Shortfalls(),
) -> Health:
    """Unhealthy when an actor stays dead (its supervisor gave up), a manager's Vault has no live monitor,
    or no listing of the Swarm succeeded for several poll intervals; degraded for each of `shortfalls`."""
    reasons = [f"actor {name} is not running" for name in dead_actors]
    reasons += [f"the Vault on {hostname} has no live monitor" for hostname in unwatched]
    causes = list(reasons)
    since = last_listing if last_listing is not None else started
    overdue = OVERDUE_INTERVALS * poll_seconds
    if now - since > overdue:
        if last_listing is not None:
            reasons.append(f"the last successful node listing was {now - since:.0f} s ago (limit {overdue:g} s)")
        else:
            reasons.append(f"no successful node listing since the start {now - since:.0f} s ago (limit {overdue:g} s)")
        causes.append("no successful node listing")
    return Health(not reasons, tuple(reasons), tuple(causes), tuple(shortfalls.reasons().values()))


#: The health file is rewritten every 5 s; older than this, the service that wrote it is hung or gone.
STALE_SECONDS = 30.0


def to_document(health: Health, at: float, shortfalls: Shortfalls = Shortfalls()) -> bytes:
    """The health file's (and /health's) JSON; with the loaded key set and the Vaults that refused it, for
    `vault status`."""
    record = {
        "ok": health.ok,
        "state": health.state,
        "reasons": list(health.reasons),
        "degraded": list(health.degraded),
        "key_set": shortfalls.key_set,
        "keys_refused": list(shortfalls.keys_refused),
        "at": at,
    }
    return json.dumps(record).encode()


def stopped_document(at: float) -> bytes:
    """The health file the service leaves when it exits: unhealthy at once, not only once the file is stale."""
    return json.dumps({"ok": False, "reasons": [], "at": at, "stopped": True}).encode()


def from_document(document: bytes, now: float, path: str = "") -> Health:
    """The verdict a health file holds, judged stale (unhealthy) when it was not refreshed lately. `path`, the file's
    name, is said where the file itself is the verdict (stopped, stale, not the service's): a file left by another run
    reads as this one's otherwise (helper wtry3: `health` run on the host read an older run's file)."""
    named = f" {path}" if path else ""
    try:
        record = json.loads(document)
        ok, reasons, at = bool(record["ok"]), tuple(map(str, record["reasons"])), float(record["at"])
    except (ValueError, KeyError, TypeError):
        return Health(False, (f"the health file{named} is not one the service wrote",))
    if record.get("stopped") is True:
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))  # formats the given time; reads no clock
        said = f" (the health file{named})" if path else ""
        return Health(False, (f"the service stopped at {when}{said}",))
    if now - at > STALE_SECONDS:
        return Health(
            False, (f"the health file{named} was last written {now - at:.0f} s ago (the service is hung or gone)",)
        )
    degraded = record.get("degraded")
    return Health(ok, reasons, degraded=tuple(map(str, degraded)) if isinstance(degraded, list) else ())


def keys_seen(document: bytes, now: float) -> tuple[str | None, tuple[str, ...]]:
    """The running service's key set and the Vaults that refused it, from its health file (None, () when the
    file does not say, or is stale or stopped: no service runs to vouch for it)."""
    try:
        record = json.loads(document)
        key_set, refused, at = record.get("key_set"), record.get("keys_refused") or [], float(record["at"])
    except (ValueError, AttributeError, KeyError, TypeError):
        return None, ()
    if not isinstance(key_set, str) or not isinstance(refused, list) or record.get("stopped") is True:
        return None, ()
    if now - at > STALE_SECONDS:
        return None, ()
    return key_set, tuple(map(str, refused))
