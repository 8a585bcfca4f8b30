"""The command codec: commands <-> compact msgpack, one positional array per command.

Why positional arrays and generated functions: a command encoded as a msgpack map repeats every
field name (about 200 bytes for a ``PlaceOrder`` against about 55 as an array), and the disk's
bandwidth, not the CPU, then caps group commit. ``operator.attrgetter`` and ``dataclasses.astuple``
were measured 3-5x slower than a generated ``lambda o: (TAG, o.a, o.b, ...)``, which is the same
technique :mod:`dataclasses` uses to build ``__init__``.

``seq`` and ``ts`` are not encoded: the sequencer stamps a whole batch at once, and the record
header carries the first ``seq`` and the batch's ``ts`` (see docs/journal.md). A payload is a
msgpack array of *chunks* (one per producer call), each an array of commands, so producers can
encode their own commands before the sequencer takes them and the writer only concatenates.

Field order is the dataclass's declaration order; adding a field at the end with a default is
compatible with old records (decoding pads missing trailing fields with their defaults). Anything
else needs a new :data:`CODEC_VERSION`.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import typing
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from cambist.domain import commands as _commands
from cambist.domain.commands import COMMAND_TYPES, Command
from cambist.log.errors import CodecError

CODEC_VERSION = 1

_Encoder = Callable[[Command], tuple[Any, ...]]
_Maker = Callable[[list[Any], int, int], Command]

_ENCODERS: dict[type[Command], _Encoder] = {}
_MAKERS: dict[int, _Maker] = {}
_msgpack_encoder = msgspec.msgpack.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder()


def command_tag(cls: type[Command]) -> int:
    """The stable wire tag of a command type (the domain's ``COMMAND_TAGS``; older domain
    versions carried it as a ``TAG`` class attribute)."""
    tags: dict[type[Command], int] | None = getattr(_commands, "COMMAND_TAGS", None)
    if tags is not None:
        return tags[cls]
    return int(getattr(cls, "TAG"))  # noqa: B009


def _bare_instances_work(cls: type[Command]) -> bool:
    """Whether ``object.__new__`` plus attribute stores build an instance (true for slotted
    dataclasses, 40% faster than the constructor; a compiled class may refuse, then the
    generated decoder calls the constructor)."""
    try:
        obj = object.__new__(cls)
        for f in dataclasses.fields(cls):
            setattr(obj, f.name, f.default if f.default is not dataclasses.MISSING else 0)
        return True
    except (TypeError, AttributeError):
        return False


def _generate(cls: type[Command]) -> None:
    """Build the encoder and decoder of one command class (see the module docstring: why)."""
    tag = command_tag(cls)
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.name not in ("seq", "ts")]
    namespace: dict[str, Any] = {"cls": cls, "new": object.__new__}
    getters = ", ".join(f"o.{f.name}" for f in fields)
    exec(f"def encode(o):\n return ({tag}, {getters})\n", namespace)
    required = 1
    values: list[tuple[str, str]] = []
    for i, f in enumerate(fields, start=1):
        hint = hints[f.name]
        value = f"v[{i}]"
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            namespace[f"E_{f.name}"] = {m.value: m for m in hint}
            value = f"E_{f.name}[v[{i}]]"
        if f.default is dataclasses.MISSING:
            required = i + 1
        else:
            namespace[f"D_{f.name}"] = f.default
            value = f"({value} if n > {i} else D_{f.name})"
        values.append((f.name, value))
    lines = ["def make(v, seq, ts):", " n = len(v)", f" if n < {required}: raise IndexError(n)"]
    if _bare_instances_work(cls):
        lines += [" o = new(cls)", " o.seq = seq", " o.ts = ts"]
        lines += [f" o.{name} = {value}" for name, value in values]
        lines.append(" return o")
    else:
        args = ", ".join(f"{name}={value}" for name, value in values)
        lines.append(f" return cls(seq=seq, ts=ts, {args})")
    exec("\n".join(lines) + "\n", namespace)
    _ENCODERS[cls] = namespace["encode"]
    _MAKERS[tag] = namespace["make"]


for _cls in COMMAND_TYPES:
    _generate(_cls)


def _install_hand_written() -> None:
    """The hand-written pair for the two commonest commands (see :mod:`cambist.log.hotcodec`)
    when mypyc compiled it, and only while their fields are still the ones it was written for.
    Interpreted, the generated decoder is the faster one (it fills a bare instance instead of
    calling the keyword constructor), so it stays."""
    from cambist.log import hotcodec

    if str(hotcodec.__file__).endswith(".py"):
        return
    for cls, encode, make, tag in (
        (_commands.PlaceOrder, hotcodec.encode_place, hotcodec.make_place, hotcodec.PLACE_TAG),
        (_commands.CancelOrder, hotcodec.encode_cancel, hotcodec.make_cancel, hotcodec.CANCEL_TAG),
    ):
        if tuple(f.name for f in dataclasses.fields(cls)) == hotcodec.FIELDS[cls]:
            _ENCODERS[cls] = encode  # type: ignore[assignment]
            _MAKERS[tag] = make


_install_hand_written()

_ARRAY32 = struct.Struct(">BI")


def encode_chunk(cmds: Sequence[Command]) -> bytes:
    """Encode commands (without their ``seq``/``ts``) as one msgpack array."""
    try:
        return _msgpack_encoder.encode([_ENCODERS[type(cmd)](cmd) for cmd in cmds])
    except KeyError as exc:
        raise CodecError(f"no codec for command type {exc.args[0]!r}") from None
    except OverflowError:
        raise CodecError("an integer field is outside the signed/unsigned 64-bit range") from None


def join_chunks(chunks: Sequence[bytes]) -> bytes:
    """A record payload: a msgpack array32 header, then the chunks as they were encoded."""
    return _ARRAY32.pack(0xDD, len(chunks)) + b"".join(chunks)


def decode_payload(payload: bytes | memoryview, first_seq: int, ts: int) -> list[Command]:
    """Decode a record payload back to commands, stamping ``seq`` from ``first_seq`` on."""
    try:
        chunks = _msgpack_decoder.decode(payload)
        out: list[Command] = []
        append = out.append
        makers = _MAKERS
        seq = first_seq
        for chunk in chunks:
            for v in chunk:
                append(makers[v[0]](v, seq, ts))
                seq += 1
        return out
    except (msgspec.DecodeError, KeyError, IndexError, TypeError) as exc:
        raise CodecError(f"payload does not decode to commands: {exc!r}") from exc


def encode_command(cmd: Command) -> bytes:
    """One command alone, as a payload (used by backends that store one command per message)."""
    return join_chunks([encode_chunk([cmd])])


__all__ = [
    "CODEC_VERSION",
    "command_tag",
    "decode_payload",
    "encode_chunk",
    "encode_command",
    "join_chunks",
]
