"""One conformance suite for the read-model stores: subclass it and provide ``open_store``.

Each test projects the same seeded workload and checks the tables against answers computed
independently from the events, or (for the ledger) against the engine's own balances.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from cambist.domain import events as ev
from cambist.readmodels import queries
from cambist.readmodels.projectors import CANDLE_INTERVALS, ProjectorConflict
from cambist.readmodels.runner import ProjectorGroup, marks
from cambist.readmodels.store import Store
from tests.readmodels.workload import (
    dump,
    engine_balances,
    expected_candles,
    expected_trades,
    final_order_states,
    workload,
)

TABLES = ("orders", "fills", "trades", "candles", "ticker", "ledger")


class ReadModelConformance(ABC):
    @abstractmethod
    def open_store(self) -> Store:
        """A new, empty database."""

    @pytest.fixture()
    def store(self) -> Iterator[Store]:
        s = self.open_store()
        yield s
        s.close()

    @pytest.fixture()
    def projected(self, store: Store) -> Store:
        applied, _ = workload()
        ProjectorGroup(store).open().run(applied, batch=700)
        return store

    def test_projection_ledger_sums_equal_engine_balances(self, projected: Store) -> None:
        _, engine = workload()
        sums = {k: v for k, v in queries.ledger_sums(projected).items() if v != (0, 0)}
        assert sums == engine_balances(engine)

    def test_projection_fee_account_equals_fill_fees(self, projected: Store) -> None:
        fee_entries = {
            asset: av
            for (acct, asset), (av, _) in queries.ledger_sums(projected).items()
            if acct == 0
        }
        assert fee_entries == {a: f for a, f in queries.fill_fee_sums(projected).items() if f}

    def test_projection_trades_equal_trade_events(self, projected: Store) -> None:
        applied, _ = workload()
        want = expected_trades(applied)
        assert len(want) > 300
        assert dump(projected, "trades") == sorted(want)

    def test_projection_candles_equal_grouped_trades(self, projected: Store) -> None:
        applied, _ = workload()
        for span in CANDLE_INTERVALS.values():
            rows = projected.query(
                "SELECT market, start_ts, open, high, low, close, volume, quote_volume, trades"
                " FROM candles WHERE interval_s = ?",
                (span,),
            )
            got = {(r[0], r[1]): list(r[2:]) for r in rows}
            assert got == expected_candles(applied, span), span

    def test_projection_fills_two_per_trade_with_fees(self, projected: Store) -> None:
        applied, _ = workload()
        trades = [e for a in applied for e in a.events if isinstance(e, ev.Trade)]
        fills = {(r[0], r[1]): r for r in dump(projected, "fills")}
        assert len(fills) == 2 * len(trades)
        for t in trades:
            assert fills[(t.trade_id, t.taker_order_id)][8] == t.taker_fee
            assert fills[(t.trade_id, t.maker_order_id)][8] == t.maker_fee
            assert fills[(t.trade_id, t.taker_order_id)][10] == "taker"

    def test_projection_order_statuses_follow_their_events(self, projected: Store) -> None:
        applied, engine = workload()
        got = {r[0]: r[13] for r in projected.query("SELECT * FROM orders")}
        assert got == final_order_states(applied)
        live = {
            r[0]: r
            for r in projected.query(
                "SELECT * FROM orders WHERE status IN ('open', 'partially_filled', 'pending_trigger')"
            )
        }
        assert set(live) == set(engine.orders)
        for oid, order in engine.orders.items():
            assert live[oid][10] == order.filled and live[oid][12] == order.remaining

    def test_projection_in_small_batches_equals_one_batch(self, store: Store) -> None:
        applied, _ = workload()
        ProjectorGroup(store).open().run(applied, batch=10**9)
        other = self.open_store()
        try:
            ProjectorGroup(other).open().run(applied, batch=37)
            for table in TABLES:
                assert dump(store, table) == dump(other, table), table
        finally:
            other.close()

    def test_projection_sealed_batches_committed_by_a_writer_thread_equal_one_batch(
        self, store: Store
    ) -> None:
        """``cambist projector run`` on PostgreSQL: batch N commits in a thread while N+1
        folds (the folding goes on mutating the live orders whose rows were sealed)."""
        applied, _ = workload()
        group = ProjectorGroup(store).open()
        in_flight: Future[None] | None = None
        with ThreadPoolExecutor(1) as pool:
            for i, a in enumerate(applied, 1):
                group.apply(a)
                if i % 113 == 0:
                    if in_flight is not None:
                        in_flight.result()
                    commit = group.seal()
                    assert commit is not None and group.pending == 0
                    in_flight = pool.submit(commit)
            if in_flight is not None:
                in_flight.result()
        final = group.seal()
        if final is not None:
            final()
        assert group.seal() is None
        clean = self.open_store()
        try:
            ProjectorGroup(clean).open().run(applied)
            for table in TABLES:
                assert dump(store, table) == dump(clean, table), table
        finally:
            clean.close()

    def test_projector_sealed_commit_conflict_reload_resumes_from_committed_mark(
        self, store: Store
    ) -> None:
        applied, _ = workload()
        first = ProjectorGroup(store, ["orders"]).open()
        other = store.reopen()
        try:
            second = ProjectorGroup(other, ["orders"]).open()
            first.run(applied[:80])
            for a in applied[:90]:
                second.apply(a)
            commit = second.seal()
            assert commit is not None
            with pytest.raises(ProjectorConflict):
                commit()
            second.reload()
            assert second.low_mark == applied[79].seq and second.pending == 0
            second.run(applied)  # resumes after the other runner's batch: no duplicate rows
            fresh = self.open_store()
            try:
                ProjectorGroup(fresh, ["orders"]).open().run(applied)
                for table in ("orders", "fills"):
                    assert dump(other, table) == dump(fresh, table), table
            finally:
                fresh.close()
        finally:
            other.close()

    def test_projection_resumed_after_reopen_skips_nothing_and_repeats_nothing(
        self, store: Store
    ) -> None:
        applied, _ = workload()
        cut = len(applied) // 3
        ProjectorGroup(store).open().run(applied[:cut], batch=100)
        again = store.reopen()
        try:
            resumed = ProjectorGroup(again).open()
            assert resumed.low_mark == applied[cut - 1].seq
            resumed.run(applied, batch=250)  # replays from the start: the marks skip the done part
        finally:
            again.close()
        assert {n: s for n, (s, _) in marks(store).items()} == {
            "orders": applied[-1].seq,
            "market": applied[-1].seq,
            "ledger": applied[-1].seq,
        }
        fresh = self.open_store()
        try:
            ProjectorGroup(fresh).open().run(applied)
            for table in TABLES:
                assert dump(store, table) == dump(fresh, table), table
        finally:
            fresh.close()

    def test_ledger_resumed_finds_older_orders_assets_in_its_own_entries(
        self, store: Store
    ) -> None:
        """After a restart the ledger fold knows only the orders it saw placed; a release of an
        older one gets its asset from the order's reserve entry (no table of live orders is
        kept), and the ledger equals one projected without a restart."""
        applied, _ = workload()
        cut = applied[len(applied) // 2 - 1].seq
        ProjectorGroup(store, ["ledger"]).open().run([a for a in applied if a.seq <= cut])
        again = store.reopen()
        try:
            ProjectorGroup(again, ["ledger"]).open().run(applied, batch=400)
        finally:
            again.close()
        fresh = self.open_store()
        try:
            ProjectorGroup(fresh, ["ledger"]).open().run(applied)
            assert dump(store, "ledger") == dump(fresh, "ledger")
        finally:
            fresh.close()
        looked_up = [
            r for r in dump(store, "ledger")
            if r[4] == "release" and r[0] > cut and 0 < r[7] <= cut and r[8] == 0
        ]  # fmt: skip
        assert looked_up  # releases after the restart of orders placed before it
        assert all(r[3] for r in looked_up)

    def test_projector_two_runners_second_commit_conflicts(self, store: Store) -> None:
        applied, _ = workload()
        first = ProjectorGroup(store, ["market"]).open()
        other = store.reopen()
        try:
            second = ProjectorGroup(other, ["market"]).open()
            first.run(applied[:50])
            for a in applied[:60]:
                second.apply(a)
            with pytest.raises(ProjectorConflict):
                second.flush()
            assert second.low_mark == applied[49].seq  # reloaded from the committed mark
        finally:
            other.close()

    def test_search_orders_pages_cover_everything_once_newest_first(self, projected: Store) -> None:
        account = 3
        want = [
            r[0]
            for r in projected.query(
                "SELECT order_id FROM orders WHERE account = ? ORDER BY order_id DESC", (account,)
            )
        ]
        got: list[int] = []
        cursor = None
        while True:
            rows, nxt = queries.search_orders(projected, account, cursor=cursor, limit=17)
            got.extend(o.order_id for o in rows)
            if nxt is None:
                break
            cursor = int(nxt)
        assert got == want and len(got) > 17

    @pytest.mark.parametrize("asset", [None, "USD"])
    def test_search_ledger_pages_cover_everything_once_newest_first(
        self, projected: Store, asset: str | None
    ) -> None:
        """The ledger is keyed by asset first: a page over every asset merges one key range
        per asset, and must still be every entry once, in ``(seq, n)`` order, newest first."""
        account = 3
        want = sorted(
            (r for r in dump(projected, "ledger") if r[2] == account and asset in (None, r[3])),
            key=lambda r: (r[0], r[1]),
            reverse=True,
        )
        assets = {r[3] for r in want}
        assert len(assets) == 1 if asset else len(assets) > 1  # the merge is exercised
        got: list[tuple[object, ...]] = []
        cursor = None
        while True:
            page = queries.search_ledger(projected, account, asset=asset, cursor=cursor, limit=13)
            got.extend(tuple(r) for r in page.rows)
            if page.next_cursor is None:
                break
            cursor = queries.parse_pair_cursor(page.next_cursor)
        assert got == [tuple(r) for r in want] and len(got) > 13

    def test_search_fills_pages_stable_while_rows_arrive(self, store: Store) -> None:
        applied, _ = workload()
        half = len(applied) // 2
        group = ProjectorGroup(store).open()
        group.run(applied[:half])
        first = queries.search_fills(store, 2, limit=5)
        group.run(applied)  # newer fills arrive between the pages
        assert first.next_cursor is not None
        second = queries.search_fills(
            store, 2, cursor=queries.parse_pair_cursor(first.next_cursor), limit=5
        )
        everything = queries.search_fills(store, 2, limit=10_000).rows
        start = everything.index(first.rows[0])
        assert everything[start : start + 10] == first.rows + second.rows

    def test_top_trades_query_uses_the_price_index(self, projected: Store) -> None:
        applied, _ = workload()
        since = applied[-1].ts - 48 * 3600 * 10**9
        got = queries.top_trades(projected, "BTC-USD", since, 10)
        want = sorted(
            ((t[2], t[6]) for t in expected_trades(applied) if t[1] == "BTC-USD" and t[6] >= since),
            reverse=True,
        )[:10]
        assert [(r[1], r[3]) for r in got] == want
        plan = " ".join(projected.explain(queries.TOP_TRADES_SQL, ("BTC-USD", since, 10)))
        assert "trades_market_price" in plan
