"""Coinbase wire messages as msgspec Structs, in a module mypyc never compiles.

The parsing and normalising logic in ``coinbase.py`` is compiled in the native build
(tools/build_native.py, group ``feeds``); msgspec Structs defined in a mypyc-compiled module
do not behave as Structs, so the venue's wire shapes live here, interpreted, and the compiled
module decodes into them.
"""

from __future__ import annotations

import msgspec

from cambist.feeds.types import NO_SEQ


class CTrade(msgspec.Struct):
    trade_id: str
    product_id: str
    price: str
    size: str
    side: str
    time: str


class CUpdate(msgspec.Struct):
    side: str
    price_level: str
    """Text: ``scaled.scaled`` makes exact integers of it (cached by text)."""
    new_quantity: str
    event_time: str = ""


class CTicker(msgspec.Struct):
    product_id: str
    best_bid: str
    best_bid_quantity: str
    best_ask: str
    best_ask_quantity: str


class CEvent(msgspec.Struct):
    type: str = ""
    product_id: str = ""
    trades: list[CTrade] = []
    updates: list[CUpdate] = []
    tickers: list[CTicker] = []


class Envelope(msgspec.Struct):
    channel: str
    timestamp: str
    sequence_num: int
    events: list[CEvent] = []
    client_id: str = ""


class LegacyMessage(msgspec.Struct):
    """The Coinbase Exchange feed (``match``, ``l2update``), still seen in recordings."""

    type: str
    product_id: str
    time: str
    side: str = ""
    price: str = "0"
    size: str = "0"
    trade_id: int = 0
    sequence: int = NO_SEQ
    changes: list[tuple[str, str, str]] = []
