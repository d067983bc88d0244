"""The real test stack on loopback that tests, bench and demo use: Consul, a 5-node Docker Swarm, 3 OpenBao nodes.

Its parts, one module each: consul, swarm (dockerd per node, extra nodes for tests), openbao, image (the service's
image on every manager), lifecycle (up, down, status); under them state (stack.json, locks), processes, binaries
and http. This module is its public face: `import teststack` (tests, `python -m bench`, scripts/demo_setup.py run
from the repository's root, which puts the package on sys.path). `python -m teststack` is its command line.

$NEON_CM_STACK_SLOT (default 0) picks one of several independent stacks (state.slot): parallel test workers each
use their own.
"""

from .consul import consul_port, consul_ports, consul_restart, consul_start, consul_stop
from .engine29 import engine29_socket, engine29_start, engine29_stop
from .http import json_request
from .image import image_build, image_remove, image_tag, images_build, images_cached, images_digest, images_in_cache
from .lifecycle import down, env_lines, status, up
from .openbao import vault_restart, vault_seal_status, vault_start, vault_stop, vault_unseal
from .state import (
    DEFAULT_CACHE_DIR,
    DEFAULT_STATE_DIR,
    SWARM_PORT,
    VAULT_CLUSTER_PORT,
    VAULT_PORT,
    VAULT_SHARES,
    VAULT_THRESHOLD,
    StackError,
    exclusive,
    load,
    node_address,
    nodes,
    slot,
    state_dir,
)
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
    "SWARM_PORT",
    "VAULT_CLUSTER_PORT",
    "VAULT_PORT",
    "VAULT_SHARES",
    "VAULT_THRESHOLD",
    "StackError",
    "consul_port",
    "consul_ports",
    "consul_restart",
    "consul_start",
    "consul_stop",
    "docker",
    "docker_restart",
    "docker_start",
    "docker_stop",
    "down",
    "engine29_socket",
    "engine29_start",
    "engine29_stop",
    "env_lines",
    "exclusive",
    "extra_node_join",
    "extra_node_remove",
    "extra_node_start",
    "image_build",
    "image_remove",
    "image_tag",
    "images_build",
    "images_cached",
    "images_digest",
    "images_in_cache",
    "json_request",
    "load",
    "node_address",
    "nodes",
    "slot",
    "state_dir",
    "status",
    "up",
    "vault_restart",
    "vault_seal_status",
    "vault_start",
    "vault_stop",
    "vault_unseal",
]
