"""The leaderboard's figures worked by hand, and rotation only beyond the margin."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bot.arena.leaderboard import choose, standing
from bot.models import Fill, FundingPayment, Side
from tests.arena.arenakit import FIRST, _report


def _fill(minute, side, price, *, fee, reduce_only=False, realized=0.0, amount=1.0):
    return Fill(
        coin="BTC",
        side=side,
        amount=amount,
        price=price,
        fee_usd=fee,
        realized_pnl_usd=realized,
        reduce_only=reduce_only,
        client_order_id=f"c{minute}",
        at=FIRST + timedelta(minutes=3 * minute),
    )


def test_leaderboard_figures_by_hand():
    # opening 10,000; a long opened at tick 1 (fee 0.5), funding -0.2 at tick 2, closed at tick 3 (+10 before its 0.55
    # fee);
    # a short opened at tick 3 still open at the end; $1 of LLM at tick 2
    funding = FundingPayment(
        coin="BTC", side=Side.LONG, at=FIRST + timedelta(minutes=6), rate=0.0001, price=105.0, amount_usd=-0.2
    )
    reports = [
        _report(1, 10_100, fills=[_fill(1, Side.LONG, 100.0, fee=0.5)]),
        _report(2, 10_050, funding=[funding], cost_usd=1.0),
        _report(
            3,
            10_200,
            fills=[
                _fill(3, Side.LONG, 110.0, fee=0.55, reduce_only=True, realized=10.0),
                _fill(3, Side.SHORT, 110.0, fee=0.4),
            ],
            prices={"BTC": 108.0},
        ),
    ]
    entry = standing("a", "rules", reports, opening_usd=10_000, book=None)
    net = [10_000, 10_100, 10_049, 10_199]  # equity less the LLM dollars spent so far
    returns = [net[i + 1] / net[i] - 1 for i in range(3)]
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert entry.return_pct == pytest.approx(1.99, abs=1e-9)
    assert entry.sharpe == pytest.approx(mean / std * math.sqrt(175_200), rel=1e-9)
    assert entry.max_drawdown_pct == pytest.approx((1 - 10_049 / 10_100) * 100, rel=1e-9)
    assert entry.fees_usd == pytest.approx(1.45, abs=1e-12)
    assert entry.funding_usd == pytest.approx(-0.2, abs=1e-12) and entry.llm_usd == 1.0
    # two trades: the long (+10 - 1.05 fees - 0.2 funding = +8.75, 6 minutes) and the short still open (-0.4 fee, 0
    # minutes)
    assert (entry.trades, entry.win_rate_pct, entry.longs, entry.shorts, entry.long_short_ratio) == (2, 50.0, 1, 1, 1.0)
    assert entry.avg_hold_hours == pytest.approx((6 + 0) / 2 / 60, abs=1e-12)


# ----- rotation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incumbent", "challenger", "chosen"),
    [
        (2.0, 2.5, "inc"),  # better, but inside the margin of 1.0
        (2.0, 3.0, "inc"),  # exactly at the margin: not more than it
        (2.0, 3.01, "new"),  # beyond it: switch
        (None, -5.0, "new"),  # the incumbent has no track record: any score wins
        (2.0, None, "inc"),  # the challenger has none: nothing to compare
    ],
)
def test_rotation_switches_only_beyond_the_margin(incumbent, challenger, chosen):
    assert choose("inc", {"inc": incumbent, "new": challenger}, margin=1.0)[0] == chosen


def test_a_flat_book_scores_zero_sharpe_and_a_short_one_none():
    from bot.arena.leaderboard import score

    flat = standing("flat", "rules", [_report(1, 10_000), _report(2, 10_000)], opening_usd=10_000, book=None)
    assert flat.sharpe is None  # no variance: no ratio
    assert score(flat, metric="sharpe", min_ticks=2) == 0.0  # but a track record: it keeps the account against a loser
    assert score(flat, metric="sharpe", min_ticks=3) is None
    assert choose("flat", {"flat": 0.0, "loser": -3.0}, margin=0.25)[0] == "flat"
