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

from typing import Any

from cambist.domain import events as ev
from cambist.domain.types import Side

FEE_ACCOUNT = 0
Entry = tuple[Any, ...]
"""``(seq, n, account, asset, kind, available_delta, reserved_delta, order_id, trade_id, ts)``"""


class LedgerFold:
    """Turns one command's events into ledger entries; remembers each live order's account and
    spend asset (a cancel names the order, not the asset it releases)."""

    def __init__(
        self, markets: dict[str, tuple[str, str]], live: dict[int, tuple[int, str]] | None = None
    ) -> None:
        self.markets = markets
        self.live: dict[int, tuple[int, str]] = live if live is not None else {}
        self.opened: dict[int, tuple[int, str]] = {}
        self.closed: set[int] = set()

    def take_changes(self) -> tuple[dict[int, tuple[int, str]], set[int]]:
        """Live orders opened and closed since the last call (for the ``ledger_live`` table)."""
        opened, closed = self.opened, self.closed
        self.opened, self.closed = {}, set()
        return opened, closed

    def entries(self, seq: int, ts: int, events: list[ev.Event]) -> list[Entry]:
        out: list[Entry] = []
        ending: list[int] = []

        def add(account: int, asset: str, kind: str, avail: int, reserved: int,
                order_id: int = 0, trade_id: int = 0) -> None:  # fmt: skip
            out.append(
                (seq, len(out), account, asset, kind, avail, reserved, order_id, trade_id, ts)
            )

        live = self.live
        for e in events:
            t = type(e)
            if t is ev.Trade:
                assert isinstance(e, ev.Trade)
                self._trade(e, add)
                if e.taker_remaining == 0:
                    ending.append(e.taker_order_id)
                if e.maker_remaining == 0:
                    ending.append(e.maker_order_id)
            elif t is ev.OrderAccepted:
                assert isinstance(e, ev.OrderAccepted)
                base, quote = self.markets[e.market]
                asset = quote if e.side is Side.BUY else base
                live[e.order_id] = self.opened[e.order_id] = (e.account, asset)
                if e.reserved:
                    add(e.account, asset, "reserve", -e.reserved, e.reserved, e.order_id)
            elif t is ev.OrderCancelled or t is ev.OrderExpired:
                assert isinstance(e, ev.OrderCancelled | ev.OrderExpired)
                account, asset = live[e.order_id]
                if e.released:
                    add(account, asset, "release", e.released, -e.released, e.order_id)
                ending.append(e.order_id)
            elif t is ev.ReservationReleased:
                assert isinstance(e, ev.ReservationReleased)
                account, asset = live[e.order_id]
                if e.released:
                    add(account, asset, "release", e.released, -e.released, e.order_id)
                ending.append(e.order_id)
            elif t is ev.OrderAmended:
                assert isinstance(e, ev.OrderAmended)
                account, asset = live[e.order_id]
                d = e.reserved_delta
                if d:
                    add(account, asset, "reserve" if d > 0 else "release", -d, d, e.order_id)
            elif t is ev.Deposited:
                assert isinstance(e, ev.Deposited)
                add(e.account, e.asset, "deposit", e.amount, 0)
            elif t is ev.Withdrawn:
                assert isinstance(e, ev.Withdrawn)
                add(e.account, e.asset, "withdrawal", -e.amount, 0)
        for order_id in ending:
            if live.pop(order_id, None) is not None and self.opened.pop(order_id, None) is None:
                self.closed.add(order_id)
        return out

    def _trade(self, e: ev.Trade, add: Any) -> None:
        base, quote = self.markets[e.market]
        qty, cost, tid = e.quantity, e.quote_amount, e.trade_id
        if e.taker_side is Side.BUY:
            buyer, seller = (e.taker_account, e.taker_order_id), (e.maker_account, e.maker_order_id)
            used, buyer_fee, seller_fee = e.taker_reserve_used, e.taker_fee, e.maker_fee
        else:
            buyer, seller = (e.maker_account, e.maker_order_id), (e.taker_account, e.taker_order_id)
            used, buyer_fee, seller_fee = cost, e.maker_fee, e.taker_fee
        (ba, bo), (sa, so) = buyer, seller
        add(ba, quote, "fill", 0, -cost, bo, tid)
        if used != cost:
            add(ba, quote, "release", used - cost, cost - used, bo, tid)
        add(ba, base, "fill", qty, 0, bo, tid)
        if buyer_fee:
            add(ba, base, "fee", -buyer_fee, 0, bo, tid)
            add(FEE_ACCOUNT, base, "fee", buyer_fee, 0, bo, tid)
        add(sa, base, "fill", 0, -qty, so, tid)
        add(sa, quote, "fill", cost, 0, so, tid)
        if seller_fee:
            add(sa, quote, "fee", -seller_fee, 0, so, tid)
            add(FEE_ACCOUNT, quote, "fee", seller_fee, 0, so, tid)
