"""Bybit wire messages as msgspec Structs, in a module mypyc never compiles.

The parsing and normalising logic in ``bybit.py`` is compiled in the native build
(tools/build_native.py, group ``feeds``); msgspec Structs defined in a mypyc-compiled module
do not behave as Structs, so the venue's wire shapes live here, interpreted, and the compiled
module decodes into them.
"""

from __future__ import annotations

import msgspec

from cambist.feeds.types import NO_SEQ


class BTrade(msgspec.Struct):
    T: int
    s: str
    S: str
    v: str
    p: str
    i: str


class BBook(msgspec.Struct):
    s: str
    b: list[tuple[str, str]]
    """Levels as text: ``scaled.levels`` makes them exact integers (cached by text)."""
    a: list[tuple[str, str]]
    u: int
    seq: int = NO_SEQ


class TradeMsg(msgspec.Struct):
    topic: str
    ts: int
    data: list[BTrade]


class BookMsg(msgspec.Struct):
    topic: str
    type: str
    ts: int
    data: BBook


class Head(msgspec.Struct):
    topic: str = ""
    op: str = ""
    success: bool = True
    ret_msg: str = ""
