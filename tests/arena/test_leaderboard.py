"""The leaderboard's figures worked by hand, and rotation only beyond the margin."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bot.arena.leaderboard import choose, pooled, spreads, standing
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
    entry = standing("a", "rules", reports, opening_usd=10_000, book=None, min_returns=3)
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
    assert entry.llm_usd_per_trade == 0.5  # $1 of LLM over 2 trades
    # by default 3 ticks are far too few to say anything: no Sharpe, no intervals, no verdict
    short = standing("a", "rules", reports, opening_usd=10_000, book=None)
    assert (short.sharpe, short.needs_ticks, short.sharpe_ci, short.return_ci_pct) == (None, 477, None, None)
    assert short.return_pct == entry.return_pct and short.max_drawdown_pct == entry.max_drawdown_pct  # facts stay


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


# ----- what is noise: the probabilistic Sharpe ratio against the incumbent -----------------


def _curve(returns, *, start=10_000.0):
    """The equity after each tick of a book growing by ``returns`` from ``start``."""
    equity, out = start, []
    for value in returns:
        equity *= 1 + value
        out.append(equity)
    return out


def test_psr_against_the_incumbent_by_hand():
    """Challenger returns +1 %, -1 %, +2 %, 0: mean 0.005, deviations +-0.005, +-0.015;
    sample variance 0.0005/3 (std 0.0129099), so SR = 0.387298 per tick; population m2 =
    125e-6, m3 = 0 (skewness 0), m4 = 25,625e-12 (kurtosis 25,625/15,625 = 1.64).
    Against an incumbent's 0.1 per tick over n = 4: z = 0.287298 x sqrt(3) / sqrt(1 + 0.64/4
    x 0.15) = 0.497615 / 1.011929 = 0.491749; Z(0.4917) = 0.68793 + 0.1749 x 0.00353 = 0.68855
    (normal tables at 0.49 and 0.50)."""
    from bot.arena.leaderboard import judge

    reports = [_report(i + 1, equity) for i, equity in enumerate(_curve([0.01, -0.01, 0.02, 0.0]))]
    challenger = standing("new", "rules", reports, opening_usd=10_000, book=None, min_returns=4)
    assert challenger.sharpe_per_tick == pytest.approx(0.387298, abs=1e-6)
    assert challenger.skewness == pytest.approx(0.0, abs=1e-9)
    assert challenger.kurtosis == pytest.approx(1.64, abs=1e-9)
    incumbent = challenger.model_copy(update={"name": "inc", "sharpe_per_tick": 0.1})
    judge([incumbent, challenger], incumbent="inc", threshold=0.95)
    assert challenger.psr_vs_incumbent == pytest.approx(0.68855, abs=2e-5)
    assert (challenger.verdict, incumbent.verdict, incumbent.psr_vs_incumbent) == (
        "not distinguishable yet",
        "incumbent",
        None,
    )
    judge([incumbent, challenger], incumbent="inc", threshold=0.6)
    assert challenger.verdict == "ahead"


@pytest.mark.parametrize(
    ("sharpe", "verdict", "psr"),
    [
        # normal shape, n = 101 against 0: z = SR x 10 / sqrt(1 + SR^2 / 2)
        (0.2, "ahead", 0.97617),  # z = 2 / sqrt(1.02) = 1.98030: Z = 0.97615 + 0.030 x 0.00055 (tables)
        (0.1, "not distinguishable yet", 0.84074),  # z = 0.997509 (the sweep's worked case)
        (-0.2, "behind", 0.02383),  # z = -1.98030: 1 - 0.97617
    ],
)
def test_the_verdict_reads_the_psr_at_the_threshold(sharpe, verdict, psr):
    from bot.arena.leaderboard import judge

    base = standing("inc", "rules", [_report(1, 10_000), _report(2, 10_000)], opening_usd=10_000, book=None)
    incumbent = base.model_copy(update={"ticks": 101, "sharpe_per_tick": 0.0, "skewness": 0.0, "kurtosis": 3.0})
    challenger = incumbent.model_copy(update={"name": "new", "sharpe_per_tick": sharpe})
    judge([challenger, incumbent], incumbent="inc")
    assert challenger.verdict == verdict and challenger.psr_vs_incumbent == pytest.approx(psr, abs=3e-5)


def test_below_the_minimum_sample_there_is_no_sharpe_no_interval_and_no_verdict():
    from bot.arena.leaderboard import judge
    from bot.cli.leaderboard import sharpe_cell

    two = [_report(1, 10_100), _report(2, 9_000)]  # two ticks: the old leaderboard showed a Sharpe in the thousands
    short = standing("new", "rules", two, opening_usd=10_000, book=None)
    day = [_report(i, 10_000 + i % 7) for i in range(1, 481)]  # a day of ticks: 480, the minimum
    long = standing("inc", "rules", day, opening_usd=10_000, book=None)
    judge([short, long], incumbent="inc")
    assert (short.sharpe, short.sharpe_ci, short.return_ci_pct, short.max_drawdown_ci_pct) == (None, None, None, None)
    assert (short.needs_ticks, short.psr_vs_incumbent, short.verdict) == (478, None, "not distinguishable yet")
    assert sharpe_cell(short) == "n/a (needs 478 more ticks)"
    assert short.return_pct == pytest.approx(-10.0, abs=1e-9)  # the return itself is a fact, shown
    assert long.needs_ticks == 0 and long.sharpe is not None and long.sharpe_ci is not None
    assert sharpe_cell(long) == f"{long.sharpe:.2f}\n[{long.sharpe_ci[0]:.2f}, {long.sharpe_ci[1]:.2f}]"


WAITS = (
    "other (3.5) beats inc (2) by more than the margin 1 but P(Sharpe above the incumbent's) = 0.600 < 0.95: "
    "not distinguishable yet, no switch"
)


@pytest.mark.parametrize(
    ("probability", "found"),
    [
        (0.80, ("inc", WAITS)),  # new is beyond the margin too, but not significantly better either
        (None, ("inc", WAITS)),  # no PSR (too short a sample): never significant
        (
            0.97,
            (
                "new",
                "new (3.01) beats inc (2) by more than the margin 1 and P(Sharpe above the incumbent's) = 0.970 "
                ">= 0.95",
            ),
        ),
    ],
)
def test_rotation_with_min_probability_waits_for_significance(probability, found):
    scores = {"inc": 2.0, "new": 3.01, "other": 3.5}  # other scores best but is no better than chance
    chances = {"new": probability, "other": 0.6}
    assert choose("inc", scores, margin=1.0, probabilities=chances, min_probability=0.95) == found
    # without min_probability the margin alone decides: the best score switches
    assert choose("inc", scores, margin=1.0, probabilities=chances)[0] == "other"


def test_rotation_never_scores_a_sharpe_the_leaderboard_calls_noise():
    """With metric sharpe a moving book below a day of ticks has no score whatever `min_ticks`
    (the old leaderboard scored two ticks' Sharpe in the thousands); a return is a fact and scores."""
    from bot.arena.leaderboard import score

    moving = standing("m", "rules", [_report(1, 10_100), _report(2, 10_050)], opening_usd=10_000, book=None)
    assert moving.needs_ticks == 478
    assert score(moving, metric="sharpe", min_ticks=2) is None
    assert score(moving, metric="return", min_ticks=2) == pytest.approx(0.5, abs=1e-12)
    assert choose("m", {"m": None, "other": None}, margin=0.25) == (
        "m",
        "no candidate has a long enough track record yet",
    )


# ----- instances: N books of one candidate ----------------------------------------------------


def _book_standing(name, candidate, equities, **update):
    reports = [_report(i + 1, equity) for i, equity in enumerate(equities)]
    entry = standing(name, "rules", reports, opening_usd=10_000, book=None, min_returns=2)
    return entry.model_copy(update={"candidate": candidate, **update})


def test_rotation_pools_a_candidates_books_mean_score_and_lowest_psr():
    books = [
        _book_standing("inc", "inc", [10_000, 10_000], score=1.0),
        _book_standing("new", "new", [10_100, 10_200], score=3.0, psr_vs_incumbent=0.99),
        _book_standing("new.2", "new", [10_000, 9_900], score=2.0, psr_vs_incumbent=0.90),
        _book_standing("short", "short", [10_000, 10_000], score=5.0, psr_vs_incumbent=0.99),
        _book_standing("short.2", "short", [10_000, 10_000], score=None, psr_vs_incumbent=None),
    ]
    scores, chances = pooled(books, incumbent="inc")
    assert scores == {"inc": 1.0, "new": 2.5, "short": None}  # (3 + 2) / 2; one book without a score: none
    assert chances == {"new": 0.90, "short": None}  # the least sure book speaks for the candidate
    assert choose("inc", scores, margin=1.0, probabilities=chances, min_probability=0.95)[0] == "inc"
    assert choose("inc", scores, margin=1.0, probabilities=chances)[0] == "new"
    [spread] = spreads(books[:3])
    assert (spread.candidate, spread.instances) == ("new", 2)
    assert spread.return_pct == pytest.approx((-1.0, 2.0), abs=1e-12)
    assert spread.max_drawdown_pct == pytest.approx((0.0, 1.0), abs=1e-12)  # new never fell; new.2 fell 1 %
    assert spread.sharpe == (books[2].sharpe, books[1].sharpe) and books[2].sharpe < 0 < books[1].sharpe
