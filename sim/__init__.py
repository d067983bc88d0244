"""A deterministic simulator: instances' deciders against simulated Consul, Docker and Vaults, faults by seed."""
