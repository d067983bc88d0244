# Consul ACL policy for neon-cluster-manager (Consul 1.8 syntax): exactly what the service reads and writes.
#   consul acl policy create -name neon-cluster-manager -rules @examples/consul-acl-policy.hcl
#   consul acl token create -description neon-cluster-manager -policy-name neon-cluster-manager

# The cluster definition and its hash: read together (one recursive GET), written together (one transaction).
key_prefix "neon/cluster/definition." {
  policy = "read"
}
key "neon/cluster/definition.deflate" {
  policy = "write"
}
key "neon/cluster/definition.hash" {
  policy = "write"
}

# The auto-unseal switch: read before every unseal decision, never written by the service.
key "neon/cluster/disable-auto-unseal" {
  policy = "read"
}

# The service's settings: followed with a blocking query; a missing one is written with its default.
key_prefix "neon/services/neon-cluster-manager/" {
  policy = "write"
}

# The instance lock: a session (created on whichever agent the service talks to, so on any node) acquires it.
key "neon/services/neon-cluster-manager.leader" {
  policy = "write"
}
# A standby that can list the Swarm offers to take over by holding this key with its session: an active instance
# that cannot list hands the lock over only to such a standby.
key "neon/services/neon-cluster-manager.standby" {
  policy = "write"
}
session_prefix "" {
  policy = "write"
}

# The lock's session is bound to a TTL check that the instance registers on the agent it talks to, passes
# every second and deregisters on stop (and removes other instances' critical ones): checks on an agent's
# node need node write, and the agent's node name is not known in advance.
node_prefix "" {
  policy = "write"
}
