"""The Consul keys other programs read (spec: "Consul keys")."""

DEFINITION_KEY = "neon/cluster/definition.deflate"
HASH_KEY = "neon/cluster/definition.hash"
#: Both definition keys share this prefix, so one recursive GET reads them together.
DEFINITION_PREFIX = "neon/cluster/definition."
DISABLE_AUTO_UNSEAL_KEY = "neon/cluster/disable-auto-unseal"
SETTINGS_PREFIX = "neon/services/neon-cluster-manager/"
#: Consul refuses larger values.
MAX_VALUE_BYTES = 512 * 1024
#: Consul also refuses a /v1/txn body over 512 KiB (txn_max_req_len), and a value travels in it as base64
#: (4 bytes per 3): the largest compressed definition that can be written with its hash, keeping 4 KiB for
#: the rest of the transaction.
MAX_DEFINITION_BYTES = (MAX_VALUE_BYTES - 4096) * 3 // 4
#: The lock that makes one instance of the service active (a Consul session holds it).
LEADER_KEY = "neon/services/neon-cluster-manager.leader"
