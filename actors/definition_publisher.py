"""DefinitionPublisher: keeps neon/cluster/definition.* in Consul equal to what the Swarm shows."""

from __future__ import annotations

from typing import Any

import consul

from actors.base import DecidingActor
from actors.logger import Log
from gateways.consul import ConsulGateway, Write
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, LEADER_KEY
from neon_cm.publishing import Publishing, ReadDefinition, WriteDefinition


class DefinitionPublisher(DecidingActor):
    """The shell of the Publishing decider (neon_cm/publishing.py). On NodesObserved, while this instance holds
    the lease: GET /v1/kv/neon/cluster/definition.?recurse, rebuild `Nodes`, and PUT /v1/txn (both keys, cas,
    fenced by the lock's session) only when the hash differs and the lease still runs. Tells subscribers the
    outcome. Without the lock it writes nothing (another instance does)."""

    component = "definition-publisher"

    def __init__(self, consul_client: consul.Consul, log: Log) -> None:
        super().__init__(log)
        self.gateway = ConsulGateway(consul_client)
        self.state: Publishing = Publishing()

    def perform(self, effect: Any) -> Any:
        if isinstance(effect, ReadDefinition):
            return self.gateway.read_definition(effect.prefix)
        if isinstance(effect, WriteDefinition):
            writes = [
                Write(DEFINITION_KEY, effect.value, effect.definition_index),
                Write(HASH_KEY, effect.hash.encode("ascii"), effect.hash_index),
            ]
            return self.gateway.write_definition(writes, (LEADER_KEY, effect.session))
        return super().perform(effect)
