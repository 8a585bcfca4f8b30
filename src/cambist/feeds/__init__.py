"""Cambist feeds layer (see docs/architecture.md)."""
