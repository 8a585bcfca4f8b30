"""Kraken wire messages as msgspec Structs, in a module mypyc never compiles.

The parsing and normalising logic in ``kraken.py`` is compiled in the native build
(tools/build_native.py, group ``feeds``); msgspec Structs defined in a mypyc-compiled module
do not behave as Structs, so the venue's wire shapes live here, interpreted, and the compiled
module decodes into them.
"""

from __future__ import annotations

from typing import Any

import msgspec


class KTrade(msgspec.Struct):
    symbol: str
    side: str
    price: Any
    """A JSON number: its text (``float_hook=str``) or an ``int``; see ``scaled.number``."""
    qty: Any
    trade_id: int
    timestamp: str
    ord_type: str = ""


class KLevel(msgspec.Struct, array_like=False):
    price: Any
    qty: Any


class KBook(msgspec.Struct):
    symbol: str
    bids: list[KLevel]
    asks: list[KLevel]
    checksum: int
    timestamp: str = ""


class KTicker(msgspec.Struct):
    symbol: str
    bid: Any
    bid_qty: Any
    ask: Any
    ask_qty: Any
    timestamp: str = ""


class TradeMsg(msgspec.Struct):
    data: list[KTrade]
    type: str = "update"


class BookMsg(msgspec.Struct):
    type: str
    data: list[KBook]


class TickerMsg(msgspec.Struct):
    data: list[KTicker]
    type: str = "update"


class Head(msgspec.Struct):
    channel: str = ""
    method: str = ""
    success: bool = True
    error: str = ""
