"""What every venue's fast-path test (tests/feeds/test_<venue>_fast.py) shares: the byte
mutator for broken messages, the agreement check between a fast path and its checked path,
and the check that malformed input is still counted with the fast path forced on."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import strategies as st

from cambist.feeds.core import Core, Counters
from cambist.feeds.merge import Merger
from cambist.feeds.types import FeedError, Record


def mutated(good: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """A well-formed message of ``good`` with a few bytes deleted, replaced or inserted, or
    cut short."""

    @st.composite
    def broken(draw: st.DrawFn) -> bytes:
        raw = bytearray(draw(good))
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(raw)))
            op = draw(st.sampled_from(["del", "set", "ins", "cut"]))
            byte = draw(st.sampled_from(b' ,:[]{}"\\.0123456789aeE-\x00\xff'))
            if op == "del" and at < len(raw):
                del raw[at]
            elif op == "set" and at < len(raw):
                raw[at] = byte
            elif op == "ins":
                raw.insert(at, byte)
            elif op == "cut":
                del raw[at:]
        return bytes(raw)

    return broken()


def outcome(checked: Callable[[bytes], object], raw: bytes) -> object:
    """The checked path's result, or its refusal as text."""
    try:
        return checked(raw)
    except FeedError as e:
        return f"FeedError: {e}"


def agrees(
    fast: Callable[[bytes], object | None], checked: Callable[[bytes], object], raw: bytes
) -> bool:
    """The fast path's result equals the checked path's; True when it took the message
    (None: it declined). Both see the same fresh state (the callers build a new session)."""
    got = fast(raw)
    if got is None:
        return False
    assert got == outcome(checked, raw)
    return True


def assert_counted_as_malformed(
    venue: ModuleType, symbol: str, raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interpreted runs take the fast path too when told to (compiled, it is always on): a
    malformed message is counted and yields nothing, as without it."""
    monkeypatch.setattr(venue, "_NATIVE", True)
    out: list[Record] = []
    core = Core(venue, [symbol], 0, Merger(out.append), Counters())
    assert core.handle(raw, 1) == []
    assert core.stats.malformed == 1 and out == []
