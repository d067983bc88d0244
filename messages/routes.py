"""Who tells whom, by name: every publication (WIRING) and every directed message (ROUTES), and the names actors
go by in the directory, so a sender and its receiver agree on the spelling. The actors use them through their
Directory (actors/base.py); a restarted actor is found again under its name."""

from __future__ import annotations

#: Who hears whose publications (ServiceActor.publish), by name.
WIRING: dict[str, tuple[str, ...]] = {
    "leadership": ("metrics", "vault-fleet", "unsealer", "definition-publisher"),
    "settings": ("metrics", "vault-fleet", "swarm-watcher"),
    "swarm-watcher": ("metrics", "vault-fleet", "definition-publisher", "leadership"),
    "definition-publisher": ("metrics",),
    "vault-fleet": ("metrics", "unsealer"),
    "vault-monitor": ("metrics", "unsealer"),
    "unsealer": ("metrics",),
    "supervisor": ("metrics", "leadership"),
}

#: The node events NodeEvents follows (NodeChanged, NodeEventsConnected), for the SwarmWatcher to list again.
NODE_CHANGES = "node-changes"
#: A sealed Vault's monitor asking for an unseal (UnsealRequested).
UNSEAL_REQUESTS = "unseal-requests"
#: The Unsealer's answer (UnsealFinished), to the monitor of the node it unsealed (`vault-monitor:<hostname>`).
UNSEAL_ANSWERS = "unseal-answers"
#: Metrics asking whether the monitor of each manager it expects one for is alive (the health verdict).
MONITOR_LIVENESS = "monitor-liveness"

#: Who is told what besides publications, by route: the receiving actor's name, or the kind of actor (one per
#: key) a keyed route reaches as `<kind>:<key>`.
ROUTES: dict[str, str] = {
    NODE_CHANGES: "swarm-watcher",
    UNSEAL_REQUESTS: "unsealer",
    UNSEAL_ANSWERS: "vault-monitor",
    MONITOR_LIVENESS: "vault-monitor",
}

VAULT_MONITOR = "vault-monitor"
#: The actor that lists the Swarm's nodes, and the supervisor of the definition side it leads.
SWARM_WATCHER = "swarm-watcher"
DEFINITION_SIDE = "definition"
SUPERVISOR = "supervisor"


def member_name(kind: str, key: str) -> str:
    """The name of one of several actors of a kind: `vault-monitor:<hostname>`, `supervisor:<name>`."""
    return f"{kind}:{key}"


def monitor_name(hostname: str) -> str:
    """A Vault monitor's name in the fleet, the directory and the log: where the Unsealer's answers for it go."""
    return member_name(VAULT_MONITOR, hostname)


def monitor_key(node_id: str) -> str:
    """A monitor's key in the fleet's supervisor: managers may share a hostname, never a node ID."""
    return f"{VAULT_MONITOR}@{node_id}"


def supervisor_name(name: str) -> str:
    """A supervisor's name in the directory and the log."""
    return member_name(SUPERVISOR, name)
