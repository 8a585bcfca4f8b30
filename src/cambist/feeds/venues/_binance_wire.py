"""Binance wire messages as msgspec Structs, in a module mypyc never compiles.

The parsing and normalising logic in ``binance.py`` is compiled in the native build
(tools/build_native.py, group ``feeds``); msgspec Structs defined in a mypyc-compiled module
do not behave as Structs, so the venue's wire shapes live here, interpreted, and the compiled
module decodes into them.

Only the fields the parser reads are declared: msgspec skips the others without building
them (the stream name is read from the bytes before decoding). No wire Struct can hold a
reference cycle, so none is tracked by the garbage collector (``gc=False``).
"""

from __future__ import annotations

import msgspec


class AggTrade(msgspec.Struct, gc=False):
    s: str
    a: int
    p: str
    q: str
    T: int
    m: bool


class RawTrade(msgspec.Struct, gc=False):
    s: str
    t: int
    p: str
    q: str
    T: int
    m: bool


class Depth(msgspec.Struct, gc=False):
    E: int
    s: str
    U: int
    u: int
    b: list[tuple[str, str]]
    """Levels as text: ``scaled.levels`` makes them exact integers (cached by text)."""
    a: list[tuple[str, str]]


class BookTicker(msgspec.Struct, gc=False):
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str


class AggTradeMsg(msgspec.Struct, gc=False):
    data: AggTrade


class TradeMsg(msgspec.Struct, gc=False):
    data: RawTrade


class DepthMsg(msgspec.Struct, gc=False):
    data: Depth


class TickerMsg(msgspec.Struct, gc=False):
    data: BookTicker


class Control(msgspec.Struct, gc=False):
    id: int | str | None = None
    result: object = None
    e: str = ""


class RestDepth(msgspec.Struct, rename="camel"):
    last_update_id: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
