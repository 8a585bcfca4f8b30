"""The balance ledger: every change to an account's available or reserved funds, as entries.

Derived from the events alone, following the engine's settlement rules (see
:class:`cambist.domain.events.Trade`), so that for every account and asset the sums of
``available_delta`` and ``reserved_delta`` equal the engine's balances at the same sequence
(``cambist reconcile`` checks exactly that). Account 0 is the fee account.

Entry kinds: ``deposit``, ``withdrawal`` (available), ``reserve`` (available -> reserved),
``release`` (reserved -> available), ``fill`` (a trade's settlement: the spend side leaves
reserved, the receive side arrives in available) and ``fee`` (the payer's fee leaves available
and arrives in the fee account's available).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cambist.domain import events as ev
from cambist.domain.types import Side

FEE_ACCOUNT = 0
Entry = tuple[Any, ...]
"""``(seq, n, account, asset, kind, available_delta, reserved_delta, order_id, trade_id, ts)``"""


UNKNOWN = ""
"""The asset of an entry whose order was placed before the fold started, until
:meth:`LedgerFold.resolve` fills it in."""


class LedgerFold:
    """Turns one command's events into ledger entries; remembers each live order's account and
    spend asset (a cancel names the order, not the asset it releases).

    Only orders placed since this fold started are remembered. An entry of an older one gets
    :data:`UNKNOWN` as its asset and the order is noted in ``pending``; :meth:`resolve` fills
    those in before the batch is written, from the ledger itself (the order's ``reserve``
    entry). So no table restates the live orders' assets at every batch (that was 0.7 written
    rows per command in the load-test mix), and the fold never reads the database (on
    PostgreSQL a writer thread may be using the connection while it folds)."""

    def __init__(self, markets: dict[str, tuple[str, str]]) -> None:
        self.markets = markets
        self.live: dict[int, tuple[int, str]] = {}
        self.pending: dict[int, tuple[int, str]] = {}
        """order id -> (account, market) of the orders with :data:`UNKNOWN` entries."""

    def _spend(self, account: int, market: str, order_id: int) -> tuple[int, str]:
        found = self.live.get(order_id)
        if found is not None:
            return found
        self.pending[order_id] = (account, market)
        return account, UNKNOWN

    def resolve(self, entries: list[Entry], lookup: Callable[[int, str, int], str]) -> list[Entry]:
        """``entries`` with every :data:`UNKNOWN` asset filled in by ``lookup(account, market,
        order_id)`` (once per order); ``pending`` is empty afterwards."""
        if not self.pending:
            return entries
        assets = {
            oid: lookup(account, market, oid) for oid, (account, market) in self.pending.items()
        }
        self.pending = {}
        return [r if r[3] != UNKNOWN else (r[0], r[1], r[2], assets[r[7]], *r[4:]) for r in entries]

    def entries(self, seq: int, ts: int, events: list[ev.Event]) -> list[Entry]:
        out: list[Entry] = []
        add = out.append  # rows built inline: a helper call per entry cost a third of the fold
        ending: list[int] = []
        live = self.live
        for e in events:
            t = type(e)
            if t is ev.Trade:
                assert isinstance(e, ev.Trade)
                self._trade(e, seq, ts, out)
                if e.taker_remaining == 0:
                    ending.append(e.taker_order_id)
                if e.maker_remaining == 0:
                    ending.append(e.maker_order_id)
            elif t is ev.OrderAccepted:
                assert isinstance(e, ev.OrderAccepted)
                base, quote = self.markets[e.market]
                asset = quote if e.side is Side.BUY else base
                live[e.order_id] = (e.account, asset)
                r = e.reserved
                if r:
                    add((seq, len(out), e.account, asset, "reserve", -r, r, e.order_id, 0, ts))
            elif t is ev.OrderCancelled or t is ev.OrderExpired or t is ev.ReservationReleased:
                assert isinstance(e, ev.OrderCancelled | ev.OrderExpired | ev.ReservationReleased)
                r = e.released
                if r:
                    account, asset = self._spend(e.account, e.market, e.order_id)
                    add((seq, len(out), account, asset, "release", r, -r, e.order_id, 0, ts))
                ending.append(e.order_id)
            elif t is ev.OrderAmended:
                assert isinstance(e, ev.OrderAmended)
                d = e.reserved_delta
                if d:
                    account, asset = self._spend(e.account, e.market, e.order_id)
                    kind = "reserve" if d > 0 else "release"
                    add((seq, len(out), account, asset, kind, -d, d, e.order_id, 0, ts))
            elif t is ev.Deposited:
                assert isinstance(e, ev.Deposited)
                add((seq, len(out), e.account, e.asset, "deposit", e.amount, 0, 0, 0, ts))
            elif t is ev.Withdrawn:
                assert isinstance(e, ev.Withdrawn)
                add((seq, len(out), e.account, e.asset, "withdrawal", -e.amount, 0, 0, 0, ts))
        for order_id in ending:
            live.pop(order_id, None)
        return out

    def _trade(self, e: ev.Trade, seq: int, ts: int, out: list[Entry]) -> None:
        base, quote = self.markets[e.market]
        qty, cost, tid = e.quantity, e.quote_amount, e.trade_id
        if e.taker_side is Side.BUY:
            ba, bo, sa, so = e.taker_account, e.taker_order_id, e.maker_account, e.maker_order_id
            used, buyer_fee, seller_fee = e.taker_reserve_used, e.taker_fee, e.maker_fee
        else:
            ba, bo, sa, so = e.maker_account, e.maker_order_id, e.taker_account, e.taker_order_id
            used, buyer_fee, seller_fee = cost, e.maker_fee, e.taker_fee
        # Appended one by one (no list of parts re-tupled afterwards): half the allocations.
        add, n = out.append, len(out)
        add((seq, n, ba, quote, "fill", 0, -cost, bo, tid, ts))
        if used != cost:
            n += 1
            add((seq, n, ba, quote, "release", used - cost, cost - used, bo, tid, ts))
        add((seq, n + 1, ba, base, "fill", qty, 0, bo, tid, ts))
        n += 2
        if buyer_fee:
            add((seq, n, ba, base, "fee", -buyer_fee, 0, bo, tid, ts))
            add((seq, n + 1, FEE_ACCOUNT, base, "fee", buyer_fee, 0, bo, tid, ts))
            n += 2
        add((seq, n, sa, base, "fill", 0, -qty, so, tid, ts))
        add((seq, n + 1, sa, quote, "fill", cost, 0, so, tid, ts))
        n += 2
        if seller_fee:
            add((seq, n, sa, quote, "fee", -seller_fee, 0, so, tid, ts))
            add((seq, n + 1, FEE_ACCOUNT, quote, "fee", seller_fee, 0, so, tid, ts))
