"""Cambist feeds/venues layer (see docs/architecture.md)."""
