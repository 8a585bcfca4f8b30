"""Cambist readmodels layer (see docs/architecture.md)."""
