"""Report metrics against values worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.backtest.loop import Trade
from bot.backtest.report import (
    cagr_pct,
    curve_metrics,
    drawdown_pct,
    max_drawdown_duration_ms,
    profit_factor,
    sharpe,
    sortino,
    tick_returns,
    trade_metrics,
    win_rate_pct,
)
from bot.models import Side

T0 = datetime(2025, 6, 2, tzinfo=UTC)


def _trade(pnl: float, hours: float) -> Trade:
    return Trade(
        coin="BTC",
        side=Side.LONG,
        amount=1.0,
        entry_at=T0,
        entry_price=100.0,
        exit_at=T0 + timedelta(hours=hours),
        exit_price=101.0,
        exit_reason="decision",
        fees_usd=0.1,
        funding_received_usd=0.0,
        pnl_usd=pnl,
    )


def test_tick_returns_are_relative_changes():
    np.testing.assert_allclose(tick_returns(np.array([100.0, 110.0, 99.0])), [0.10, -0.10])


def test_sharpe_is_mean_over_sample_std_annualised_with_the_ticks_of_a_year():
    # returns 0.01, -0.01, 0.02: mean 0.00667, sample std sqrt(((1/3)^2 + (5/3)^2 + (4/3)^2) / 2) % = 1.5275 %
    returns = np.array([0.01, -0.01, 0.02])
    assert sharpe(returns, periods_per_year=1) == pytest.approx(0.0066667 / 0.0152753, rel=1e-4)
    assert sharpe(returns) == pytest.approx(0.0066667 / 0.0152753 * math.sqrt(175_200), rel=1e-4)
    assert sharpe(np.array([0.01, 0.01])) is None  # no variation: undefined, not infinite
    assert sharpe(np.array([0.01])) is None


def test_sortino_divides_by_the_root_mean_square_of_the_losses_over_all_ticks():
    # downside: min(r, 0) = 0, -0.01, 0 -> sqrt(0.0001 / 3) = 0.0057735; mean 0.0066667
    returns = np.array([0.01, -0.01, 0.02])
    assert sortino(returns, periods_per_year=1) == pytest.approx(0.0066667 / 0.0057735, rel=1e-4)
    assert sortino(np.array([0.01, 0.02])) is None  # never lost: undefined


def test_drawdown_and_its_duration():
    equity = np.array([100.0, 120.0, 90.0, 96.0, 120.0, 130.0, 117.0])
    times = np.arange(len(equity)) * 3_600_000  # hourly
    np.testing.assert_allclose(drawdown_pct(equity), [0, 0, 25.0, 20.0, 0, 0, 10.0])
    # peak at hour 1, back at it at hour 4: 3 hours; the drawdown from hour 5 lasts 1 hour so far
    assert max_drawdown_duration_ms(equity, times) == 3 * 3_600_000
    # never recovered: the duration runs to the end
    assert max_drawdown_duration_ms(np.array([100.0, 90.0, 95.0]), np.array([0, 60_000, 120_000])) == 120_000


def test_cagr_compounds_the_return_to_a_365_day_year():
    assert cagr_pct(0.10, timedelta(days=365)) == pytest.approx(10.0)
    assert cagr_pct(0.21, timedelta(days=730)) == pytest.approx(10.0)  # 1.1^2 = 1.21
    assert cagr_pct(0.01, timedelta(days=36.5)) == pytest.approx((1.01**10 - 1) * 100)
    assert cagr_pct(0.1, timedelta(0)) is None and cagr_pct(-1.0, timedelta(days=1)) is None
    assert cagr_pct(0.1, timedelta(minutes=6)) is None  # 1.1 ** 87,600 overflows: no meaningful number


def test_trade_statistics():
    pnls = np.array([30.0, -10.0, -20.0, 60.0])
    assert win_rate_pct(pnls) == 50.0
    assert profit_factor(pnls) == 3.0  # 90 won / 30 lost
    assert profit_factor(np.array([5.0])) is None and win_rate_pct(np.array([])) is None


def test_trade_metrics_expectancy_and_hold_time():
    metrics = trade_metrics([_trade(30.0, 1), _trade(-10.0, 2), _trade(-20.0, 3), _trade(60.0, 6)])
    assert (metrics.trades, metrics.win_rate_pct, metrics.profit_factor) == (4, 50.0, 3.0)
    assert metrics.expectancy_usd == 15.0 and metrics.avg_hold_hours == 3.0 and metrics.pnl_usd == 60.0
    empty = trade_metrics([])
    assert (empty.trades, empty.win_rate_pct, empty.expectancy_usd, empty.avg_hold_hours) == (0, None, None, None)


def test_curve_metrics_start_from_the_initial_balance_one_tick_before_the_first():
    # 10,000 -> 9,000 -> 9,900 -> 11,000, one day apart
    day = 86_400_000
    equity = np.array([9_000.0, 9_900.0, 11_000.0])
    times = np.array([0, day, 2 * day])
    metrics = curve_metrics(equity, times, initial_usd=10_000)
    assert metrics.total_return_pct == pytest.approx(10.0)
    assert metrics.max_drawdown_pct == pytest.approx(10.0)  # the first tick fell 10 % from the initial balance
    assert metrics.max_drawdown_duration_hours == pytest.approx(
        48 + 3 / 60
    )  # from 3 minutes before tick 1 until 11,000 at tick 3
    returns = np.array([-0.1, 0.1, 1_100 / 9_900])
    assert metrics.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(175_200))
    # the return spans 2 days and 3 minutes, from the initial balance (issue 36 item 4: it read 2 days)
    assert metrics.cagr_pct == pytest.approx((1.1 ** (525_600 / 2_883) - 1) * 100)
    assert metrics.calmar == pytest.approx(metrics.cagr_pct / 10.0)


def test_gh36_4_a_year_of_ticks_compounds_over_exactly_a_year():
    """175,200 ticks 3 minutes apart: the curve starts at the initial balance 3 minutes before
    the first, so it spans 365 days and +10 % is a CAGR of 10 %. Before: the span was one
    tick short (525,597 minutes), 1.1 ** (525,600 / 525,597) - 1 = +10.00005 %."""
    equity = np.full(175_200, 10_000.0)
    equity[-1] = 11_000.0
    times = np.arange(175_200, dtype=np.int64) * 180_000
    assert curve_metrics(equity, times, initial_usd=10_000).cagr_pct == pytest.approx(10.0, abs=1e-9)
