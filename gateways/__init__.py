"""Every call to a server (Consul, Docker, Vault) is made here, one module per server; answers become typed outcomes."""
