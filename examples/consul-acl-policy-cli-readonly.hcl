# Consul ACL policy for the operator CLI's read-only commands (Consul 1.8 syntax):
#   definition get, vault status, vault auto-unlock (without an argument), settings get.
# definition put, vault auto-unlock on|off and settings set need write on the same keys.
key_prefix "neon/cluster/definition." {
  policy = "read"
}
key "neon/cluster/disable-auto-unseal" {
  policy = "read"
}
key_prefix "neon/services/neon-cluster-manager/" {
  policy = "read"
}
