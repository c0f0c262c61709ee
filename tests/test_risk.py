"""Risk step: sizing, caps and rejections, with hand-worked numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import RiskSettings
from bot.models import Action, Decision, MarketInfo, Position, ReturnStats, Side, Verdict
from bot.portfolio import portfolio_of
from bot.risk import client_order_id, review

BTC = MarketInfo(symbol="BTC/USDT:USDT", amount_step=0.001, price_step=0.1, min_amount=0.001, min_notional_usd=100)
ETH = MarketInfo(symbol="ETH/USDT:USDT", amount_step=0.001, price_step=0.01, min_amount=0.001, min_notional_usd=20)
MARKETS = {"BTC": BTC, "ETH": ETH}
PRICES = {"BTC": 100_000.0, "ETH": 2_500.0}


def _portfolio(positions=None, cash=10_000.0):
    return portfolio_of(cash_usd=cash, positions=positions or {}, prices=PRICES, initial_equity_usd=10_000.0, stats=ReturnStats())


def _decide(coin="BTC", action=Action.BUY, **fields):
    values = dict(confidence=0.8, size_pct=10, leverage=3, stop_loss=98_000, take_profit=104_000)
    values.update(fields)
    return Decision(coin=coin, action=action, **values)


DEFAULT_RISK = RiskSettings()


def _review(*decisions, positions=None, settings=DEFAULT_RISK):
    return review(list(decisions), portfolio=_portfolio(positions), markets=MARKETS, settings=settings, tick_id="250603T1200")


def test_margin_is_size_pct_of_available_and_notional_margin_times_leverage():
    [verdict] = _review(_decide())
    # 10 % of 10,000 = 1,000 margin; x3 = 3,000 notional; / 100,000 = 0.030 BTC.
    assert verdict.verdict is Verdict.APPROVED
    assert verdict.plan.amount == 0.03
    assert verdict.plan.side is Side.LONG
    assert verdict.plan.stop_loss == 98_000 and verdict.plan.take_profit == 104_000
    assert verdict.plan.client_order_id == "bot-250603T1200-BTC-entry"
    assert verdict.reason == "margin 1000.00 USD x 3 = 3000.00 USD notional"


def test_amount_is_rounded_down_to_the_lot_step():
    [verdict] = _review(_decide(size_pct=7.77))
    # 777 x 3 / 100,000 = 0.02331 -> 0.023 (never round up past the margin asked for)
    assert verdict.plan.amount == 0.023


def test_leverage_and_size_above_the_limits_are_cut():
    [verdict] = _review(_decide(size_pct=50, leverage=20), settings=RiskSettings(max_leverage=5, max_size_pct=25))
    assert verdict.verdict is Verdict.RESIZED
    assert verdict.reason == "leverage 20x cut to 5x; size 50% cut to 25%"
    # 25 % of 10,000 = 2,500 x 5 = 12,500 notional = 0.125 BTC
    assert verdict.plan.amount == 0.125 and verdict.plan.leverage == 5


@pytest.mark.parametrize(
    ("decision", "reason"),
    [
        (_decide(confidence=0.5), "confidence 0.50 below the minimum 0.55"),
        (_decide(size_pct=0.3), "order size 0 BTC below the market minimum 0.001"),
        (_decide("ETH", size_pct=0.05, leverage=3, stop_loss=2400, take_profit=2700), "order notional 15.00 USD below the market minimum 20 USD"),
        (_decide("SOL"), "no market data for this coin this tick"),
        (_decide(action=Action.CLOSE), "CLOSE without an open position"),
    ],
)
def test_rejections_carry_their_reason(decision, reason):
    [verdict] = _review(decision)
    assert verdict.verdict is Verdict.REJECTED
    assert verdict.plan is None
    assert verdict.reason == reason


def _btc_long():
    opened = datetime(2025, 6, 3, tzinfo=UTC)
    return {"BTC": Position(coin="BTC", symbol=BTC.symbol, side=Side.LONG, amount=0.02, entry_price=95_000, leverage=2, margin_usd=950, opened_at=opened)}


def test_close_plans_a_reduce_only_order_for_the_whole_position():
    [verdict] = _review(_decide(action=Action.CLOSE, confidence=0.1), positions=_btc_long())
    assert verdict.verdict is Verdict.APPROVED
    assert verdict.plan.reduce_only and verdict.plan.amount == 0.02 and verdict.plan.side is Side.LONG
    assert verdict.plan.client_order_id.endswith("-BTC-close")


def test_entry_on_a_coin_with_an_open_position_is_rejected():
    [verdict] = _review(_decide(action=Action.SELL), positions=_btc_long())
    assert verdict.verdict is Verdict.REJECTED
    assert verdict.reason == "a long position is already open (adding and flipping are not enabled)"


def test_later_entries_are_sized_from_what_earlier_ones_left_available():
    first, second = _review(_decide(size_pct=20), _decide("ETH", size_pct=20, stop_loss=2400, take_profit=2700))
    # BTC takes 2,000 margin; ETH gets 20 % of the remaining 8,000 = 1,600 x 3 / 2,500 = 1.92 ETH
    assert first.plan.amount == 0.06
    assert second.plan.amount == 1.92


def test_hold_gets_no_verdict_and_client_ids_fit_binance_limit():
    assert _review(_decide(action=Action.HOLD)) == []
    assert len(client_order_id("250603T1200", "1000SHIBX", "entry")) <= 36
