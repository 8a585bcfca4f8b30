"""Venue modules, one per exchange, each with the fixed shape of ``cambist.feeds.venue``.

``VENUES`` maps a venue name to its module; adding a venue means adding its module here.
"""

from __future__ import annotations

from types import ModuleType

from cambist.feeds.venues import binance, bybit, coinbase, kraken, okx

VENUES: dict[str, ModuleType] = {m.Session.name: m for m in (binance, coinbase, kraken, okx, bybit)}
