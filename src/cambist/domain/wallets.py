"""The risk stage: every account's balances, keyed by account.

Funds move only through the methods here, so conservation is easy to state and check: per asset,
``sum(available + reserved)`` over all accounts (the fee account included) equals deposits minus
withdrawals. In the scale-out mode this stage runs as its own shard keyed by account.
"""

from __future__ import annotations

from cambist.domain.orders import Order

FEE_ACCOUNT = 0
"""Fees are credited here. It exists from the start; client accounts are numbered from 1."""


class Balance:
    __slots__ = ("asset", "available", "reserved")

    def __init__(self, asset: str, available: int = 0, reserved: int = 0) -> None:
        self.asset = asset
        self.available = available
        self.reserved = reserved

    def __repr__(self) -> str:
        return f"Balance({self.asset}: {self.available} + {self.reserved} reserved)"


class Wallets:
    """Balances per account and asset, plus the net external flow per asset."""

    __slots__ = ("accounts", "net_flow", "references")

    def __init__(self) -> None:
        self.accounts: dict[int, dict[str, Balance]] = {FEE_ACCOUNT: {}}
        self.net_flow: dict[str, int] = {}
        self.references: dict[str, tuple[str, int, str, int]] = {}
        """Deposit/withdrawal reference -> (kind, account, asset, amount), for idempotency."""

    def has_account(self, account: int) -> bool:
        return account in self.accounts

    def open_account(self, account: int) -> None:
        self.accounts[account] = {}

    def balance(self, account: int, asset: str) -> Balance:
        """The account's balance in ``asset``, created empty on first use."""
        balances = self.accounts[account]
        bal = balances.get(asset)
        if bal is None:
            bal = balances[asset] = Balance(asset)
        return bal

    def credit_external(self, account: int, asset: str, amount: int) -> None:
        self.balance(account, asset).available += amount
        self.net_flow[asset] = self.net_flow.get(asset, 0) + amount

    def debit_external(self, account: int, asset: str, amount: int) -> bool:
        """Withdraw from available only (never from reserved); False when it is not there."""
        bal = self.balance(account, asset)
        if bal.available < amount:
            return False
        bal.available -= amount
        self.net_flow[asset] = self.net_flow.get(asset, 0) - amount
        return True

    @staticmethod
    def reserve(order: Order, amount: int) -> bool:
        """Hold ``amount`` of the order's spend asset for it; False if not available."""
        bal = order.spend
        if bal.available < amount:
            return False
        bal.available -= amount
        bal.reserved += amount
        order.reserved += amount
        return True

    @staticmethod
    def release(order: Order, amount: int) -> None:
        """Return ``amount`` of what the order holds to available."""
        bal = order.spend
        bal.reserved -= amount
        bal.available += amount
        order.reserved -= amount

    @staticmethod
    def settle(
        buyer: Order,
        seller: Order,
        quantity: int,
        cost: int,
        buyer_reserve_used: int,
        buyer_fee: int,
        seller_fee: int,
        fee_base: Balance,
        fee_quote: Balance,
    ) -> None:
        """Move one fill's base and quote between the two accounts and the fee account."""
        quote = buyer.spend
        quote.reserved -= buyer_reserve_used
        quote.available += buyer_reserve_used - cost
        buyer.reserved -= buyer_reserve_used
        buyer.receive.available += quantity - buyer_fee
        base = seller.spend
        base.reserved -= quantity
        seller.reserved -= quantity
        seller.receive.available += cost - seller_fee
        fee_base.available += buyer_fee
        fee_quote.available += seller_fee

    def conservation_problems(self) -> list[str]:
        """Per asset, compare held funds with the net external flow; describe any difference."""
        held: dict[str, int] = {}
        problems = []
        for account, balances in self.accounts.items():
            for asset, bal in balances.items():
                if bal.available < 0 or bal.reserved < 0:
                    problems.append(f"account {account} {asset} negative: {bal!r}")
                held[asset] = held.get(asset, 0) + bal.available + bal.reserved
        for asset in sorted(set(held) | set(self.net_flow)):
            if held.get(asset, 0) != self.net_flow.get(asset, 0):
                problems.append(
                    f"{asset}: held {held.get(asset, 0)} != deposits - withdrawals "
                    f"{self.net_flow.get(asset, 0)}"
                )
        return problems
