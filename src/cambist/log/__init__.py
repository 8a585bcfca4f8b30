"""Cambist log layer (see docs/architecture.md)."""
