"""Paper broker: fills with slippage and fees, isolated margin and liquidation, SL/TP from candles,
funding (8-hourly or the venue's interval), the builder fee."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.config import PaperSettings
from bot.models import CoinMarket, FillReason, MarketInfo, OrderPlan, Side, Snapshot
from bot.ops.state import BotState
from bot.venues.paper import PaperBroker, funding_times_ms
from bot.venues.profiles import builder_fee_pct

NOW = datetime(2025, 6, 3, 12, tzinfo=UTC)
BROKER = PaperBroker(PaperSettings(taker_fee_pct=0.05, slippage_pct=0.02))


def _plan(coin, side, amount, price, *, reduce_only=False, leverage=3):
    return OrderPlan(
        coin=coin,
        symbol=f"{coin}/USDT:USDT",
        side=side,
        amount=amount,
        reference_price=price,
        leverage=leverage,
        reduce_only=reduce_only,
        client_order_id=f"bot-x-{coin}-{'close' if reduce_only else 'entry'}",
    )


def _execute(book, plan, price):
    return asyncio.run(BROKER.execute([plan], book=book, prices={plan.coin: price}, now=NOW))[0]


# -- settle: triggers and funding from the candles since the last tick ------------------

BTC_INFO = MarketInfo(symbol="BTC/USDT:USDT", amount_step=0.001, price_step=0.1)
M3 = timedelta(minutes=3)


def _snapshot(start, rows, *, funding_rate=0.0, coin="BTC"):
    """3m candles opening at ``start``, ``start`` + 3m, ...; the snapshot is taken as the last one closes."""
    candles = np.array([[(start + i * M3).timestamp() * 1000, *row, 1.0] for i, row in enumerate(rows)])
    market = CoinMarket(
        coin=coin,
        info=BTC_INFO,
        candles_3m=candles,
        candles_4h=np.empty((0, 6)),
        last_price=rows[-1][3],
        funding_rate=funding_rate,
    )
    return Snapshot(as_of=start + len(rows) * M3, coins={coin: market})


def _open(side, *, amount=0.1, price=100_000.0, leverage=10, stop_loss=None, take_profit=None, at=NOW, cash=10_000.0):
    book = BotState.fresh(mode="paper", initial_equity_usd=cash)
    plan = OrderPlan(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=side,
        amount=amount,
        reference_price=price,
        leverage=leverage,
        stop_loss=stop_loss,
        take_profit=take_profit,
        client_order_id="bot-x-BTC-entry",
    )
    asyncio.run(BROKER.execute([plan], book=book, prices={"BTC": price}, now=at))
    return book


def _settle(book, snapshot):
    return asyncio.run(BROKER.settle(book=book, snapshot=snapshot, now=snapshot.as_of))


# Long 0.1 BTC entered at 100,020 (100,000 + 0.02 % slippage) at 10x: SL 98,000, TP 104,000,
# liquidation 90,470.35. Each candle row: open, high, low, close.
LONG_CASES = {
    "stop-loss hit intrabar": (
        [
            (100_000, 100_500, 99_500, 100_100),  # nothing
            (100_100, 100_200, 97_900, 98_200),
        ],  # low 97,900 crosses the stop at 98,000
        FillReason.STOP_LOSS,
        98_000 * 0.9998,
        2,  # sells 0.02 % under the stop, at the candle's close
    ),
    "take-profit hit intrabar": (
        [(100_000, 104_100, 99_900, 104_000)],  # high 104,100 crosses the TP at 104,000
        FillReason.TAKE_PROFIT,
        104_000 * 0.9998,
        1,
    ),
    "both in one candle: the stop-loss first": (
        [(100_000, 104_500, 97_500, 100_000)],  # range covers both SL and TP
        FillReason.STOP_LOSS,
        98_000 * 0.9998,
        1,
    ),
    "a gap through the stop fills at the open": (
        [
            (100_000, 100_100, 99_000, 99_000),  # nothing
            (97_000, 97_500, 96_500, 97_200),
        ],  # opens at 97,000, below the stop
        FillReason.STOP_LOSS,
        97_000 * 0.9998,
        1,  # stamped at the candle's open
    ),
    "a gap through the take-profit fills at the (better) open": (
        [(105_000, 105_500, 104_800, 105_100)],  # opens above the TP
        FillReason.TAKE_PROFIT,
        105_000 * 0.9998,
        0,
    ),
}


# Short 0.1 BTC entered at 99,980 at 10x: SL 102,000, TP 96,000, liquidation 109,430.85.
SHORT_CASES = {
    "short stopped out: loss": ([(100_000, 102_100, 99_900, 101_900)], FillReason.STOP_LOSS, 102_000 * 1.0002, -204.04),
    "short take-profit: profit": (
        [(100_000, 100_100, 95_900, 96_100)],
        FillReason.TAKE_PROFIT,
        96_000 * 1.0002,
        396.08,
    ),
}


FUNDING_AT = datetime(2025, 6, 3, 16, tzinfo=UTC)

HOUR = 3_600_000


def test_long_round_trip_with_profit():
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    entry = _execute(book, _plan("BTC", Side.LONG, 0.03, 100_000), 100_000)
    # buy fills 0.02 % higher: 100,020; fee 0.05 % of 0.03 x 100,020 = 1.5003
    assert entry.price == pytest.approx(100_020.0)
    assert entry.fee_usd == pytest.approx(1.5003)
    assert book.cash_usd == pytest.approx(9_998.4997)
    assert book.positions["BTC"].margin_usd == pytest.approx(1_000.2)
    exit_ = _execute(book, _plan("BTC", Side.LONG, 0.03, 101_000, reduce_only=True), 101_000)
    # sell fills 0.02 % lower: 100,979.8; PnL (100,979.8 - 100,020) x 0.03 = 28.794; fee 1.514697
    assert exit_.price == pytest.approx(100_979.8)
    assert exit_.realized_pnl_usd == pytest.approx(28.794)
    assert exit_.fee_usd == pytest.approx(1.514697)
    assert book.cash_usd == pytest.approx(10_025.779003)
    assert book.positions == {}
    assert book.fees_paid_usd == pytest.approx(3.014997)
    assert book.realized_pnl_usd == pytest.approx(28.794)


def test_short_round_trip_with_profit_when_price_falls():
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    entry = _execute(book, _plan("ETH", Side.SHORT, 1.0, 2_500), 2_500)
    assert entry.price == pytest.approx(2_499.5)  # a sell fills lower
    exit_ = _execute(book, _plan("ETH", Side.SHORT, 1.0, 2_400, reduce_only=True), 2_400)
    assert exit_.price == pytest.approx(2_400.48)  # closing a short buys, higher
    assert exit_.realized_pnl_usd == pytest.approx(99.02)
    assert book.cash_usd == pytest.approx(10_000 - 1.24975 + 99.02 - 1.20024)


def test_long_loses_when_price_falls():
    book = BotState.fresh(mode="paper", initial_equity_usd=1_000)
    _execute(book, _plan("SOL", Side.LONG, 10, 150), 150)  # fills 150.03, fee 0.750150
    exit_ = _execute(book, _plan("SOL", Side.LONG, 10, 140, reduce_only=True), 140)  # fills 139.972
    assert exit_.realized_pnl_usd == pytest.approx((139.972 - 150.03) * 10)
    assert book.cash_usd == pytest.approx(1_000 - 0.75015 - 100.58 - 0.69986)


def test_an_entry_gets_its_isolated_liquidation_price():
    long = _open(Side.LONG).positions["BTC"]
    # entry 100,020, margin 10,002 / 10 = 1,000.2; liquidation (10,002 - 1,000.2) / (0.1 x (1 - 0.005))
    assert long.margin_usd == pytest.approx(1_000.2)
    assert long.liquidation_price == pytest.approx(90_470.351758, abs=1e-6)
    short = _open(Side.SHORT).positions["BTC"]
    # entry 99,980, margin 999.8; liquidation (9,998 + 999.8) / (0.1 x (1 + 0.005))
    assert short.liquidation_price == pytest.approx(109_430.845771, abs=1e-6)
    assert _open(Side.LONG, leverage=1).positions["BTC"].liquidation_price is None  # a 1x long cannot be liquidated


def test_gh16_3_paper_liquidates_at_the_bracket_price_with_its_maintenance_amount():
    # 200 at 100 (no slippage or fee here), 10x: 2,000 margin, 20,000 notional in the bracket
    # MMR 2.5 %, cum 75: LP = (2,000 + 75 - 20,000) / (200 x 0.025 - 200) = 17,925 / 195 = 91.923077.
    # A flat 0.5 % priced it at 18,000 / 199 = 90.452 and a low of 91.90 left it open.
    broker = PaperBroker(PaperSettings(taker_fee_pct=0, slippage_pct=0))
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    plan = OrderPlan(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        amount=200,
        reference_price=100,
        leverage=10,
        maintenance_margin_rate=0.025,
        maintenance_amount_usd=75,
        client_order_id="bot-x-BTC-entry",
    )
    asyncio.run(broker.execute([plan], book=book, prices={"BTC": 100.0}, now=NOW))
    assert book.positions["BTC"].liquidation_price == pytest.approx(91.923077, abs=1e-6)
    [fill] = asyncio.run(broker.settle(book=book, snapshot=_snapshot(NOW, [(100, 100.5, 91.90, 92.5)]), now=NOW + M3))
    assert fill.reason is FillReason.LIQUIDATION and fill.realized_pnl_usd == pytest.approx(-2_000)


@pytest.mark.parametrize("rows, reason, price, closes_after", LONG_CASES.values(), ids=LONG_CASES.keys())
def test_long_exits_from_the_candles_since_the_last_tick(rows, reason, price, closes_after):
    book = _open(Side.LONG, stop_loss=98_000, take_profit=104_000)
    [fill] = _settle(book, _snapshot(NOW, rows))
    assert fill.reason is reason and fill.reduce_only and book.positions == {}
    assert fill.price == pytest.approx(price, abs=1e-6)
    assert fill.at == NOW + closes_after * M3
    pnl = (price - 100_020) * 0.1
    fee = 0.1 * price * 0.0005
    assert fill.realized_pnl_usd == pytest.approx(pnl, abs=1e-6) and fill.fee_usd == pytest.approx(fee, abs=1e-9)
    assert book.cash_usd == pytest.approx(10_000 - 5.001 + pnl - fee, abs=1e-6)  # entry fee 0.1 x 100,020 x 0.05 %


@pytest.mark.parametrize("rows, reason, price, pnl", SHORT_CASES.values(), ids=SHORT_CASES.keys())
def test_short_exits_buy_back_with_slippage_against_them(rows, reason, price, pnl):
    book = _open(Side.SHORT, stop_loss=102_000, take_profit=96_000)
    [fill] = _settle(book, _snapshot(NOW, rows))
    # (99,980 - 102,020.4) x 0.1 = -204.04; (99,980 - 96,019.2) x 0.1 = +396.08
    assert fill.reason is reason and fill.price == pytest.approx(price) and fill.realized_pnl_usd == pytest.approx(pnl)


@pytest.mark.parametrize(
    "rows, at",
    [
        ([(100_000, 100_100, 90_400, 90_500)], NOW + M3),  # no stop: the low crosses liquidation (90,470.35)
        (
            [(100_000, 100_100, 99_000, 99_500), (89_000, 89_500, 88_000, 88_500)],
            NOW + M3,
        ),  # a gap past it, stop or not
    ],
    ids=["intrabar without a stop-loss", "gap past liquidation"],
)
def test_liquidation_loses_the_whole_margin_and_no_more(rows, at):
    book = _open(Side.LONG, stop_loss=None if len(rows) == 1 else 98_000)
    if len(rows) == 2:
        book.positions["BTC"].stop_loss = 92_000  # below the first candle's low, above liquidation
    [fill] = _settle(book, _snapshot(NOW, rows))
    assert fill.reason is FillReason.LIQUIDATION and fill.at == at
    # bankruptcy price 100,020 - 1,000.2 / 0.1 = 90,018: the loss is exactly the margin, no fee
    assert (
        fill.price == pytest.approx(90_018.0) and fill.realized_pnl_usd == pytest.approx(-1_000.2) and fill.fee_usd == 0
    )
    assert book.cash_usd == pytest.approx(10_000 - 5.001 - 1_000.2)


@pytest.mark.parametrize(
    "side, rate, paid",
    [
        (Side.LONG, 0.0001, -1.0),  # positive rate: longs pay 0.01 % x 0.1 x 100,000
        (Side.SHORT, 0.0001, 1.0),  # ... to shorts
        (Side.LONG, -0.0002, 2.0),  # negative rate: shorts pay longs
        (Side.SHORT, -0.0002, -2.0),
    ],
)
def test_funding_is_settled_at_16_utc_on_the_notional_at_that_time(side, rate, paid):
    opened = FUNDING_AT - 2 * M3
    book = _open(side, at=opened)
    cash = book.cash_usd
    rows = [
        (100_000, 100_050, 99_950, 99_990),  # 15:54
        (99_990, 100_050, 99_950, 100_000),  # 15:57, closes at 16:00: funding is valued at this close
        (100_000, 100_050, 99_950, 100_010),
    ]  # 16:00
    assert _settle(book, _snapshot(opened, rows, funding_rate=rate)) == []
    [payment] = book.funding_payments
    assert payment.at == FUNDING_AT and payment.rate == rate and payment.price == 100_000
    assert payment.amount_usd == pytest.approx(paid)
    assert book.cash_usd == pytest.approx(cash + paid) and book.funding_usd == pytest.approx(paid)
    assert book.positions["BTC"].funding_usd == pytest.approx(paid)
    assert book.positions["BTC"].settled_until == FUNDING_AT + M3
    assert (
        _settle(book, _snapshot(opened, rows, funding_rate=rate)) == [] and book.funding_payments == []
    )  # never twice


def test_a_tick_after_a_long_pause_settles_every_funding_then_the_trigger_in_order():
    book = _open(Side.LONG, stop_loss=98_000, take_profit=104_000)  # opened 12:00
    cash = book.cash_usd
    quiet = (100_000, 100_050, 99_950, 100_000)
    rows = (
        [quiet] * 240 + [(100_000, 104_200, 99_950, 104_100)] + [quiet] * 9
    )  # 12:00 .. 00:30; the TP candle opens at 00:00
    fills = _settle(book, _snapshot(NOW, rows, funding_rate=0.0001))
    # funding at 16:00 and at 00:00 (before the candle opening at 00:00 takes profit): 1 USD paid each
    assert [p.at.strftime("%d %H:%M") for p in book.funding_payments] == ["03 16:00", "04 00:00"]
    assert [p.amount_usd for p in book.funding_payments] == pytest.approx([-1.0, -1.0])
    [fill] = fills
    assert fill.reason is FillReason.TAKE_PROFIT and fill.at == datetime(2025, 6, 4, 0, 3, tzinfo=UTC)
    pnl, fee = (103_979.2 - 100_020) * 0.1, 0.1 * 103_979.2 * 0.0005
    assert book.cash_usd == pytest.approx(cash - 2.0 + pnl - fee) and book.positions == {}


def test_a_position_opened_added_to_and_closed_over_several_ticks():
    book = _open(
        Side.LONG, amount=0.1, leverage=5, stop_loss=95_000, take_profit=110_000
    )  # 12:00: 100,020, fee 5.001, margin 2,000.4
    quiet = [(100_000, 100_100, 99_900, 101_000)]
    assert _settle(book, _snapshot(NOW, quiet)) == []  # 12:03: nothing triggers
    assert book.positions["BTC"].entry_tick_id == "250603T1200"
    add = OrderPlan(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        amount=0.1,
        reference_price=101_000,
        leverage=5,
        stop_loss=97_000,
        take_profit=112_000,
        client_order_id="bot-y-BTC-add",
    )
    [fill] = asyncio.run(BROKER.execute([add], book=book, prices={"BTC": 101_000}, now=NOW + M3))
    # adds 0.1 at 101,020.2 (fee 5.05101): entry averages to 100,520.1, margin 2,000.4 + 2,020.404
    position = book.positions["BTC"]
    assert fill.price == pytest.approx(101_020.2) and fill.fee_usd == pytest.approx(5.05101)
    assert position.amount == pytest.approx(0.2) and position.entry_price == pytest.approx(100_520.1)
    assert position.margin_usd == pytest.approx(4_020.804)
    assert position.stop_loss == 97_000 and position.take_profit == 112_000  # the add's exit plan replaces the old one
    assert position.entry_tick_id == "250603T1203"  # the tick that last opened it: a re-run of it opens nothing more
    # (0.2 x 100,520.1 - 4,020.804) / (0.2 x 0.995)
    assert position.liquidation_price == pytest.approx(80_820.180905, abs=1e-6)
    assert _settle(book, _snapshot(NOW + M3, [(101_000, 101_500, 100_500, 101_200)])) == []  # 12:06
    close = add.model_copy(update={"reduce_only": True, "amount": 0.2, "client_order_id": "bot-z-BTC-close"})
    [closed] = asyncio.run(BROKER.execute([close], book=book, prices={"BTC": 102_000}, now=NOW + 2 * M3))
    # sells at 101,979.6: PnL (101,979.6 - 100,520.1) x 0.2 = 291.9, fee 0.2 x 101,979.6 x 0.05 % = 10.19796
    assert closed.realized_pnl_usd == pytest.approx(291.9) and closed.fee_usd == pytest.approx(10.19796)
    assert book.positions == {}
    assert book.cash_usd == pytest.approx(10_000 - 5.001 - 5.05101 + 291.9 - 10.19796)
    assert book.fees_paid_usd == pytest.approx(5.001 + 5.05101 + 10.19796)


def test_a_coin_missing_from_the_snapshot_is_settled_when_it_returns():
    book = _open(Side.LONG, stop_loss=98_000, take_profit=104_000)
    assert _settle(book, Snapshot(as_of=NOW + M3, coins={})) == []
    assert book.positions["BTC"].settled_until == NOW  # nothing booked, nothing skipped
    rows = [(100_000, 100_100, 99_900, 100_000), (100_000, 100_100, 97_000, 97_500)]
    [fill] = _settle(book, _snapshot(NOW, rows))
    assert fill.reason is FillReason.STOP_LOSS and fill.at == NOW + 2 * M3


def test_gh16_7_a_settlement_without_a_rate_is_not_charged_and_says_so():
    broker = PaperBroker(PaperSettings(taker_fee_pct=0.05, slippage_pct=0.02))
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000)
    opened = FUNDING_AT - 2 * M3
    plan = OrderPlan(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        amount=0.1,
        reference_price=100_000,
        leverage=10,
        client_order_id="e",
    )
    asyncio.run(broker.execute([plan], book=book, prices={"BTC": 100_000.0}, now=opened))
    cash = book.cash_usd
    rows = [(100_000, 100_050, 99_950, 99_990), (99_990, 100_010, 99_900, 100_000), (100_000, 100_100, 99_990, 100_050)]
    asyncio.run(broker.settle(book=book, snapshot=_snapshot(opened, rows, funding_rate=None), now=opened + 3 * M3))
    assert book.cash_usd == cash and book.funding_payments == []
    [correction] = broker.corrections
    assert correction.kind == "funding_unknown" and correction.alert and correction.coin == "BTC"
    assert (
        correction.message
        == "funding at 2025-06-03 16:00 UTC not charged: no funding rate for BTC (a data folder needs funding_8h/)"
    )


def test_settlement_walks_only_the_candles_since_the_entry_when_a_candle_is_missing():
    # Long entered at NOW (SL 98,000). The candle before the entry dips below the stop (it
    # must not count), the one opening at NOW + 3m is missing, the one at NOW + 6m crosses it.
    book = _open(Side.LONG, stop_loss=98_000.0)
    rows = [
        (NOW - M3, 100_000, 100_100, 97_000, 100_000),
        (NOW, 100_000, 100_200, 99_800, 100_000),
        (NOW + 2 * M3, 100_000, 100_100, 97_900, 98_500),
    ]
    candles = np.array([[at.timestamp() * 1000, *prices, 1.0] for at, *prices in rows])
    market = CoinMarket(
        coin="BTC",
        info=BTC_INFO,
        candles_3m=candles,
        candles_4h=np.empty((0, 6)),
        last_price=98_500.0,
        funding_rate=0.0,
    )
    [fill] = _settle(book, Snapshot(as_of=NOW + 3 * M3, coins={"BTC": market}))
    assert (
        fill.reason is FillReason.STOP_LOSS and fill.at == NOW + 3 * M3
    )  # the close of the candle opening at NOW + 6m
    assert fill.price == pytest.approx(98_000 * 0.9998)


def test_builder_fee_is_charged_in_paper_only_when_the_owner_opted_in():
    assert builder_fee_pct("hyperliquid", opted_in=False) == 0.0
    assert builder_fee_pct("hyperliquid", opted_in=True) == 0.01
    assert builder_fee_pct("binanceusdm", opted_in=True) == 0.0
    broker = PaperBroker(PaperSettings(taker_fee_pct=0.045, slippage_pct=0.0), builder_fee_pct=0.01)
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000.0)
    plan = OrderPlan(
        coin="BTC",
        symbol="BTC/USDC:USDC",
        side=Side.LONG,
        amount=0.1,
        reference_price=100_000.0,
        leverage=5,
        client_order_id="bot-x-BTC-entry",
    )
    [fill] = asyncio.run(
        broker.execute([plan], book=book, prices={"BTC": 100_000.0}, now=datetime(2025, 6, 3, 12, tzinfo=UTC))
    )
    assert fill.fee_usd == pytest.approx(10_000 * 0.00055)  # 0.1 BTC x 100,000 x (0.045 % + 0.01 %) = 5.50


def test_funding_times_follow_the_interval():
    start = 1_748_952_000_000  # 2025-06-03 12:00 UTC
    assert funding_times_ms(start, start + 3 * HOUR, interval_h=1.0) == [
        start + HOUR,
        start + 2 * HOUR,
        start + 3 * HOUR,
    ]
    assert funding_times_ms(start, start + 5 * HOUR, interval_h=8.0) == [start + 4 * HOUR]  # 16:00 only
    assert funding_times_ms(start, start + 5 * HOUR, interval_h=4.0) == [
        start + 4 * HOUR
    ]  # 16:00 (12:00 itself is not after start)


def test_an_hourly_market_is_charged_every_hour_in_paper():
    """Long 0.1 BTC at 100,000 from 12:00 to 15:00 on a 1 h market at +0.01 %: three
    settlements (13:00, 14:00, 15:00) of 0.0001 x 0.1 x 100,000 = 1 USD each; an 8 h market
    would have charged none."""
    opened = datetime(2025, 6, 3, 12, tzinfo=UTC)
    info = MarketInfo(symbol="BTC/USDC:USDC", amount_step=0.001, price_step=0.1, funding_interval_h=1.0)
    broker = PaperBroker(PaperSettings(taker_fee_pct=0.0, slippage_pct=0.0))
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000.0)
    plan = OrderPlan(
        coin="BTC",
        symbol=info.symbol,
        side=Side.LONG,
        amount=0.1,
        reference_price=100_000.0,
        leverage=5,
        client_order_id="bot-x-BTC-entry",
    )
    asyncio.run(broker.execute([plan], book=book, prices={"BTC": 100_000.0}, now=opened))
    candles = np.array(
        [[(opened + i * M3).timestamp() * 1000, 100_000, 100_050, 99_950, 100_000, 1.0] for i in range(61)]
    )  # to 15:03
    market = CoinMarket(
        coin="BTC",
        info=info,
        candles_3m=candles,
        candles_4h=np.empty((0, 6)),
        last_price=100_000.0,
        funding_rate=0.0001,
    )
    asyncio.run(
        broker.settle(book=book, snapshot=Snapshot(as_of=opened + 61 * M3, coins={"BTC": market}), now=opened + 61 * M3)
    )
    assert [p.at.hour for p in book.funding_payments] == [13, 14, 15]
    assert book.funding_usd == pytest.approx(-3.0) and book.cash_usd == pytest.approx(10_000.0 - 3.0)


def _with_settlements(snapshot, settlements):
    """The snapshot's BTC with the recorded settlements (hours since NOW, rate) a history market hands over."""
    market = snapshot.coins["BTC"]
    market.funding_rates = tuple((int(NOW.timestamp() * 1000) + hours * HOUR, rate) for hours, rate in settlements)
    market.funding_rate = market.funding_rates[-1][1]
    return snapshot


def test_gh36_1_each_settlement_after_a_pause_is_charged_its_own_rate():
    """Long 0.1 BTC from 12:00, settled at 00:30 the next day: 16:00 at +0.01 % pays
    0.0001 x 0.1 x 100,000 = 1.00; 00:00 at -0.02 % receives 0.0002 x 0.1 x 100,000 = 2.00.
    Before: both at the newest rate (-0.02 %): +2.00 and +2.00."""
    book = _open(Side.LONG)
    cash = book.cash_usd
    quiet = (100_000, 100_050, 99_950, 100_000)
    snapshot = _with_settlements(_snapshot(NOW, [quiet] * 250), [(-4, 0.0003), (4, 0.0001), (12, -0.0002)])
    assert _settle(book, snapshot) == []
    assert [(p.at.strftime("%d %H:%M"), p.rate) for p in book.funding_payments] == [
        ("03 16:00", 0.0001),
        ("04 00:00", -0.0002),
    ]
    assert [p.amount_usd for p in book.funding_payments] == pytest.approx([-1.0, 2.0])
    assert book.cash_usd == pytest.approx(cash + 1.0) and BROKER.corrections == []


def test_gh36_1_a_settlement_whose_newest_rate_is_an_earlier_settlements_is_not_charged_and_said():
    """The history ends at 08:00: the 16:00 settlement's newest rate is 8 h old, one whole
    interval (the 08:00 settlement's own). Before: charged at it, 1.00 USD paid, not a word."""
    book = _open(Side.LONG)
    cash = book.cash_usd
    quiet = (100_000, 100_050, 99_950, 100_000)
    snapshot = _with_settlements(_snapshot(NOW, [quiet] * 90), [(-4, 0.0001)])  # to 16:30
    assert _settle(book, snapshot) == [] and book.funding_payments == []
    assert book.cash_usd == cash and book.positions["BTC"].settled_until == NOW + 90 * M3
    [correction] = BROKER.corrections
    BROKER.corrections.clear()
    assert (correction.kind, correction.coin, correction.alert) == ("funding_stale", "BTC", True)
    assert correction.message == (
        "funding at 2025-06-03 16:00 UTC not charged: the newest BTC rate was settled at 2025-06-03 08:00 UTC, "
        "an earlier settlement's (the funding history ends there)"
    )


def test_gh36_4_funding_is_valued_at_the_close_of_the_candle_ending_at_the_settlement():
    """Long 0.1 BTC at +0.01 %: the 15:57 candle closes at 99,000, the 16:00 one opens at
    101,000 (both in the snapshot: a tick after a pause). Valued at the close, the price the
    16:00 tick sees: 0.0001 x 0.1 x 99,000 = 0.99 paid. Before: at the open, 1.01."""
    opened = FUNDING_AT - 2 * M3
    book = _open(Side.LONG, at=opened)
    rows = [
        (100_000, 100_050, 98_950, 99_500),  # 15:54
        (99_500, 99_550, 98_950, 99_000),  # 15:57, closes at 16:00: funding is valued at this close
        (101_000, 101_050, 100_950, 101_000),  # 16:00
        (101_000, 101_050, 100_950, 101_000),  # 16:03
    ]
    assert _settle(book, _snapshot(opened, rows, funding_rate=0.0001)) == []
    [payment] = book.funding_payments
    assert payment.price == 99_000 and payment.amount_usd == pytest.approx(-0.99)
