"""Binance wire messages as msgspec Structs, in a module mypyc never compiles.

The parsing and normalising logic in ``binance.py`` is compiled in the native build
(tools/build_native.py, group ``feeds``); msgspec Structs defined in a mypyc-compiled module
do not behave as Structs, so the venue's wire shapes live here, interpreted, and the compiled
module decodes into them.
"""

from __future__ import annotations

import msgspec


class AggTrade(msgspec.Struct):
    E: int
    s: str
    a: int
    p: str
    q: str
    T: int
    m: bool


class RawTrade(msgspec.Struct):
    E: int
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool


class Depth(msgspec.Struct):
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    """Levels as text: ``scaled.levels`` makes them exact integers (cached by text)."""
    a: list[tuple[str, str]]


class BookTicker(msgspec.Struct):
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str


class AggTradeMsg(msgspec.Struct):
    stream: str
    data: AggTrade


class TradeMsg(msgspec.Struct):
    stream: str
    data: RawTrade


class DepthMsg(msgspec.Struct):
    stream: str
    data: Depth


class TickerMsg(msgspec.Struct):
    stream: str
    data: BookTicker


class Control(msgspec.Struct):
    id: int | str | None = None
    result: object = None
    e: str = ""


class RestDepth(msgspec.Struct, rename="camel"):
    last_update_id: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
