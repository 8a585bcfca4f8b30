"""Cambist gateways layer (see docs/architecture.md)."""
