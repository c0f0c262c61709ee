"""Paper broker fills: slippage against the order, taker fee on every fill, exact PnL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.broker.paper import PaperBroker
from bot.config import PaperSettings
from bot.models import OrderPlan, Side
from bot.state import BotState

NOW = datetime(2025, 6, 3, 12, tzinfo=UTC)
BROKER = PaperBroker(PaperSettings(taker_fee_pct=0.05, slippage_pct=0.02))


def _plan(coin, side, amount, price, *, reduce_only=False, leverage=3):
    return OrderPlan(
        coin=coin, symbol=f"{coin}/USDT:USDT", side=side, amount=amount, reference_price=price, leverage=leverage,
        reduce_only=reduce_only, client_order_id=f"bot-x-{coin}-{'close' if reduce_only else 'entry'}",
    )


def _execute(book, plan, price):
    return asyncio.run(BROKER.execute([plan], book=book, prices={plan.coin: price}, now=NOW))[0]


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
