"""neon-cluster-manager's library: pure logic (no actors, no clock, no I/O) plus client set-up."""

__version__ = "0.1.0"
