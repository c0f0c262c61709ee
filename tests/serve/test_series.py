"""The server's series with numbers worked by hand: the equity curve (drawdown, the buy-and-hold
basket, thinning) and health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Outcome
from bot.ops.state import BotState
from bot.serve.series import TickPoint, equity_curve, health_of

T0 = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


def tick(n: int, equity: float | None, prices: dict[str, float], outcome: str = "ok") -> TickPoint:
    return TickPoint(
        tick=n, as_of=T0 + timedelta(minutes=3 * (n - 1)), outcome=outcome, equity_usd=equity, prices=prices
    )


TICKS = [
    tick(1, 10_000.0, {"BTC": 100.0, "ETH": 10.0}),  # the basket: 5,000 in each coin
    tick(2, 11_000.0, {"BTC": 110.0, "ETH": 10.0}),  # new peak
    tick(3, 9_900.0, {"BTC": 90.0, "ETH": 12.0}),  # 10 % below the 11,000 peak
    tick(4, None, {}, outcome="failed"),  # no valuation: not on the curve
    tick(5, 10_450.0, {"BTC": 120.0}),  # ETH did not load: valued at its last price, 12
]


def state_at(last_tick_at, **changes) -> BotState:
    return BotState.fresh(mode="paper", initial_equity_usd=10_000.0).model_copy(
        update={"last_tick_at": last_tick_at, "last_outcome": Outcome.OK, **changes}
    )


def test_equity_curve_drawdown_and_buy_and_hold_basket():
    curve = equity_curve(TICKS, initial_equity_usd=10_000.0, max_points=100)
    assert [p.tick for p in curve.points] == [1, 2, 3, 5]
    assert [p.equity_usd for p in curve.points] == [10_000.0, 11_000.0, 9_900.0, 10_450.0]
    assert [p.drawdown_pct for p in curve.points] == pytest.approx([0.0, 0.0, 10.0, 5.0])
    # 10,000 x mean(price / first price): (1+1)/2, (1.1+1)/2, (0.9+1.2)/2, (1.2+1.2)/2
    assert [p.buy_hold_usd for p in curve.points] == pytest.approx([10_000.0, 10_500.0, 10_500.0, 12_000.0])
    assert curve.max_drawdown_pct == pytest.approx(10.0)
    assert curve.buy_hold_coins == ["BTC", "ETH"]
    assert curve.total_ticks == 4


def test_a_journal_without_prices_has_no_basket_and_a_long_curve_is_thinned_keeping_the_last_point():
    plain = [TickPoint(tick=n, as_of=T0, outcome="ok", equity_usd=10_000.0 + n) for n in range(1, 6)]
    curve = equity_curve(plain, initial_equity_usd=10_000.0, max_points=3)
    assert [p.tick for p in curve.points] == [1, 3, 5]  # every 2nd, the last included
    assert curve.buy_hold_coins == [] and all(p.buy_hold_usd is None for p in curve.points)
    assert [p.tick for p in equity_curve(plain[:4], initial_equity_usd=10_000.0, max_points=2).points] == [1, 4]


@pytest.mark.parametrize(
    ("state", "age", "ok", "status"),
    [
        (state_at(T0), 100.0, True, "ok"),
        (state_at(T0), 360.0, True, "ok"),  # one missed cron run is tolerated
        (state_at(T0), 361.0, False, "stale"),
        (state_at(T0, paused=True), 10.0, True, "paused"),
        (state_at(T0, consecutive_errors=1, last_outcome=Outcome.FAILED), 10.0, False, "failed"),
        (state_at(None), None, False, "no ticks yet"),
        (None, None, False, "no ticks yet"),
    ],
)
def test_health_is_a_recent_tick_that_did_not_fail(state, age, ok, status):
    verdict = health_of(state, problem="", age_seconds=age, tick_running=False)
    assert (verdict.ok, verdict.status) == (ok, status)
