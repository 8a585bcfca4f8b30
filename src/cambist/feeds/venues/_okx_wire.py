"""OKX wire messages as msgspec Structs, in a module mypyc never compiles.

The parsing and normalising logic in ``okx.py`` is compiled in the native build
(tools/build_native.py, group ``feeds``); msgspec Structs defined in a mypyc-compiled module
do not behave as Structs, so the venue's wire shapes live here, interpreted, and the compiled
module decodes into them.
"""

from __future__ import annotations

import msgspec

OkxLevel = tuple[str, str, str, str]
"""``[price, size, deprecated, order count]`` as text; see ``scaled``."""


class Arg(msgspec.Struct, rename="camel"):
    channel: str
    inst_id: str = ""


class OTrade(msgspec.Struct, rename="camel"):
    inst_id: str
    trade_id: str
    px: str
    sz: str
    side: str
    ts: str
    seq_id: int = -1


class OBook(msgspec.Struct, rename="camel"):
    asks: list[OkxLevel]
    bids: list[OkxLevel]
    ts: str
    seq_id: int
    prev_seq_id: int = -1
    checksum: int = 0


class TradeMsg(msgspec.Struct):
    arg: Arg
    data: list[OTrade]


class BookMsg(msgspec.Struct):
    arg: Arg
    data: list[OBook]
    action: str = "snapshot"


class Head(msgspec.Struct):
    arg: Arg | None = None
    event: str = ""
    msg: str = ""
