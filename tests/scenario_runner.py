"""Run the scenario tables in ``tests/scenarios/*.md`` against the engine.

A scenario file is plain Markdown (see ``docs/scenarios.md``): ``## <title>`` starts a scenario and
``### <section>`` starts one of its tables (balances before, book before, commands, trades, book
after, stops after, balances after). ``## Assets`` and ``## Markets`` are reserved titles: a file
that declares them trades in those instead of ``_default_markets.md``'s.

Every value is decimal text parsed with :func:`cambist.domain.money.parse_units` (a float never
enters). The runner builds commands with increasing ``seq`` and ``ts``, checks the engine's
invariants after every command, and compares the outcome with the tables *exactly*: a trade, a
resting order, a pending stop or a balance the tables do not list is a failure too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cambist.domain import commands as c
from cambist.domain import events as ev
from cambist.domain.engine import Engine
from cambist.domain.money import format_units, parse_units
from cambist.domain.types import OrderType, SelfTradePrevention, Side, TimeInForce
from cambist.domain.wallets import FEE_ACCOUNT

SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULTS_FILE = SCENARIO_DIR / "_default_markets.md"

DAY_START_S = 1_767_225_600  # 2026-01-01T00:00:00Z: every scenario's clock times are on this day
SETUP_TIME = "08:00:00"
BOOK_BEFORE_START = "09:00:00"
COMMANDS_START = "10:00:00"
UNKNOWN_ORDER_BASE = 1_000_000_000
FEES = "fees"

SECTIONS = (
    "balances before",
    "book before",
    "commands",
    "trades",
    "book after",
    "stops after",
    "order statuses",
    "balances after",
)
REQUIRED = ("commands", "trades", "book after", "balances after")

MARKET_COLUMNS = {
    "market", "tick", "lot", "min_qty", "max_qty", "min_notional", "band_bps", "maker_bps",
    "taker_bps", "note",
}  # fmt: skip
ORDER_COLUMNS = {
    "time", "account", "action", "market", "order", "side", "type", "tif", "price", "qty",
    "quote_qty", "stop", "post_only", "stp", "expire", "client_id", "asset", "amount",
    "reference", "scale", "expect", "note",
} | MARKET_COLUMNS  # fmt: skip
COLUMNS: dict[str, set[str]] = {
    "assets": {"asset", "scale", "note"},
    "markets": MARKET_COLUMNS,
    "balances before": {"account", "asset", "amount", "note"},
    "book before": ORDER_COLUMNS,
    "commands": ORDER_COLUMNS,
    "trades": {"market", "taker", "maker", "price", "qty", "taker_fee", "maker_fee", "note"},
    "book after": {"market", "order", "side", "price", "remaining", "note"},
    "stops after": {"market", "order", "side", "stop", "remaining", "note"},
    "balances after": {"account", "asset", "available", "reserved", "note"},
    "order statuses": {"order", "status", "note"},
}
ACTIONS = {
    "place", "cancel", "cancel_all", "amend", "halt", "resume", "deposit", "withdraw",
    "create_asset", "create_market", "create_account",
}  # fmt: skip
ORDER_ACTIONS = {"place", "cancel", "amend"}

Row = dict[str, str]


class ScenarioFormatError(ValueError):
    """A scenario file that does not follow the table format."""


# -- parsing ---------------------------------------------------------------------------------


@dataclass
class Scenario:
    title: str
    path: Path
    line: int
    assets: list[Row]
    markets: list[Row]
    xfail: str | None = None
    tables: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def rejections(self) -> set[str]:
        """Every rejection code the commands table expects."""
        codes = set()
        for row in self.tables.get("commands", []):
            expect = row.get("expect", "")
            if expect.startswith("rejected:"):
                codes.add(expect.removeprefix("rejected:").strip())
        return codes


def _cells(line: str) -> list[str]:
    text = line.strip()
    if not (text.startswith("|") and text.endswith("|")):
        raise ScenarioFormatError(f"table row must start and end with '|': {line!r}")
    return [cell.strip().strip("`").strip() for cell in text[1:-1].split("|")]


def _column(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip().lower())


def _parse_table(lines: list[str], where: str, allowed: set[str]) -> list[Row]:
    header = [_column(h) for h in _cells(lines[0])]
    unknown = set(header) - allowed
    if unknown:
        raise ScenarioFormatError(f"{where}: unknown column(s) {sorted(unknown)}")
    rows = []
    for line in lines[2:]:
        cells = _cells(line)
        if len(cells) != len(header):
            raise ScenarioFormatError(f"{where}: row has {len(cells)} cells, header {len(header)}")
        rows.append({h: v for h, v in zip(header, cells, strict=True) if v not in ("", "-", "—")})
    return rows


def _blocks(path: Path) -> Iterator[tuple[int, str, str, list[str], list[str]]]:
    """Yield (line, level, heading, table lines, prose lines) for every heading of the file."""
    level = heading = ""
    line_no = 0
    table: list[str] = []
    prose: list[str] = []
    for n, raw in enumerate([*path.read_text().splitlines(), "## <end>"], start=1):
        match = re.match(r"^(#{1,3}) (.*)$", raw)
        if match:
            if heading:
                yield line_no, level, heading, table, prose
            level, heading, line_no, table, prose = (
                match.group(1),
                match.group(2).strip(),
                n,
                [],
                [],
            )
        elif raw.strip().startswith("|"):
            table.append(raw)
        elif raw.strip():
            prose.append(raw.strip())


def parse_file(path: Path, defaults: tuple[list[Row], list[Row]] | None = None) -> list[Scenario]:
    assets, markets = defaults if defaults else ([], [])
    scenarios: list[Scenario] = []
    current: Scenario | None = None
    for line, level, heading, table, prose in _blocks(path):
        where = f"{path.name}:{line} ({heading})"
        if level == "#" or heading == "<end>":
            continue
        if level == "##" and heading.lower() in ("assets", "markets"):
            rows = _parse_table(table, where, COLUMNS[heading.lower()])
            if heading.lower() == "assets":
                assets = rows
            else:
                markets = rows
            current = None
            continue
        if level == "##":
            current = Scenario(heading, path, line, assets, markets)
            scenarios.append(current)
            for text in prose:
                if text.startswith("> xfail:"):
                    current.xfail = text.removeprefix("> xfail:").strip()
            continue
        if current is None:
            raise ScenarioFormatError(f"{where}: a section outside any scenario")
        name = heading.lower()
        if name not in SECTIONS:
            raise ScenarioFormatError(f"{where}: unknown section; expected one of {SECTIONS}")
        if not table:
            if not any(p.lower().startswith("none") for p in prose):
                raise ScenarioFormatError(f"{where}: a section needs a table or the word 'none'")
            current.tables[name] = []
        else:
            current.tables[name] = _parse_table(table, where, COLUMNS[name])
    for sc in scenarios:
        missing = [s for s in REQUIRED if s not in sc.tables]
        if missing:
            raise ScenarioFormatError(f"{path.name}:{sc.line} {sc.title!r}: missing {missing}")
        if not sc.markets or not sc.assets:
            raise ScenarioFormatError(f"{path.name}: no markets declared")
    return scenarios


def load_defaults() -> tuple[list[Row], list[Row]]:
    assets: list[Row] = []
    markets: list[Row] = []
    for line, _level, heading, table, _prose in _blocks(DEFAULTS_FILE):
        where = f"{DEFAULTS_FILE.name}:{line}"
        if heading.lower() == "assets":
            assets = _parse_table(table, where, COLUMNS["assets"])
        elif heading.lower() == "markets":
            markets = _parse_table(table, where, COLUMNS["markets"])
    return assets, markets


def load_scenarios() -> list[Scenario]:
    defaults = load_defaults()
    scenarios: list[Scenario] = []
    for path in sorted(SCENARIO_DIR.glob("*.md")):
        if not path.name.startswith("_"):
            scenarios.extend(parse_file(path, defaults))
    titles = [s.title for s in scenarios]
    dupes = sorted({t for t in titles if titles.count(t) > 1})
    if dupes:
        raise ScenarioFormatError(f"scenario titles must be unique: {dupes}")
    return scenarios


# -- values ----------------------------------------------------------------------------------


def clock(text: str) -> int:
    """``"10:00:05"`` or ``"10:00:05.250000"`` on the scenario day -> ns since the epoch."""
    match = re.fullmatch(r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?", text)
    if match is None:
        raise ScenarioFormatError(f"not a time of day (HH:MM:SS): {text!r}")
    h, m, s = (int(match.group(i)) for i in (1, 2, 3))
    frac = int((match.group(4) or "").ljust(9, "0"))
    return (DAY_START_S + h * 3600 + m * 60 + s) * 1_000_000_000 + frac


def show_time(ts: int) -> str:
    secs, ns = divmod(ts - DAY_START_S * 1_000_000_000, 1_000_000_000)
    h, rest = divmod(secs, 3600)
    text = f"{h:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{text}.{ns:09d}".rstrip("0") if ns else text


def show(value: int, scale: int) -> str:
    """Minor units as the shortest decimal text (``65000.1``, ``0.001``, ``0``)."""
    text = format_units(value, scale)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _yes(text: str | None) -> bool:
    return (text or "").lower() in ("yes", "true", "y", "1")


@dataclass
class MarketInfo:
    name: str
    base: str
    quote: str
    base_scale: int
    quote_scale: int


@dataclass
class Outcome:
    """What the run observed, in the tables' own words."""

    results: list[str] = field(default_factory=list)
    trades: list[tuple[str, ...]] = field(default_factory=list)
    book: list[tuple[str, ...]] = field(default_factory=list)
    stops: list[tuple[str, ...]] = field(default_factory=list)
    balances: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


class ScenarioRun:
    """One scenario against a fresh engine."""

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.engine = Engine()
        self.log: list[c.Command] = []
        self.transcript: list[str] = []
        self.seq = 0
        self.ts = clock(SETUP_TIME)
        self.scales: dict[str, int] = {}
        self.markets: dict[str, MarketInfo] = {}
        self.accounts: dict[str, int] = {FEES: FEE_ACCOUNT}
        self.labels: dict[str, int] = {}
        self.order_market: dict[int, str] = {}
        self.order_side: dict[int, Side] = {}
        self.status: dict[int, str] = {}
        self.last_cmd: c.Command = c.Command()

    # -- names <-> ids

    def account(self, name: str | None) -> int:
        if not name:
            raise ScenarioFormatError(f"{self.sc.title}: a row needs an account")
        if name not in self.accounts:
            self.accounts[name] = len(self.accounts)
        return self.accounts[name]

    def account_name(self, account: int) -> str:
        for name, aid in self.accounts.items():
            if aid == account:
                return name
        return f"#{account}"

    def label_of(self, order_id: int) -> str:
        for label, oid in self.labels.items():
            if oid == order_id:
                return label
        return f"#{order_id}"

    def order_ref(self, label: str | None) -> int:
        if not label:
            return 0
        if label not in self.labels:  # names an order that was never placed
            self.labels[label] = UNKNOWN_ORDER_BASE + len(self.labels)
        return self.labels[label]

    def market_of(self, row: Row) -> MarketInfo:
        name = row.get("market")
        if name is None and row.get("order") in self.labels:
            name = self.order_market.get(self.labels[row["order"]])
        name = name or self.sc.markets[0]["market"]
        if name not in self.markets:  # an unknown market: parse its values at a generous scale
            base, _, quote = name.partition("-")
            return MarketInfo(
                name, base, quote, self.scales.get(base, 18), self.scales.get(quote, 18)
            )
        return self.markets[name]

    def units(self, text: str | None, scale: int) -> int:
        return parse_units(text, scale) if text else 0

    # -- applying

    def apply(self, cmd: c.Command, what: str) -> list[ev.Event]:
        self.seq += 1
        cmd.seq, cmd.ts = self.seq, max(self.ts, cmd.ts)
        self.ts = cmd.ts
        self.log.append(cmd)
        try:
            events = self.engine.apply(cmd)
            self.engine.validate_invariants()
        except Exception as exc:
            raise AssertionError(
                f"{self.sc.title}: {what}: the engine raised {exc!r}\n\n{self.history()}"
            ) from exc
        self.transcript.append(f"seq {cmd.seq} {show_time(cmd.ts)} {what}")
        self.transcript.extend(f"    {self.describe(e)}" for e in events)
        self.track(events)
        return events

    def history(self) -> str:
        return "\n".join(["What happened (events by command):", *self.transcript])

    def describe(self, event: ev.Event) -> str:
        parts = []
        for f in fields(event):
            value = getattr(event, f.name)
            if f.name.endswith("order_id") and isinstance(value, int) and value:
                value = self.label_of(value)
            elif f.name.endswith("account") and isinstance(value, int):
                value = self.account_name(value)
            parts.append(f"{f.name}={value}")
        return f"{type(event).__name__}({', '.join(parts)})"

    def track(self, events: list[ev.Event]) -> None:
        """Fold events into per-order statuses, as a client reading the event stream would."""
        for e in events:
            if isinstance(e, ev.OrderAccepted):
                self.status[e.order_id] = str(e.status)
            elif isinstance(e, ev.OrderTriggered):
                self.status[e.order_id] = "open"
            elif isinstance(e, ev.Trade):
                self.status[e.taker_order_id] = (
                    "filled" if e.taker_remaining == 0 else "partially_filled"
                )
                self.status[e.maker_order_id] = (
                    "filled" if e.maker_remaining == 0 else "partially_filled"
                )
            elif isinstance(e, ev.OrderCancelled):
                self.status[e.order_id] = f"cancelled:{e.reason}"
            elif isinstance(e, ev.OrderExpired):
                self.status[e.order_id] = "expired"
            elif isinstance(e, ev.ReservationReleased):
                self.status[e.order_id] = "filled"
            elif isinstance(e, ev.CommandRejected) and e.command == "place":
                self.status[e.order_id] = f"rejected:{e.reason}"

    # -- setup

    def setup(self) -> None:
        t = clock(SETUP_TIME)
        for row in self.sc.assets:
            scale = int(row["scale"])
            self.scales[row["asset"]] = scale
            self.must_accept(c.CreateAsset(asset=row["asset"], scale=scale, ts=t), "create asset")
        for row in self.sc.markets:
            cmd = self.create_market_cmd(row)
            self.must_accept(cmd, f"create market {row['market']}")
            info = self.market_of(row)
            self.markets[info.name] = info
        names = [r["account"] for r in self.sc.tables.get("balances before", [])]
        names += [r["account"] for r in self.sc.tables.get("book before", [])]
        for name in dict.fromkeys(names):
            self.must_accept(c.CreateAccount(account=self.account(name), ts=t), f"open {name}")
        for i, row in enumerate(self.sc.tables.get("balances before", [])):
            if row.get("asset"):
                cmd = c.Deposit(
                    account=self.account(row["account"]), asset=row["asset"],
                    amount=self.units(row["amount"], self.scales[row["asset"]]),
                    reference=f"setup-{i}", ts=t,
                )  # fmt: skip
                self.must_accept(cmd, f"deposit {row}")
        self.ts = clock(BOOK_BEFORE_START)
        for row in self.sc.tables.get("book before", []):
            row = {"action": "place", **row}
            events = self.submit(row, BOOK_BEFORE_START, f"book before: {_row_text(row)}")
            rejected = [e for e in events if isinstance(e, ev.CommandRejected)]
            if rejected:
                raise ScenarioFormatError(f"{self.sc.title}: book before {row}: {rejected}")

    def must_accept(self, cmd: c.Command, what: str) -> None:
        events = self.apply(cmd, what)
        rejected = [e for e in events if isinstance(e, ev.CommandRejected)]
        if rejected:
            raise ScenarioFormatError(
                f"{self.sc.title}: setup step {what} was rejected: {rejected}"
            )

    def create_market_cmd(self, row: Row) -> c.CreateMarket:
        info = self.market_of(row)
        b, q = info.base_scale, info.quote_scale
        return c.CreateMarket(
            market=info.name, base=info.base, quote=info.quote,
            tick=self.units(row.get("tick"), q), lot=self.units(row.get("lot"), b),
            min_quantity=self.units(row.get("min_qty"), b),
            max_quantity=self.units(row.get("max_qty"), b),
            min_notional=self.units(row.get("min_notional"), q),
            band_bps=int(row.get("band_bps", "0")), maker_fee_bps=int(row.get("maker_bps", "0")),
            taker_fee_bps=int(row.get("taker_bps", "0")), ts=self.ts,
        )  # fmt: skip

    def next_time(self, row: Row, start: str) -> int:
        if "time" in row:
            ts = clock(row["time"])
            if ts < self.ts:
                raise ScenarioFormatError(f"{self.sc.title}: time goes backwards at {row}")
            return ts
        return max(self.ts + 1_000_000_000, clock(start))

    def submit(self, row: Row, start: str, what: str) -> list[ev.Event]:
        """Build the command a row describes, name the order it places, and apply it."""
        cmd = self.command(row, self.next_time(row, start))
        if isinstance(cmd, c.PlaceOrder):
            label = row.get("order")
            if label:
                if label in self.labels:
                    raise ScenarioFormatError(f"{self.sc.title}: order label {label} reused")
                self.labels[label] = self.seq + 1
            self.order_market[self.seq + 1] = cmd.market
            self.order_side[self.seq + 1] = cmd.side
        self.last_cmd = cmd
        return self.apply(cmd, what)

    def command(self, row: Row, ts: int) -> c.Command:
        """Build the engine command one table row describes."""
        action = row.get("action", "")
        if action not in ACTIONS:
            raise ScenarioFormatError(f"{self.sc.title}: unknown action {action!r} in {row}")
        info = self.market_of(row)
        if action == "place":
            return c.PlaceOrder(
                account=self.account(row.get("account")), market=info.name,
                side=Side(row["side"]), order_type=OrderType(row.get("type", "limit")),
                time_in_force=TimeInForce(row.get("tif", "gtc")),
                price=self.units(row.get("price"), info.quote_scale),
                quantity=self.units(row.get("qty"), info.base_scale),
                quote_quantity=self.units(row.get("quote_qty"), info.quote_scale),
                stop_price=self.units(row.get("stop"), info.quote_scale),
                expire_ts=clock(row["expire"]) if row.get("expire") else 0,
                post_only=_yes(row.get("post_only")), client_order_id=row.get("client_id", ""),
                stp=SelfTradePrevention(row.get("stp", "cancel_newest")), ts=ts,
            )  # fmt: skip
        if action == "cancel":
            return c.CancelOrder(
                account=self.account(row.get("account")), order_id=self.order_ref(row.get("order")),
                client_order_id=row.get("client_id", ""), ts=ts,
            )  # fmt: skip
        if action == "amend":
            return c.AmendOrder(
                account=self.account(row.get("account")), order_id=self.order_ref(row.get("order")),
                price=self.units(row.get("price"), info.quote_scale),
                quantity=self.units(row.get("qty"), info.base_scale), ts=ts,
            )  # fmt: skip
        if action == "cancel_all":
            return c.CancelAll(
                account=self.account(row.get("account")), market=row.get("market", ""), ts=ts
            )
        if action in ("halt", "resume"):
            return c.SetMarketStatus(market=info.name, halted=action == "halt", ts=ts)
        if action in ("deposit", "withdraw"):
            cls = c.Deposit if action == "deposit" else c.Withdraw
            asset = row.get("asset", "")
            return cls(
                account=self.account(row.get("account")), asset=asset,
                amount=self.units(row.get("amount"), self.scales.get(asset, 18)),
                reference=row.get("reference", ""), ts=ts,
            )  # fmt: skip
        if action == "create_asset":
            return c.CreateAsset(
                asset=row.get("asset", ""), scale=int(row.get("scale", "0")), ts=ts
            )
        if action == "create_market":
            cmd = self.create_market_cmd(row)
            cmd.ts = ts
            return cmd
        return c.CreateAccount(account=self.account(row.get("account")), ts=ts)

    # -- the run

    def run(self) -> Outcome:
        self.setup()
        out = Outcome()
        for i, row in enumerate(self.sc.tables["commands"], start=1):
            events = self.submit(row, COMMANDS_START, f"command {i}: {_row_text(row)}")
            cmd = self.last_cmd
            out.trades.extend(self.trade_row(e) for e in events if isinstance(e, ev.Trade))
            out.results.append(self.result(cmd, events))
        out.book, out.stops = self.book_rows(), self.stop_rows()
        out.balances = self.balance_rows()
        return out

    def result(self, cmd: c.Command, events: list[ev.Event]) -> str:
        for e in events:
            if isinstance(e, ev.CommandRejected):
                return f"rejected:{e.reason}"
        if isinstance(cmd, c.PlaceOrder):
            return self.status.get(cmd.seq, "?")
        if isinstance(cmd, c.AmendOrder | c.CancelOrder):
            oid = cmd.order_id
            if not oid:
                oid = next((e.order_id for e in events if isinstance(e, ev.OrderCancelled)), 0)
            return self.status.get(oid, "?")
        return "accepted"

    def trade_row(self, t: ev.Trade) -> tuple[str, ...]:
        info = self.markets[t.market]
        base_fee, quote_fee = (info.base, info.base_scale), (info.quote, info.quote_scale)
        taker_asset, maker_asset = (
            (base_fee, quote_fee) if t.taker_side is Side.BUY else (quote_fee, base_fee)
        )
        return (
            t.market,
            self.label_of(t.taker_order_id),
            self.label_of(t.maker_order_id),
            show(t.price, info.quote_scale),
            show(t.quantity, info.base_scale),
            fee_text(t.taker_fee, *taker_asset),
            fee_text(t.maker_fee, *maker_asset),
        )

    def book_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for name, info in self.markets.items():
            book = self.engine.markets[name].book
            for side, book_side in (("sell", book.asks), ("buy", book.bids)):
                for level in book_side.levels_best_first():
                    for order in level.orders():
                        self.check_status(order.order_id, str(order.status))
                        rows.append(
                            (
                                name, side, self.label_of(order.order_id),
                                show(order.price, info.quote_scale),
                                show(order.remaining, info.base_scale),
                            )
                        )  # fmt: skip
        return rows

    def stop_rows(self) -> list[tuple[str, ...]]:
        rows = []
        for oid in sorted(self.engine.orders):
            order = self.engine.orders[oid]
            if order.level is None:
                info = self.markets[order.market]
                self.check_status(oid, str(order.status))
                rows.append(
                    (
                        order.market, str(order.side), self.label_of(oid),
                        show(order.stop_price, info.quote_scale),
                        show(order.remaining, info.base_scale),
                    )
                )  # fmt: skip
        return rows

    def check_status(self, order_id: int, engine_status: str) -> None:
        told = self.status.get(order_id)
        if told != engine_status:
            raise AssertionError(
                f"order {self.label_of(order_id)}: the events say {told!r} but the engine "
                f"holds it as {engine_status!r}\n\n{self.history()}"
            )

    def balance_rows(self) -> dict[tuple[str, str], tuple[str, str]]:
        rows = {}
        for account, balances in self.engine.wallets.accounts.items():
            for asset, bal in balances.items():
                if bal.available or bal.reserved:
                    scale = self.scales[asset]
                    rows[(self.account_name(account), asset)] = (
                        show(bal.available, scale),
                        show(bal.reserved, scale),
                    )
        return rows

    # -- expectations in the same words

    def expected(self) -> Outcome:
        tables = self.sc.tables
        out = Outcome()
        out.results = [r.get("expect", "accepted") for r in tables["commands"]]
        for row in tables["trades"]:
            info = self.market_of({"order": row["taker"], **row})
            taker_buy = self.order_side.get(self.labels.get(row["taker"], 0)) is Side.BUY
            base_fee, quote_fee = (info.base, info.base_scale), (info.quote, info.quote_scale)
            taker_asset, maker_asset = (base_fee, quote_fee) if taker_buy else (quote_fee, base_fee)
            out.trades.append(
                (
                    info.name, row["taker"], row["maker"],
                    show(self.units(row["price"], info.quote_scale), info.quote_scale),
                    show(self.units(row["qty"], info.base_scale), info.base_scale),
                    expected_fee(row.get("taker_fee"), *taker_asset),
                    expected_fee(row.get("maker_fee"), *maker_asset),
                )
            )  # fmt: skip
        out.book = self.expected_orders(tables["book after"], "price")
        out.stops = sorted(
            self.expected_orders(tables.get("stops after", []), "stop"),
            key=lambda r: self.labels.get(r[2], 0),
        )
        for row in tables["balances after"]:
            scale = self.scales[row["asset"]]
            out.balances[(row["account"], row["asset"])] = (
                show(self.units(row.get("available"), scale), scale),
                show(self.units(row.get("reserved"), scale), scale),
            )
        return out

    def expected_orders(self, rows: list[Row], price_col: str) -> list[tuple[str, ...]]:
        grouped: dict[tuple[str, str], list[tuple[str, ...]]] = {}
        for row in rows:
            info = self.market_of(row)
            side = {"bid": "buy", "ask": "sell"}.get(row["side"], row["side"])
            grouped.setdefault((info.name, side), []).append(
                (
                    info.name, side, row["order"],
                    show(self.units(row[price_col], info.quote_scale), info.quote_scale),
                    show(self.units(row["remaining"], info.base_scale), info.base_scale),
                )
            )  # fmt: skip
        return [
            r
            for name in self.markets
            for side in ("sell", "buy")
            for r in grouped.get((name, side), [])
        ]


def fee_text(value: int, asset: str, scale: int) -> str:
    return f"{show(value, scale)} {asset}" if value else "0"


def expected_fee(text: str | None, asset: str, scale: int) -> str:
    if not text:
        return "0"
    number, _, written_asset = text.partition(" ")
    value = parse_units(number, scale)
    return fee_text(value, written_asset.strip() or asset, scale) if value else "0"


def _row_text(row: Row) -> str:
    return " | ".join(f"{k}={v}" for k, v in row.items() if k not in ("note",))


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows] or ["(none)"]
    return "\n".join(lines)


def _status_matches(want: str, got: str) -> bool:
    """``cancelled`` matches any ``cancelled:<reason>``; ``accepted`` any non-rejection."""
    if want == "accepted":
        return not got.startswith("rejected") and got != "?"
    return got == want or (":" not in want and got.split(":", maxsplit=1)[0] == want)


def compare(run: ScenarioRun, actual: Outcome, expected: Outcome) -> list[str]:
    """Describe every difference between what the tables say and what the engine did."""
    problems = []
    sc = run.sc
    for i, (row, want, got) in enumerate(
        zip(sc.tables["commands"], expected.results, actual.results, strict=True), start=1
    ):
        if not _status_matches(want, got):
            problems.append(f"command {i} ({_row_text(row)}): expected {want!r}, got {got!r}")
    for row in sc.tables.get("order statuses", []):
        want, got = row["status"], run.status.get(run.labels.get(row["order"], 0), "?")
        if not _status_matches(want, got):
            problems.append(f"order {row['order']}: expected status {want!r}, got {got!r}")
    checks = (
        ("trades", ("market", "taker", "maker", "price", "qty", "taker fee", "maker fee")),
        ("book", ("market", "side", "order", "price", "remaining")),
        ("stops", ("market", "side", "order", "stop", "remaining")),
    )
    for name, header in checks:
        want_rows, got_rows = getattr(expected, name), getattr(actual, name)
        if want_rows != got_rows:
            problems.append(
                f"{name} differ.\nexpected:\n{_table(header, want_rows)}\n"
                f"actual:\n{_table(header, got_rows)}"
            )
    if expected.balances != actual.balances:
        diff = []
        for key in sorted(set(expected.balances) | set(actual.balances)):
            want_bal = expected.balances.get(key, ("0", "0"))
            got_bal = actual.balances.get(key, ("0", "0"))
            if want_bal != got_bal:
                diff.append((*key, *want_bal, *got_bal))
        if diff:
            header = (
                "account",
                "asset",
                "exp. available",
                "exp. reserved",
                "available",
                "reserved",
            )
            problems.append("balances differ:\n" + _table(header, diff))
    return problems


def run_scenario(sc: Scenario) -> None:
    """Run one scenario; raise AssertionError listing every difference from its tables."""
    run = ScenarioRun(sc)
    actual = run.run()
    expected = run.expected()
    problems = compare(run, actual, expected)
    restored = Engine.restore(run.engine.snapshot())
    if restored.state_hash() != run.engine.state_hash():
        problems.append("snapshot -> restore changed the state hash")
    replay = Engine()
    for cmd in run.log:
        replay.apply(cmd)
    if replay.state_hash() != run.engine.state_hash():
        problems.append("replaying the same commands gave a different state hash")
    if problems:
        where = f"{sc.path.name}:{sc.line} {sc.title!r}"
        raise AssertionError(
            f"scenario {where}\n\n" + "\n\n".join(problems) + "\n\n" + run.history()
        )


def all_rejection_codes(scenarios: list[Scenario]) -> dict[str, list[str]]:
    """Rejection code -> titles of the (passing) scenarios that expect it."""
    seen: dict[str, list[str]] = {}
    for sc in scenarios:
        if sc.xfail is None:
            for code in sc.rejections:
                seen.setdefault(code, []).append(sc.title)
    return seen


__all__: list[Any] = ["Scenario", "all_rejection_codes", "load_scenarios", "run_scenario"]
