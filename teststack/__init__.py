"""The real test stack on loopback: a Consul dev agent, a 5-node Docker Swarm, a 3-node OpenBao raft cluster,
and the service's image on the Swarm's managers. One module per part; scripts/stack.py is the command line."""

from .common import (
    DEFAULT_CACHE_DIR,
    DEFAULT_STATE_DIR,
    NODES,
    SWARM_PORT,
    VAULT_CLUSTER_PORT,
    VAULT_PORT,
    VAULT_SHARES,
    VAULT_THRESHOLD,
    StackError,
    exclusive,
    load,
    state_dir,
)
from .consul import consul_restart, consul_start, consul_stop
from .image import image_build, image_remove, image_tag
from .lifecycle import down, env_lines, status, up
from .openbao import vault_restart, vault_seal_status, vault_start, vault_stop, vault_unseal
from .swarm import (
    docker,
    docker_restart,
    docker_start,
    docker_stop,
    extra_node_join,
    extra_node_remove,
    extra_node_start,
)

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_STATE_DIR",
    "NODES",
    "SWARM_PORT",
    "VAULT_CLUSTER_PORT",
    "VAULT_PORT",
    "VAULT_SHARES",
    "VAULT_THRESHOLD",
    "StackError",
    "consul_restart",
    "consul_start",
    "consul_stop",
    "docker",
    "docker_restart",
    "docker_start",
    "docker_stop",
    "down",
    "env_lines",
    "exclusive",
    "extra_node_join",
    "extra_node_remove",
    "extra_node_start",
    "image_build",
    "image_remove",
    "image_tag",
    "load",
    "state_dir",
    "status",
    "up",
    "vault_restart",
    "vault_seal_status",
    "vault_start",
    "vault_stop",
    "vault_unseal",
]
