"""What the emulator understands a client to ask for, in a module mypyc never compiles.

``venue.py`` (compiled in the native build) re-exports it: msgspec Structs defined in a
mypyc-compiled module do not behave as Structs.
"""

from __future__ import annotations

import msgspec


class Subscription(msgspec.Struct, frozen=True):
    """A client request as the emulator understands it: (un)subscribe one stream."""

    action: str
    """``subscribe`` or ``unsubscribe``."""
    channel: str
    """``trades``, ``book`` or ``quotes``."""
    symbol: str
    """Normalized BASE-QUOTE symbol."""
