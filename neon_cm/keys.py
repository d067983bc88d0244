"""The Consul keys other programs read (spec: "Consul keys")."""

DEFINITION_KEY = "neon/cluster/definition.deflate"
HASH_KEY = "neon/cluster/definition.hash"
#: Both definition keys share this prefix, so one recursive GET reads them together.
DEFINITION_PREFIX = "neon/cluster/definition."
DISABLE_AUTO_UNSEAL_KEY = "neon/cluster/disable-auto-unseal"
SETTINGS_PREFIX = "neon/services/neon-cluster-manager/"
#: Consul refuses larger values.
MAX_VALUE_BYTES = 512 * 1024
#: The lock that makes one instance of the service active (a Consul session holds it).
LEADER_KEY = "neon/services/neon-cluster-manager.leader"
