"""The service's actors, one per module, each a thin shell doing I/O and telling messages."""
