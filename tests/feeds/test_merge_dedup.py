"""``Merger``'s dedup judges a copy by its fields, never by its identity: a stream fed the
same objects again (the other connection's copy of one parse, from ``ParseMemo``) and one fed
equal copies emit the same and count the same; and a book's update finds its own stream."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cambist.feeds.book import SyncedBook, Verdict
from cambist.feeds.merge import Merger, ParseMemo, fingerprint
from cambist.feeds.types import NO_SEQ, BookUpdate, Quote, Record, Trade

_trade = st.builds(
    lambda sym, tid: Trade("v", sym, "buy", 1, 2, str(tid), 0, 0),
    st.sampled_from(["A", "B"]),
    st.integers(0, 5),
)
_quote = st.builds(
    lambda sym, bp, ap, seq: Quote("v", sym, bp, 1, ap, 1, seq, 0, 0),
    st.sampled_from(["A", "B"]),
    st.integers(1, 3),
    st.integers(4, 6),
    st.sampled_from([NO_SEQ, 1, 2, 3]),
)


def _copy(e: Trade | Quote) -> Trade | Quote:
    if type(e) is Trade:
        return Trade(*(getattr(e, k) for k in Trade.__struct_fields__))
    return Quote(*(getattr(e, k) for k in Quote.__struct_fields__))


@given(
    st.lists(st.tuples(st.one_of(_trade, _quote), st.integers(1, 3)), max_size=40),
    st.booleans(),
    st.sampled_from([0, 1, 2, 200_000]),
)
def test_same_object_again_decides_as_an_equal_copy(
    events: list[tuple[Trade | Quote, int]], shared: bool, window: int
) -> None:
    runs: list[tuple[list[Record], int]] = []
    for same in (True, False):
        out: list[Record] = []
        m = Merger(out.append, window=window)
        for e, times in events:
            for k in range(times):
                ev = e if same or k == 0 else _copy(e)
                if type(ev) is Trade:
                    m.trade(ev)
                else:
                    assert type(ev) is Quote
                    m.quote(ev, shared)
        runs.append((out, m.duplicates))
    assert runs[0] == runs[1]


def test_book_finds_its_stream_by_the_update_whatever_book_is_passed() -> None:
    """``Merger.book`` takes the stream from the book's ``merged`` only when it is the
    update's (venue, symbol); otherwise (a book of another stream, or one never
    registered) it looks the stream up by the update, as before."""
    out: list[Record] = []
    m = Merger(out.append)
    a, b, loose = SyncedBook("A"), SyncedBook("B"), SyncedBook("A")
    m.register(0, "v", "A", a, True)
    m.register(0, "v", "B", b, True)
    for seq, synced in enumerate((b, loose, a), 5):
        u = BookUpdate("v", "A", True, [(1, 1)], [(2, 1)], seq, NO_SEQ, 0, 0)
        synced.on_update(u)
        m.book(0, u, synced, Verdict.SNAPSHOT)
    assert m.books[("v", "A")].live and not m.books[("v", "B")].live
    assert [(r.symbol, r.seq) for r in out if type(r) is BookUpdate] == [
        ("A", 5),
        ("A", 6),
        ("A", 7),
    ]


def test_parse_memo_same_slot_different_bytes_is_a_miss() -> None:
    """Messages that share a fingerprint (same length, same first and last 64 bytes, a
    difference in the middle) never get each other's events: the memo compares the whole
    message, and the later one takes the slot."""
    first = b"{" + b"a" * 70 + b"1" + b"b" * 70 + b"}"
    second = b"{" + b"a" * 70 + b"2" + b"b" * 70 + b"}"
    assert fingerprint(first) == fingerprint(second)
    memo: ParseMemo[str] = ParseMemo()
    assert memo.get(first) is None
    memo.put(first, "first's events")
    assert memo.get(bytes(bytearray(first))) == "first's events"  # an equal copy: a hit
    assert memo.get(second) is None
    memo.put(second, "second's events")
    assert memo.get(second) == "second's events"
    assert memo.get(first) is None
    assert memo.held() == [second]


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=20), st.integers(1, 64))
def test_parse_memo_reuses_only_equal_bytes(msgs: list[bytes], size: int) -> None:
    """Whatever the messages and the table's size, a lookup returns the events put for
    equal bytes or nothing, and the message put last is always found."""
    memo: ParseMemo[bytes] = ParseMemo(size)
    for m in msgs:
        if memo.get(m) is None:
            memo.put(m, m)
        assert memo.get(bytes(bytearray(m))) == m
    for m in msgs:
        got = memo.get(bytes(bytearray(m)))
        assert got is None or got == m
    assert len(memo.held()) <= max(size, 1) * 2
