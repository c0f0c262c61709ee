"""The broker contract: one set of scenarios, run on the paper broker and on the live broker
against each venue's fake (the real ccxt on 127.0.0.1), each ending in the same book.

A scenario is a timeline of ticks; each tick settles (paper: the candle since the last tick,
from the last price to this one; live: reconciliation with the exchange) and then executes
that tick's plans at that tick's price. Both brokers pay the fakes' 0.05 % taker fee and no
slippage, BTC trades 0.03 at 3x (margin = notional / 3), and the account starts at 10,000.
The expected books are worked by hand beside each scenario. What a broker cannot do is marked
in the parametrization with its reason (the paper broker has no exchange to lose an answer or
refuse an order; the fakes do not liquidate).

The venues answer orders asynchronously, and the live scenarios script the fakes to do so
(tests/fakes/account.py ``EntryAnswer``, sources there): a late fill, a fill after the bot's
reads, a partial fill, a worse price, the trades endpoint down, "leverage not modified", a
duplicate-client-id answer to an order that was placed, a position changed by hand. After
every live tick the exchange's open stop-loss and take-profit cover exactly the held size at
the book's levels (nothing unprotected, nothing protected at a stale size).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pytest

from bot.clock import tick_id_for
from bot.config import LIVE_CONFIRMATION, PaperSettings, Settings
from bot.models import CoinMarket, MarketInfo, OrderPlan, Side, Snapshot
from bot.ops.state import BotState
from bot.tick.risk import client_order_id
from bot.venues.ccxt_broker import CcxtBroker
from bot.venues.paper import PaperBroker
from bot.venues.profiles import is_bot_order, profile_for, valid_client_id
from tests.conftest import NOW, data_dir
from tests.fakes.account import TAKER_FEE, EntryAnswer
from tests.fakes.bybit import FakeBybit
from tests.fakes.exchange import FakeExchange
from tests.fakes.hyperliquid import WALLET, FakeHyperliquid

TICK = timedelta(minutes=3)
START_USD = 10_000.0
L, S = Side.LONG, Side.SHORT


# -- the scenarios ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    side: Side
    amount: float
    stop_loss: float | None
    take_profit: float | None


@dataclass(frozen=True)
class Close:
    amount: float


@dataclass(frozen=True)
class Tick:
    price: float  # BTC's price this tick: the candle since the last tick ends here, orders fill here
    orders: tuple[Entry | Close, ...] = ()
    fault: str | None = None  # live only: the fake's answer to this tick's first order
    answer: EntryAnswer | None = None  # live only: how the venue answers this tick's entry (asynchronously)
    trades_fail: bool = False  # live only: the trades endpoint answers 500 all this tick (it is back next tick)
    outside: str | None = None  # live only, before the tick: "leverage at 3x" already, or "0.02 added by hand"


@dataclass(frozen=True)
class Book:
    cash_usd: float
    fees_usd: float
    realized_usd: float
    position: tuple[Side, float, float, float] | None  # side, amount, entry price, margin
    reasons: tuple[str, ...]  # the fills' reasons, in order
    correction: str | None = None  # the first alert's kind, if one is expected
    fill_fees_usd: float | None = None  # the fills' fees when not all of fees_usd (a fee read after its fill)


def fee(amount: float, price: float) -> float:
    return amount * price * TAKER_FEE


OPEN = Tick(100_000.0, (Entry(L, 0.03, 98_000.0, 104_000.0),))  # fee 0.03 x 100,000 x 0.05 % = 1.5

SCENARIOS: dict[str, tuple[list[Tick], Book]] = {
    # cash 10,000 - 1.5; margin 3,000 / 3 = 1,000
    "open": ([OPEN], Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",))),
    # + 0.03 at 110,000 (fee 1.65): entry (100,000 + 110,000) / 2 = 105,000, margin 1,000 + 1,100
    "add": (
        [
            Tick(100_000.0, (Entry(L, 0.03, 98_000.0, 120_000.0),)),
            Tick(110_000.0, (Entry(L, 0.03, 105_000.0, 120_000.0),)),
        ],
        Book(9_996.85, 3.15, 0.0, (L, 0.06, 105_000.0, 2_100.0), ("decision", "decision")),
    ),
    # 0.01 of 0.03 closed at 103,000: +3,000 x 0.01 = 30, fee 0.515; a third of the margin released
    "partial close": (
        [OPEN, Tick(103_000.0, (Close(0.01),))],
        Book(10_027.985, 2.015, 30.0, (L, 0.02, 100_000.0, 2_000.0 / 3), ("decision", "decision")),
    ),
    # at 102,000: the long closed (+2,000 x 0.03 = 60, fee 1.53), a short of 0.03 opened (fee 1.53,
    # margin 3,060 / 3 = 1,020)
    "flip": (
        [OPEN, Tick(102_000.0, (Close(0.03), Entry(S, 0.03, 105_000.0, 99_000.0)))],
        Book(10_055.44, 4.56, 60.0, (S, 0.03, 102_000.0, 1_020.0), ("decision", "decision", "decision")),
    ),
    # the price falls to the stop: -2,000 x 0.03 = -60, fee 0.03 x 98,000 x 0.05 % = 1.47
    "stop-loss fill": (
        [OPEN, Tick(98_000.0)],
        Book(9_937.03, 2.97, -60.0, None, ("decision", "stop_loss")),
    ),
    # the price rises to the take-profit: +4,000 x 0.03 = 120, fee 1.56
    "take-profit fill": (
        [OPEN, Tick(104_000.0)],
        Book(10_116.94, 3.06, 120.0, None, ("decision", "take_profit")),
    ),
    # no stop; the price falls through the liquidation price, (1,000 - 3,000) / (0.03 x 0.5 % - 0.03)
    # = 67,001.7: booked at the bankruptcy price, 100,000 - 1,000 / 0.03; the whole margin lost, no fee
    "liquidation": (
        [Tick(100_000.0, (Entry(L, 0.03, None, None),)), Tick(60_000.0)],
        Book(8_998.5, 1.5, -1_000.0, None, ("decision", "liquidation")),
    ),
    # the entry's answer is cut after the exchange filled it: looked up by its id, booked once
    "lost answer": (
        [Tick(100_000.0, OPEN.orders, fault="truncated")],
        Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",)),
    ),
    # Asynchronous answers (tests/fakes/account.py EntryAnswer): accepted with nothing filled, filled
    # by the bot's second read: booked as "open", protected at 0.03
    "late fill": (
        [Tick(100_000.0, OPEN.orders, answer=EntryAnswer(now=0.0, later=2))],
        Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",)),
    ),
    # still NEW after the bot's three reads: the cancel of its rest finds it filled (the fill came
    # after the last read): booked as "open", protected at 0.03
    "filled after the read-back": (
        [Tick(100_000.0, OPEN.orders, answer=EntryAnswer(now=0.0, later=4))],
        Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",)),
    ),
    # half filled, the rest expires: 0.015 at 100,000, fee 0.75, margin 1,500 / 3 = 500, protected at 0.015
    "partial fill": (
        [Tick(100_000.0, OPEN.orders, answer=EntryAnswer(now=0.5, later=1, rest="expire"))],
        Book(9_999.25, 0.75, 0.0, (L, 0.015, 100_000.0, 500.0), ("decision",)),
    ),
    # half at once, the rest by the second read: booked whole as "open", protected at 0.03
    "partial, then the rest": (
        [Tick(100_000.0, OPEN.orders, answer=EntryAnswer(now=0.5, later=2))],
        Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",)),
    ),
    # filled 0.1 % worse, at 100,100: fee 0.03 x 100,100 x 0.05 % = 1.5015, margin 3,003 / 3 = 1,001
    "worse price": (
        [Tick(100_000.0, OPEN.orders, answer=EntryAnswer(now=1.0, slip=0.001))],
        Book(9_998.4985, 1.5015, 0.0, (L, 0.03, 100_100.0, 1_001.0), ("decision",)),
    ),
    # the trades endpoint fails when the fee is read: the fill is booked and protected from the
    # order's answer (fee owed), the next tick reads the fee: as "open"
    "trades fail": (
        [Tick(100_000.0, OPEN.orders, trades_fail=True), Tick(100_000.0)],
        Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",), fill_fees_usd=0.0),
    ),
    # the symbol is at 3x already: Bybit answers 110043 "leverage not modified", which is success
    "not modified": (
        [Tick(100_000.0, OPEN.orders, outside="leverage at 3x")],
        Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",)),
    ),
    # the venue placed the entry and the answer read is its duplicate-client-id refusal: looked up, booked once
    "duplicate client id": (
        [Tick(100_000.0, OPEN.orders, fault="acted_duplicate")],
        Book(9_998.5, 1.5, 0.0, (L, 0.03, 100_000.0, 1_000.0), ("decision",)),
    ),
    # the owner adds 0.02 by hand at 100,000 (the exchange's fee 1.0, seen in the balance): the book
    # is resized to 0.05 and its stop-loss and take-profit re-placed at 0.05; margin 5,000 / 3
    "changed outside the bot": (
        [OPEN, Tick(100_000.0, outside="0.02 added by hand")],
        Book(9_997.5, 1.5, 0.0, (L, 0.05, 100_000.0, 5_000.0 / 3), ("decision",)),
    ),
    # the exchange refuses the entry (margin insufficient): nothing booked, an alert
    "rejection": (
        [Tick(100_000.0, OPEN.orders, fault="insufficient_margin")],
        Book(START_USD, 0.0, 0.0, None, (), correction="rejected"),
    ),
}

NOT_ON_PAPER = "the paper broker has no exchange: no answer to lose, and it fills every plan risk approved"
NOT_LIVE = "the fakes do not liquidate; live, a liquidation is a position closed outside the bot (reconciliation)"
NOT_FILLED_AS_ANSWERED = "the paper broker fills every plan in full at the tick's price (no venue answer)"
IOC = "Hyperliquid's market order is an IOC limit: what does not fill at once is cancelled, it never rests"
FEE_IN_ANSWER = "Bybit's order answer carries its fee (cumFeeDetail, ccxt's recorded bybit orders): no trades are read"
NOT_APPLICABLE = {
    **{
        (name, "paper"): NOT_ON_PAPER
        for name in (
            "lost answer",
            "rejection",
            "trades fail",
            "not modified",
            "duplicate client id",
            "changed outside the bot",
        )
    },
    ("partial fill", "paper"): NOT_FILLED_AS_ANSWERED,
    ("worse price", "paper"): NOT_FILLED_AS_ANSWERED,
    ("late fill", "hyperliquid"): IOC,
    ("filled after the read-back", "hyperliquid"): IOC,
    ("partial, then the rest", "hyperliquid"): IOC,
    ("trades fail", "bybit"): FEE_IN_ANSWER,
    **{("liquidation", venue): NOT_LIVE for venue in ("binanceusdm", "hyperliquid", "bybit")},
}


# -- the brokers -----------------------------------------------------------------------------------
def _plans(tick: Tick, now, symbol: str) -> list[OrderPlan]:
    plans = []
    for n, order in enumerate(tick.orders):
        leg = "entry" if isinstance(order, Entry) else "close"
        common = {
            "coin": "BTC",
            "symbol": symbol,
            "amount": order.amount,
            "reference_price": tick.price,
            "leverage": 3.0,
            "client_order_id": client_order_id(tick_id_for(now), "BTC", f"{leg}{n or ''}"),
        }
        if isinstance(order, Entry):
            plans.append(OrderPlan(side=order.side, stop_loss=order.stop_loss, take_profit=order.take_profit, **common))
        else:
            plans.append(OrderPlan(side=L, reduce_only=True, **common))  # the scenarios close longs only
    return plans


def _snapshot(coin_symbol: str, now, before: float, price: float) -> Snapshot:
    """The 3m candle that closed at ``now``: from the last tick's price to this one."""
    start = int((now - TICK).timestamp() * 1000)
    candle = [start, before, max(before, price), min(before, price), price, 1.0]
    market = CoinMarket(
        coin="BTC",
        info=MarketInfo(symbol=coin_symbol, amount_step=0.001, price_step=0.1),
        candles_3m=np.array([candle], dtype=float),
        candles_4h=np.empty((0, 6)),
        last_price=price,
        funding_rate=0.0,
    )
    return Snapshot(as_of=now, coins={"BTC": market})


@dataclass
class _Venue:
    id: str
    server: type
    quote: str = "USDT"
    key: str = "test-key"
    secret: str = "test-secret"
    orders_path: str = "/fapi/v1/order"
    order_type: str = "MARKET"  # the fault hits the entry only
    trades_path: str = "/fapi/v1/userTrades"
    trades_type: str | None = None


VENUES = {
    "binanceusdm": _Venue("binanceusdm", FakeExchange),
    "hyperliquid": _Venue(
        "hyperliquid",
        FakeHyperliquid,
        "USDC",
        WALLET,
        "0x" + "42" * 32,
        orders_path="/exchange",
        order_type="order",
        trades_path="/info",
        trades_type="userFills",
    ),
    "bybit": _Venue(
        "bybit", FakeBybit, orders_path="/v5/order/create", order_type="order", trades_path="/v5/execution/list"
    ),
}


@dataclass
class _Run:
    """One broker through a scenario's ticks; ``fills`` and ``alerts`` collect what it said."""

    book: BotState = field(
        default_factory=lambda: BotState(
            initial_equity_usd=START_USD, cash_usd=START_USD, last_equity_usd=START_USD, peak_equity_usd=START_USD
        )
    )
    fills: list = field(default_factory=list)
    alerts: list = field(default_factory=list)


async def _play(broker, run: _Run, ticks: list[Tick], *, symbol: str, before_tick=None, after_tick=None) -> None:
    price = ticks[0].price
    for n, tick in enumerate(ticks):
        now = NOW + n * TICK
        if before_tick:
            before_tick(now, tick)
        snapshot = _snapshot(symbol, now, price, tick.price)
        run.fills += await broker.settle(book=run.book, snapshot=snapshot, now=now)
        run.fills += await broker.execute(_plans(tick, now, symbol), book=run.book, prices={"BTC": tick.price}, now=now)
        run.alerts += [c.kind for c in broker.corrections if c.alert]
        broker.corrections.clear()  # as the tick takes them
        if after_tick:
            after_tick(run.book)
        price = tick.price


def _paper(ticks: list[Tick]) -> _Run:
    run = _Run()
    broker = PaperBroker(PaperSettings(taker_fee_pct=TAKER_FEE * 100, slippage_pct=0.0))
    asyncio.run(_play(broker, run, ticks, symbol="BTC/USDT:USDT"))
    return run


def _live(venue: _Venue, ticks: list[Tick]) -> _Run:
    run = _Run()
    with venue.server(data_dir(), now=NOW, coins=("BTC",)) as fake:
        settings = Settings(
            enable_trading=True,
            exchange={"id": venue.id, "api_url": fake.url, "timeout_ms": 2000, "retries": 1},
            trading={"coins": ["BTC"], "quote": venue.quote},
            live={"confirm": LIVE_CONFIRMATION},
            exchange_api_key=venue.key,
            exchange_secret=venue.secret,
        )

        def before_tick(now, tick: Tick) -> None:
            fake.clear_faults()
            fake.now_ms = int(now.timestamp() * 1000)
            fake.set_price("BTC", tick.price)  # the exchange's stops see it between the ticks
            if tick.fault:
                fake.inject(tick.fault, path=venue.orders_path, method="POST", order_type=venue.order_type, times=1)
            if tick.answer:
                fake.account.entry_answers.append(tick.answer)
            if tick.trades_fail:
                fake.inject("500", path=venue.trades_path, order_type=venue.trades_type)
            if tick.outside == "leverage at 3x":
                fake.account.leverage["BTC"] = 3
            elif tick.outside == "0.02 added by hand":
                with fake._lock:
                    fake.account.open_by_hand("BTC", "BUY", 0.02)

        def protected(book: BotState) -> None:
            """After every tick: the held size, and no other, carries the book's stop-loss and take-profit."""
            held = book.positions.get("BTC")
            legs = sorted((o.type, o.quantity, o.trigger_price) for o in fake.account.open_algo("BTC"))
            wanted = (
                sorted(
                    (kind, held.amount, level)
                    for kind, level in (("STOP_MARKET", held.stop_loss), ("TAKE_PROFIT_MARKET", held.take_profit))
                    if level is not None
                )
                if held
                else []
            )
            assert legs == [(k, pytest.approx(a, abs=1e-12), pytest.approx(t)) for k, a, t in wanted], legs

        async def main() -> None:
            broker = CcxtBroker(settings, save=lambda book: None)
            try:
                await _play(
                    broker,
                    run,
                    ticks,
                    symbol=f"BTC/{venue.quote}:{venue.quote}",
                    before_tick=before_tick,
                    after_tick=protected,
                )
            finally:
                await broker.aclose()

        asyncio.run(main())
        # Every id the bot sent has the venue's shape and reached the exchange once (a lost
        # answer is looked up, never sent again), and the book agrees with the exchange.
        profile = profile_for(venue.id)
        sent = [o.client_id for o in fake.account.orders if is_bot_order(o.client_id)]
        assert all(valid_client_id(profile, cid) for cid in sent) and len(sent) == len(set(sent)), sent
        assert run.book.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)
        assert len(fake.requests) <= 30 * len(ticks), len(fake.requests)  # bounded: no retry loop
        # Bybit: a lookup names the order by orderLinkId alone (an orderId, even empty, may win over it)
        assert not any("orderId" in r.params for r in fake.requests if r.path == "/v5/order/realtime")
        on_exchange = fake.account.positions.get("BTC")
        in_book = run.book.positions.get("BTC")
        assert (abs(on_exchange.amount) if on_exchange else 0.0) == pytest.approx(
            in_book.amount if in_book else 0.0, abs=1e-12
        )
    return run


BROKERS = ["paper", *VENUES]


def _cases():
    for scenario in SCENARIOS:
        for broker in BROKERS:
            reason = NOT_APPLICABLE.get((scenario, broker))
            marks = [pytest.mark.skip(reason=f"not applicable: {reason}")] if reason else []
            yield pytest.param(scenario, broker, id=f"{scenario}-{broker}", marks=marks)


@pytest.mark.parametrize("scenario, broker", list(_cases()))
def test_the_book_after_each_scenario(scenario, broker):
    ticks, expected = SCENARIOS[scenario]
    run = _paper(ticks) if broker == "paper" else _live(VENUES[broker], ticks)
    book = run.book
    assert book.cash_usd == pytest.approx(expected.cash_usd, abs=1e-6)
    assert book.fees_paid_usd == pytest.approx(expected.fees_usd, abs=1e-6)
    assert book.realized_pnl_usd == pytest.approx(expected.realized_usd, abs=1e-6)
    assert tuple(f.reason for f in run.fills) == expected.reasons
    fill_fees = expected.fees_usd if expected.fill_fees_usd is None else expected.fill_fees_usd
    assert sum(f.fee_usd for f in run.fills) == pytest.approx(fill_fees, abs=1e-6)
    assert sum(f.realized_pnl_usd for f in run.fills) == pytest.approx(expected.realized_usd, abs=1e-6)
    held = book.positions.get("BTC")
    if expected.position is None:
        assert held is None
    else:
        side, amount, entry, margin = expected.position
        assert (held.side, held.amount) == (side, pytest.approx(amount, abs=1e-12))
        assert held.entry_price == pytest.approx(entry, abs=1e-6)
        assert held.margin_usd == pytest.approx(margin, abs=1e-6)
    assert (run.alerts[0] if run.alerts else None) == expected.correction
    assert book.pending_intents == []
