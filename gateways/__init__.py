"""Every call to a server (Consul, Docker, Vault) is made here, one module per server; answers become typed outcomes."""

#: Seconds before a Consul or Docker request is given up (a hung peer must not hang an actor).
REQUEST_TIMEOUT = 10.0
