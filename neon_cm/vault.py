"""Vault seal states, URLs per manager, and the typed answers a Vault gives (pure: parsing and meaning only)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import attrs

from messages.swarm import SwarmNode
from messages.vault import VaultState
from neon_cm.jsonwords import json_type

#: How long a raft follower may take to finish unsealing in the background before the Unsealer leaves it to the next
#: poll (the Vault monitor counts it in the active instance's normal unseal time too).
FOLLOWER_WAIT_SECONDS = 3.0

#: A host name a URL may carry: dot-separated labels of letters, digits, `-` (and `_`, which Docker allows), each at
#: most 63 characters, at most 253 in all. Nothing that ends the host (`@`, `/`, `:`, `?`, `#`, `%`, a space).
HOST_NAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*"
)


class UnusableNode(ValueError):
    """A manager whose hostname or address cannot be the host of a URL: filled into the template, it could steer
    the request (and the unseal shares) to another host. Its text names the field, never beyond 64 characters."""


def vault_url(template: str, node: SwarmNode) -> str | None:
    """A manager's Vault URL from the `vault_url_template` setting.

    None while the template needs `{addr}` and the node has no manager address yet (a
    promotion takes Docker a while to complete). UnusableNode when a field the template
    uses is not a host (Docker's labels and hostnames are anyone's with access to a node).
    """
    if "{addr}" in template and not node.manager_addr:
        return None
    if "{hostname}" in template and not HOST_NAME.fullmatch(node.hostname):
        raise UnusableNode(f"its hostname {shown_field(node.hostname)} is not a host name")
    if "{addr}" in template and not is_host_address(node.manager_addr):
        raise UnusableNode(f"its manager address {shown_field(node.manager_addr)} is not an IP address or host name")
    return template.format(hostname=node.hostname.lower(), addr=node.manager_addr).rstrip("/")


def is_host_address(addr: str) -> bool:
    """An IPv4 address, an IPv6 one in brackets (as Docker gives it, the port cut off), or a host name."""
    if addr.startswith("[") and addr.endswith("]"):
        text = addr[1:-1]
    elif HOST_NAME.fullmatch(addr):
        return True
    else:
        text = addr
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return (address.version == 6) == addr.startswith("[")


def shown_field(value: str) -> str:
    """A node's field as a log line may show it: quoted, escaped, cut at 64 characters."""
    return repr(value[:64] + ("..." if len(value) > 64 else ""))


@attrs.frozen
class SealStatus:
    """Answer: the fields of `GET /v1/sys/seal-status` (and of unseal responses) the service uses."""

    initialized: bool
    sealed: bool
    threshold: int
    """`t`: shares needed (0 when not initialized)."""
    progress: int
    """Shares received in the current attempt."""
    nonce: str
    """The current attempt's id; "" when there is none."""
    seal_type: str = "shamir"
    """`type`: `shamir`, or an auto seal (`static`, `transit`, `awskms`, `pkcs11`, a KMS plugin...)."""
    recovery_seal: bool = False
    """`recovery_seal`: the keys operators hold are recovery keys, which never unseal."""
    removed_from_cluster: bool = False
    """`removed_from_cluster` (Vault 1.19+): the node was removed from its raft cluster; never unseal it."""
    built: str = ""
    """`commit_date` (OpenBao 2.6+) or `build_date` (Vault, older OpenBao), "" when neither is there."""

    @classmethod
    def from_json(cls, body: Any) -> SealStatus:
        """Parse a seal-status body (unknown fields ignored); ValueError when it is not one."""
        if not isinstance(body, dict):
            raise ValueError(f"the body is JSON {json_type(body)}, not a seal-status object")
        initialized, sealed = body.get("initialized"), body.get("sealed")
        threshold, progress, nonce = body.get("t", 0), body.get("progress", 0), body.get("nonce") or ""
        if not isinstance(initialized, bool) or not isinstance(sealed, bool):
            raise ValueError("the body has no boolean `initialized` and `sealed`: not a seal-status")
        if not all(isinstance(number, int) and not isinstance(number, bool) for number in (threshold, progress)):
            raise ValueError("seal-status fields `t` and `progress` are not integers")
        if not isinstance(nonce, str):
            raise ValueError("seal-status field `nonce` is not a string")
        seal_type = body.get("type")
        dates = [body.get(field) for field in ("commit_date", "build_date")]
        return cls(
            initialized,
            sealed,
            threshold,
            progress,
            nonce,
            seal_type=seal_type if isinstance(seal_type, str) and seal_type else "shamir",
            recovery_seal=body.get("recovery_seal") is True,
            removed_from_cluster=body.get("removed_from_cluster") is True,
            built=next((date for date in dates if isinstance(date, str) and date), ""),
        )

    @property
    def auto_seal(self) -> bool:
        """Whether the Vault unseals itself (any seal but Shamir's): no share may be submitted to it."""
        return self.recovery_seal or self.seal_type != "shamir"

    @property
    def why_not_unsealable(self) -> str:
        """Why shares must not be submitted to this sealed Vault; "" when they may."""
        if self.removed_from_cluster:
            return REMOVED_WORDS
        if self.auto_seal:
            return f"auto seal {self.seal_type}: Vault unseals itself; check its seal backend"
        return ""

    @property
    def state(self) -> VaultState:
        if not self.initialized:
            return VaultState.NOT_INITIALIZED
        if self.removed_from_cluster:  # sealed or not: it is out of its cluster, and the operator's to re-join
            return VaultState.REMOVED
        return VaultState.SEALED if self.sealed else VaultState.UNSEALED


#: What a node removed from its raft cluster is, in the log and `vault status`.
REMOVED_WORDS = "removed from its raft cluster: not unsealing it; re-join or replace the node"
#: What a Vault that has no root key yet (seal-status `initialized: false`) is, and what the operator does about it: a
#: new node, or a raft follower not joined yet (after a whole-cluster restart it says so until it joins). The Unsealer
#: sends it no share (it answers every one `Vault is not initialized`).
NOT_INITIALIZED_WORDS = (
    "it has no root key yet: initialise it (`bao operator init`, `vault operator init`), or, for a raft follower, "
    "let it join its cluster; no unseal key is sent to it"
)
#: What a standby that lost the active node (health 474) is.
DISCONNECTED_WORDS = "standby cannot reach the active node (health 474)"


@attrs.frozen
class HealthRole:
    """Answer of `GET /v1/sys/health?standbyok=true` on an unsealed Vault: `active` or `standby`."""

    role: str
    reaches_active: bool = True
    """False for a standby that cannot reach the active node (Vault 1.19+ answers 474, whatever `standbyok`)."""


@attrs.frozen
class RemovedFromCluster:
    """Answer of `GET /v1/sys/health`: 530, the node was removed from its raft cluster (Vault 1.19+)."""


class UnreachableKind:
    """Why a Vault could not be asked (the `kind` of Unreachable)."""

    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"


@attrs.frozen
class Unreachable:
    """Answer: no HTTP answer at all (refused, reset, timed out, TLS failed, a CA file that cannot be read)."""

    kind: str
    """An UnreachableKind value."""
    reason: str
    """In words, e.g. `cannot connect: [Errno 111] Connection refused`."""


@attrs.frozen
class Rejected:
    """Answer: Vault refused a share or a reset (400): its own words, never the share."""

    message: str
    """Vault's `errors`, joined."""


@attrs.frozen
class Garbage:
    """Answer: an HTTP answer that is not what Vault says there (a proxy, a 404, a 500, JSON of the wrong shape)."""

    detail: str
    """What came, in words (status, content type, the JSON's kind): never the body itself."""


@attrs.frozen
class NotSent:
    """Answer: a share or reset was not sent, because its attempt was cancelled or its lease deadline had passed
    when the request was about to go out."""

    reason: str


SealAnswer = SealStatus | Unreachable | Garbage
"""What reading the seal status can come to."""
HealthAnswer = HealthRole | RemovedFromCluster | SealStatus | Unreachable | Garbage
"""What reading the health can come to (a SealStatus when health says sealed or uninitialized after all)."""
UnsealAnswer = SealStatus | Rejected | Unreachable | Garbage | NotSent
"""What a share or a reset can come to."""


@attrs.frozen
class Observation:
    """What one probe of a Vault found."""

    state: VaultState
    detail: str
    """Role when unsealed, else the reason (error, progress, seal type)."""
    unsealable: bool = True
    """False when shares must never be submitted to it (an auto seal, a node removed from its cluster)."""
    seal_type: str = ""
    """The seal's type as the Vault said it; "" when it said nothing (no answer, not a seal status)."""


def observation(seal: SealAnswer, health: HealthAnswer | None) -> Observation:
    """A Vault's state and detail from its seal-status answer and, when unsealed, its health answer."""
    seal_type = seal.seal_type if isinstance(seal, SealStatus) else ""
    if isinstance(health, RemovedFromCluster):
        return Observation(VaultState.REMOVED, REMOVED_WORDS, unsealable=False, seal_type=seal_type)
    if isinstance(health, (Unreachable, Garbage, SealStatus)):
        seal = health  # sealed again, or gone, between the two requests: the later answer counts
    if isinstance(seal, Unreachable):
        return Observation(VaultState.UNREACHABLE, seal.reason)
    if isinstance(seal, Garbage):
        return Observation(VaultState.UNEXPECTED, seal.detail)
    seal_type = seal.seal_type
    if seal.state is VaultState.REMOVED:
        return Observation(VaultState.REMOVED, REMOVED_WORDS, unsealable=False, seal_type=seal_type)
    if seal.state is VaultState.SEALED:
        if seal.why_not_unsealable:
            return Observation(VaultState.SEALED, seal.why_not_unsealable, unsealable=False, seal_type=seal_type)
        return Observation(
            VaultState.SEALED, f"{seal.progress}/{seal.threshold} unseal keys submitted", True, seal_type
        )
    if seal.state is VaultState.NOT_INITIALIZED:
        return Observation(VaultState.NOT_INITIALIZED, NOT_INITIALIZED_WORDS, seal_type=seal_type)
    if isinstance(health, HealthRole) and not health.reaches_active:
        return Observation(VaultState.DISCONNECTED, DISCONNECTED_WORDS, seal_type=seal_type)
    role = health.role if isinstance(health, HealthRole) else ""
    # An auto seal is said beside the role: the operator reading "unsealed" should know who unseals it next time.
    shown = ", ".join(part for part in (role, f"auto seal {seal_type}" if seal.auto_seal else "") if part)
    return Observation(VaultState.UNSEALED, shown, seal_type=seal_type)
