"""``kraken.CrcBook`` keeps level texts, a buffer and CRCs cached between updates; whatever
the sequence of loads, updates, truncations and clears, its ``checksum()`` equals the
reference ``kraken.checksum`` computed from scratch, and its levels equal a plain
``L2Book``'s. Run by the compiled build too, where the cache is native code."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cambist.feeds.book import L2Book
from cambist.feeds.types import Level
from cambist.feeds.venues import kraken

# few distinct prices, so updates hit existing levels, delete them and overflow the depth;
# sizes of very different lengths (the texts' lengths shift the buffer), one beyond 64 bits
_price = st.builds(lambda t, h: t * 100_000_000 + h, st.integers(90, 130), st.sampled_from([0, 5]))
_size = st.one_of(
    st.just(0),
    st.sampled_from([1, 12_000, 150_000_000, 1_250_000_000, 10**25]),
    st.integers(1, 10**12),
)
_levels = st.lists(st.tuples(_price, _size), max_size=6)
_step = st.one_of(
    st.tuples(st.just("apply"), _levels, _levels),
    st.tuples(st.just("load"), _levels, _levels),
    st.tuples(st.just("truncate"), st.integers(0, 12)),
    st.tuples(st.just("clear")),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([kraken.DEPTH, 0, 3]), st.lists(st.tuples(_step, st.booleans()), max_size=40)
)
def test_cached_checksum_equals_reference(
    depth: int, steps: list[tuple[tuple[object, ...], bool]]
) -> None:
    """Checked after some steps only: the cache must also follow several unchecked ones."""
    fast, plain = kraken.CrcBook(depth), L2Book(depth)
    for step, check in steps:
        op = step[0]
        if op == "apply" or op == "load":
            bids, asks = step[1], step[2]
            assert isinstance(bids, list) and isinstance(asks, list)
            b: list[Level] = bids
            a: list[Level] = asks
            getattr(fast, str(op))(b, a)
            getattr(plain, str(op))(b, a)
        elif op == "truncate":
            n = step[1]
            assert isinstance(n, int)
            fast.truncate(n)
            plain.truncate(n)
        else:
            fast.clear()
            plain.clear()
        if check:
            assert fast.checksum() == kraken.checksum(plain)
        assert fast.bids == plain.bids and fast.asks == plain.asks
    assert fast.checksum() == kraken.checksum(plain)
    assert fast.checksum() == kraken.checksum(plain)  # a second call, from the cache


def test_prices_with_more_levels_than_the_checksum_depth() -> None:
    """Unlimited depth: only the top ``DEPTH`` of each side enter the checksum."""
    fast, plain = kraken.CrcBook(0), L2Book(0)
    bids: list[Level] = [(1000 + i, 7 + i) for i in range(25)]
    asks: list[Level] = [(2000 + i, 9 + i) for i in range(25)]
    for book in (fast, plain):
        book.load(bids, asks)
    assert fast.checksum() == kraken.checksum(plain)
    for book in (fast, plain):
        book.apply([(1024, 0), (1030, 5)], [(2000, 0), (1999, 1)])
    assert fast.checksum() == kraken.checksum(plain)


def test_truncate_after_a_checksum() -> None:
    fast, plain = kraken.CrcBook(kraken.DEPTH), L2Book(kraken.DEPTH)
    for book in (fast, plain):
        book.load([(100, 1), (101, 2), (102, 3)], [(200, 1), (201, 2)])
    assert fast.checksum() == kraken.checksum(plain)
    for n in (2, 1, 0):
        for book in (fast, plain):
            book.truncate(n)
        assert fast.checksum() == kraken.checksum(plain)
