"""Skipping quiet ticks changes nothing: on the bundled sample the report of a rules
backtest with the skip plan is the same JSON, byte for byte, as the full pass's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.backtest.loop import run_backtest
from bot.backtest.recorder import _Recorder
from bot.backtest.report import build_report
from bot.backtest.skip import SkipPlan
from bot.clock import TICK
from bot.config import Settings
from bot.models import Position, RiskMemory, Side
from bot.ops.state import BotState
from bot.strategies.rules import RulesStrategy
from bot.tick.indicators import PrecomputedFeatures
from bot.venues.history import HistoryMarket

COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]
START = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the sample's first tick with 500 closed candles


def _run(settings: Settings, market: HistoryMarket, *, skip: bool, counter: list[int]):
    _, end = market.span(settings.trading.coins)
    strategy = RulesStrategy(settings.rules, paper=settings.paper)
    calls = strategy.decide

    async def counted(**kwargs):  # how many ticks ran the strategy: the skip must run fewer
        counter.append(1)
        return await calls(**kwargs)

    strategy.decide = counted
    return asyncio.run(run_backtest(settings, market=market, strategy=strategy, start=START, end=end, skip=skip))


@pytest.mark.parametrize(
    ("coins", "rules", "risk", "exits"),
    [
        (COINS, {}, {}, {"decision", "end_of_backtest"}),
        (COINS, {"stop_atr": 0.5, "reward_risk": 1.5}, {}, {"decision", "stop_loss", "take_profit", "end_of_backtest"}),
        (COINS, {"stop_atr": 0.2, "reward_risk": 1.5}, {}, {"decision", "stop_loss", "take_profit"}),
        (COINS, {"stop_atr": 3.0, "reward_risk": 4.0, "size_pct": 30.0}, {}, {"decision", "end_of_backtest"}),
        (COINS, {"leverage": 1.0, "sentiment_filter": False}, {}, {"decision", "end_of_backtest"}),
        # the daily-loss latch trips on a quiet tick's equity: that tick runs
        (
            COINS,
            {"stop_atr": 0.3, "size_pct": 40.0, "leverage": 10.0},
            {"daily_loss_limit_pct": 1.0},
            {"decision", "stop_loss", "take_profit"},
        ),
        (["BTC"], {"stop_atr": 1.0, "reward_risk": 2.0, "leverage": 5.0}, {}, {"decision", "end_of_backtest"}),
    ],
)
def test_gh37_1_skip_and_full_pass_give_the_same_report(coins, rules, risk, exits):
    """Each case's exits name what it exercises: stops and take-profits inside a skipped
    span, closes by decision, positions still open at the end."""
    settings = Settings.model_validate({"trading": {"coins": coins}, "rules": rules, "risk": risk})
    market = HistoryMarket()
    ran_full, ran_skip = [], []
    full = _run(settings, market, skip=False, counter=ran_full)
    skipped = _run(settings, market, skip=True, counter=ran_skip)
    assert build_report(skipped).model_dump_json() == build_report(full).model_dump_json()
    assert skipped.equity_usd.tolist() == full.equity_usd.tolist()
    assert skipped.exposed.tolist() == full.exposed.tolist()
    assert skipped.times_ms.tolist() == full.times_ms.tolist()
    assert skipped.trades == full.trades and {trade.exit_reason for trade in full.trades} == exits
    assert skipped.funding_received_usd == full.funding_received_usd != 0.0
    assert len(ran_skip) < len(ran_full)  # ticks were skipped


@pytest.mark.parametrize(("limit_pct", "quiet"), [(5.0, False), (10.0, True)])
def test_gh37_1_a_quiet_tick_that_would_trip_the_daily_loss_limit_runs(limit_pct, quiet):
    """BTC long 1.0 bought 600 USD above the 5th tick's close: equity 10,000 - 600 = 9,400,
    6 % below the day's start. A 5 % limit trips there: the tick must run (nothing booked);
    at 10 % it is booked as the full pass books it."""
    settings = Settings.model_validate({"trading": {"coins": ["BTC"]}, "risk": {"daily_loss_limit_pct": limit_pct}})
    market = HistoryMarket()
    candles = market.candles("BTC")
    features = PrecomputedFeatures({"BTC": candles})
    plan = SkipPlan(
        settings, market=market, features=features, may_act=RulesStrategy(settings.rules).may_act, start=START, total=9
    )
    now = START + 5 * TICK
    (row,) = [row for row in candles["3m"] if row[0] == (now - TICK).timestamp() * 1000]  # the candle closed at 5
    state = BotState.fresh(mode="backtest", initial_equity_usd=10_000.0)
    state.positions["BTC"] = Position(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=Side.LONG,
        amount=1.0,
        entry_price=float(row[4]) + 600.0,
        leverage=20,
        margin_usd=5_000.0,
        opened_at=START,
    )
    state.risk = RiskMemory(day=now.date(), day_start_equity_usd=10_000.0)
    recorder = _Recorder(10_000.0)
    assert plan.pass_quietly(5, state, recorder) is quiet
    if quiet:
        assert recorder.equity == [pytest.approx(9_400.0, abs=1e-9)] and recorder.exposed == [True]
        assert (state.tick, state.last_equity_usd, state.peak_equity_usd) == (1, recorder.equity[0], 10_000.0)
        assert state.last_prices == {"BTC": float(row[4])} and state.risk.halted_day is None
    else:
        assert recorder.equity == [] and recorder.times_ms == [] and state.tick == 0
        assert state.last_equity_usd == 10_000.0 and state.last_prices == {}
