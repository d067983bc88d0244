"""DefinitionPublisher: keeps neon/cluster/definition.* in Consul equal to what the Swarm shows."""

from __future__ import annotations

import base64
import time
from typing import Any

import consul
from consul.exceptions import ClientError

from actors.base import ServiceActor
from actors.logger import Log
from messages.definition import DefinitionNotPublished, DefinitionPublished, DefinitionUnchanged
from messages.leadership import BecameLeader, LostLeadership, StandingBy
from messages.swarm import NodesObserved
from neon_cm.changes import describe_node_changes
from neon_cm.definition import LabelProblem
from neon_cm.encoding import DefinitionFormatError, decode_definition, definition_hash
from neon_cm.errors import ACL_ADVICE, CONSUL_ERRORS, describe, txn_refusal
from neon_cm.incremental import DefinitionEncoder, NodesListing
from neon_cm.keys import DEFINITION_KEY, DEFINITION_PREFIX, HASH_KEY, LEADER_KEY, MAX_DEFINITION_BYTES
from neon_cm.outage import Outage

Outcome = DefinitionPublished | DefinitionUnchanged | DefinitionNotPublished


class DefinitionConflict(Exception):
    """Another writer changed a definition key between our read and our transaction."""


class DefinitionRefused(Exception):
    """Consul's ACLs refused reading or writing a definition key (the token's policy lacks the right)."""


class DefinitionPublisher(ServiceActor):
    """On NodesObserved, while this instance holds the lock: read the definition and hash from Consul,
    rebuild `Nodes`, and write both keys in one transaction only when the hash differs. Tells
    subscribers the outcome. Without the lock it writes nothing (another instance does)."""

    component = "definition-publisher"

    def __init__(self, consul_client: consul.Consul, log: Log) -> None:
        super().__init__(log)
        self.consul = consul_client
        self.warned_labels: set[LabelProblem] = set()
        self.outage = Outage()
        self.leading = False
        self.session = ""
        """The lock's session while this instance holds it: every write is fenced by it."""
        self.unhandled: NodesObserved | None = None
        """The last listing heard without the lock: published as soon as the lock is won."""
        self.handled: NodesObserved | None = None
        """The last listing acted on: the same listing told again (published, then replayed to a
        restarted publisher) is acted on once."""
        self.encoder = DefinitionEncoder()
        self.stored: tuple[int, dict[str, Any], bool] | None = None
        """The stored definition last decoded: its ModifyIndex, its content, and whether its embedded
        hash is its own. A poll where nobody wrote it decodes and checks nothing again."""

    def handle(self, message: Any) -> Outcome | None:
        if isinstance(message, NodesObserved):
            if message is self.handled:
                return None
            if not self.leading:
                self.unhandled = message
                return None
            return self.act_on(message)
        if isinstance(message, BecameLeader) and not self.leading:
            self.leading, self.session = True, message.session
            if self.unhandled is not None:  # what the Swarm looks like now, not at the next change or poll
                return self.act_on(self.unhandled)
        elif isinstance(message, (LostLeadership, StandingBy)):
            self.leading, self.session = False, ""
        return None

    def act_on(self, observed: NodesObserved) -> Outcome:
        self.unhandled, self.handled = None, observed
        outcome = self.reconcile(observed)
        self.publish(outcome)
        return outcome

    def reconcile(self, observed: NodesObserved) -> Outcome:
        built = self.encoder.listing(observed.nodes)
        if built.label_problems or self.warned_labels:
            for problem in sorted(set(built.label_problems) - self.warned_labels, key=LabelProblem.describe):
                self.log.warn(problem.describe())
            self.warned_labels = set(built.label_problems)
        if built.duplicates:
            return self.refuse("; ".join(duplicate.describe() for duplicate in built.duplicates))
        try:
            outcome = self.write_if_changed(built)
            if isinstance(outcome, DefinitionConflict):
                # Someone wrote in between (cluster setup, another instance): decide again on fresh data.
                outcome = self.write_if_changed(built)
        except consul.ACLPermissionDenied:
            outcome = DefinitionRefused(f"permission denied (403) reading {DEFINITION_PREFIX}*: {ACL_ADVICE}")
        except CONSUL_ERRORS as error:
            if self.outage.failed("consul", time.monotonic()):
                self.log.error("cannot reach Consul to publish the cluster definition", error)
            return DefinitionNotPublished(f"Consul: {describe(error)}")
        if isinstance(outcome, DefinitionRefused):  # not an outage of Consul: one ERROR, then every 5 minutes
            if self.outage.failed("permission", time.monotonic()):
                self.log.error(f"cannot publish the cluster definition: {outcome}")
            return DefinitionNotPublished(str(outcome))
        ended = self.outage.succeeded()
        if ended is not None:
            self.log.info("Consul allows publishing again" if ended == "permission" else "reaching Consul again")
        if isinstance(outcome, DefinitionConflict):
            return self.refuse(f"{outcome}; trying again at the next poll", warn=True)
        return outcome

    def refuse(self, reason: str, warn: bool = False) -> DefinitionNotPublished:
        (self.log.warn if warn else self.log.error)(reason)
        return DefinitionNotPublished(reason)

    def decoded(self, item: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The stored definition and whether its embedded hash is its own, worked out once per ModifyIndex.
        DefinitionFormatError when it cannot be read."""
        if self.stored is None or self.stored[0] != item.get("ModifyIndex"):
            definition = decode_definition(item["Value"])
            self.stored = None
            try:
                own = definition.get("Hash") == definition_hash(definition)
            except (ValueError, RecursionError):
                own = False  # it cannot be written back as JSON either: the encoding below says why
            self.stored = (item.get("ModifyIndex", -1), definition, own)
        return self.stored[1], self.stored[2]

    def write_if_changed(self, built: NodesListing) -> Outcome | DefinitionConflict | DefinitionRefused:
        """GET /v1/kv/neon/cluster/definition.?recurse, then PUT /v1/txn when the hash differs."""
        _, items = self.consul.kv.get(DEFINITION_PREFIX, recurse=True)
        stored = {item["Key"]: item for item in items or []}
        definition_item = stored.get(DEFINITION_KEY)
        if definition_item is None or definition_item.get("Value") is None:
            return self.refuse(
                f"no cluster definition at {DEFINITION_KEY}: cluster setup publishes the first one; nothing written"
            )
        try:
            base, hash_is_its_own = self.decoded(definition_item)
        except DefinitionFormatError as error:
            return self.refuse(f"{DEFINITION_KEY} is unreadable: {error}; left as it is, nothing written")
        hash_item = stored.get(HASH_KEY)
        stored_hash = (hash_item.get("Value") or b"").decode("ascii", errors="replace") if hash_item else None
        try:
            encoded = self.encoder.encode(base, built)
        except (ValueError, RecursionError) as error:  # e.g. a lone surrogate in a string: JSON, not UTF-8
            reason = "nested too deep" if isinstance(error, RecursionError) else str(error)[:200]
            return self.refuse(f"{DEFINITION_KEY} cannot be written back as JSON ({reason}); left as it is")
        new_hash = encoded.hash
        if new_hash == stored_hash and hash_is_its_own and base.get("Hash") == new_hash:
            self.log.debug(f"definition unchanged (hash {new_hash})")
            return DefinitionUnchanged(new_hash, len(definition_item["Value"]))
        value = encoded.deflated()  # only now: most polls find the hash unchanged
        if len(value) > MAX_DEFINITION_BYTES:
            return self.refuse(
                f"the definition is {len(value)} bytes compressed, over the {MAX_DEFINITION_BYTES} bytes a Consul "
                f"transaction can carry (512 KiB of base64); "
                "the previous one stays"
            )
        operations = [
            cas(DEFINITION_KEY, value, definition_item["ModifyIndex"]),
            cas(HASH_KEY, new_hash.encode("ascii"), hash_item["ModifyIndex"] if hash_item else 0),
        ]
        if self.session:
            # Fenced: Consul writes nothing unless our session still holds the lock when it applies the
            # transaction, so an instance that lost the lock (and does not know yet) can never write.
            operations.append({"KV": {"Verb": "check-session", "Key": LEADER_KEY, "Session": self.session}})
        try:
            self.consul.txn.put(operations)
        except ClientError as error:
            if str(error).startswith("409"):  # the transaction was rolled back: nothing was written
                # Consul answers 409 for an operation its ACLs refused, for a session that no longer holds the
                # lock (the fence), and for a stale cas index (a concurrent write): the body's Errors tell which.
                refusal = txn_refusal(str(error)[4:], [DEFINITION_KEY, HASH_KEY, LEADER_KEY])
                if refusal is not None:
                    return DefinitionRefused(refusal)
                if "session" in str(error):
                    return self.refuse(f"this instance no longer holds {LEADER_KEY}; nothing written", warn=True)
                return DefinitionConflict(f"{DEFINITION_PREFIX}* changed while publishing")
            raise
        nodes = built.nodes
        was = f"was {stored_hash[:60]}" if stored_hash else "none before"
        self.log.info(
            f"published the cluster definition: {len(nodes)} nodes, hash {new_hash} ({was}), {len(value)} bytes; "
            f"{describe_node_changes(base.get('Nodes'), nodes)}"
        )
        return DefinitionPublished(new_hash, stored_hash, len(nodes), len(value))


def cas(key: str, value: bytes, index: int) -> dict[str, Any]:
    """A transaction operation writing `key` only if its ModifyIndex is still `index` (0: still missing)."""
    return {"KV": {"Verb": "cas", "Key": key, "Value": base64.b64encode(value).decode("ascii"), "Index": index}}
