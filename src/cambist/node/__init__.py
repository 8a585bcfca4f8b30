"""Cambist node layer: one engine running on a command log (see docs/architecture.md)."""

from cambist.node.node import Applied, Node

__all__ = ["Applied", "Node"]
