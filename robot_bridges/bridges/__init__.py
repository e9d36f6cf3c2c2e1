"""Bridge nodes, one per external service."""
