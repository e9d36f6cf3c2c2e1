"""Simulators of the external services, usable without hardware and as test fixtures."""
