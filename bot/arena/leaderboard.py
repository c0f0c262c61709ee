"""The leaderboard (pure): each candidate's book over a window, scored, and the rotation rule.

Every figure comes from the candidate's own tick reports (its journal), through the
backtest report's metric functions: the curve's return, Sharpe and max drawdown are on
equity NET of fees, funding AND the LLM dollars spent in the window (what the candidate
would have left), so a costly model has to earn its bill. Trades are round trips from the
fills (``trades_from_fills``); one still open is valued at the window's last price.

What is noise: the return, Sharpe and max drawdown carry bootstrap intervals
(``bot.backtest.significance``), and each candidate's probabilistic Sharpe ratio against the
incumbent's Sharpe (Bailey & López de Prado, ``bot.backtest.significance``) gives its verdict. Below
``MIN_RETURNS`` ticks the Sharpe and the intervals are None: "n/a (needs N more ticks)".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from bot.backtest.loop import trades_from_fills
from bot.backtest.report import curve_metrics, tick_returns, trade_metrics
from bot.backtest.significance import MIN_RETURNS, THRESHOLD, bootstrap_intervals, moments, probabilistic_sharpe
from bot.models import Fill, FundingPayment, Side, StrictModel, TickReport
from bot.ops.state import BotState

DRAWDOWN_FLOOR_PCT = 0.1  # return_over_drawdown: a book that never fell is divided by 0.1 %, not 0
Verdict = Literal["incumbent", "ahead", "behind", "not distinguishable yet"]
UNSURE: Verdict = "not distinguishable yet"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Equity(_Part):
    equity_usd: float


class _Spend(_Part):
    cost_usd: float = 0.0


class JournalRow(_Part):
    """What the leaderboard reads of a journal line: a week of six candidates' journals is
    ~20,000 lines, read for every `bot arena` and every daily rotation (bench/arena.py)."""

    as_of: datetime
    account: _Equity | None = None
    usage: _Spend = Field(default_factory=_Spend)
    fills: list[Fill] = Field(default_factory=list)
    funding: list[FundingPayment] = Field(default_factory=list)
    prices: dict[str, float] = Field(default_factory=dict)


class Standing(StrictModel):
    name: str  # the book: the candidate's name, or NAME.K for its instance K
    strategy: str
    ticks: int
    equity_usd: float  # the book's equity after the last tick (before LLM cost)
    return_pct: float  # net of fees, funding and LLM cost, over the window
    sharpe: float | None  # None: no variance, or fewer than MIN_RETURNS ticks (needs_ticks > 0)
    max_drawdown_pct: float
    needs_ticks: int = 0  # ticks still missing before the Sharpe and the intervals say anything
    return_ci_pct: tuple[float, float] | None = None  # bootstrap interval (bot.backtest.significance.METHOD)
    sharpe_ci: tuple[float, float] | None = None
    max_drawdown_ci_pct: tuple[float, float] | None = None
    sharpe_per_tick: float | None = None  # what the probabilistic Sharpe ratio takes: per tick, not annualised
    skewness: float | None = None
    kurtosis: float | None = None  # not excess: 3 for normal returns
    psr_vs_incumbent: float | None = None  # P(true Sharpe above the incumbent's); None: the incumbent, or too short
    verdict: Verdict = UNSURE
    trades: int
    win_rate_pct: float | None
    fees_usd: float
    funding_usd: float  # received (+) or paid (-)
    llm_usd: float
    llm_usd_per_trade: float | None = None
    avg_hold_hours: float | None
    longs: int
    shorts: int
    long_short_ratio: float | None  # longs / shorts (None without shorts)
    score: float | None = None  # by `arena.rotation.metric`; None below `min_ticks`
    candidate: str = ""  # the [[arena.candidates]] entry this book belongs to ("": its name)


class Spread(StrictModel):
    """A candidate with `instances` > 1: how far its independent books ended apart."""

    candidate: str
    instances: int
    return_pct: tuple[float, float]  # lowest, highest over its books
    sharpe: tuple[float, float] | None  # None while any book's Sharpe is n/a
    max_drawdown_pct: tuple[float, float]


def standing(
    name: str,
    strategy: str,
    reports: Sequence[TickReport | JournalRow],
    *,
    opening_usd: float,
    book: BotState | None,
    min_returns: int = MIN_RETURNS,
) -> Standing:
    """One candidate over ``reports`` (oldest first); ``opening_usd``: its equity before the first;
    below ``min_returns`` ticks no Sharpe and no intervals."""
    equity, llm_usd, last = [], 0.0, opening_usd
    for report in reports:
        llm_usd += report.usage.cost_usd
        last = report.account.equity_usd if report.account else last
        equity.append(last - llm_usd)
    times = np.array([int(report.as_of.timestamp() * 1000) for report in reports], dtype=np.int64)
    curve = curve_metrics(np.array(equity, dtype=float), times, initial_usd=opening_usd)
    fills = [fill for report in reports for fill in report.fills]
    funding = [(payment.coin, payment.at, payment.amount_usd) for report in reports for payment in report.funding]
    end = reports[-1].as_of if reports else datetime.min
    book = book or BotState.fresh(mode="paper", initial_equity_usd=opening_usd)
    trades = trades_from_fills(
        fills, funding=funding, state=book, end=end, last_prices=reports[-1].prices if reports else {}
    )
    metrics = trade_metrics(trades)
    returns = tick_returns(np.concatenate([[opening_usd], equity]))
    needs = max(0, min_returns - len(returns))
    shape = _shape(returns) if not needs else {}
    intervals = bootstrap_intervals(returns) if not needs else {}
    longs = sum(trade.side is Side.LONG for trade in trades)
    shorts = len(trades) - longs
    return Standing(
        name=name,
        strategy=strategy,
        ticks=len(reports),
        equity_usd=last,
        return_pct=curve.total_return_pct,
        sharpe=curve.sharpe if not needs else None,
        max_drawdown_pct=curve.max_drawdown_pct,
        needs_ticks=needs,
        return_ci_pct=intervals.get("return_pct"),
        sharpe_ci=intervals.get("sharpe"),
        max_drawdown_ci_pct=intervals.get("max_drawdown_pct"),
        **shape,
        trades=metrics.trades,
        win_rate_pct=metrics.win_rate_pct,
        fees_usd=sum(fill.fee_usd for fill in fills),
        funding_usd=sum(usd for _, _, usd in funding),
        llm_usd=llm_usd,
        llm_usd_per_trade=llm_usd / metrics.trades if metrics.trades else None,
        avg_hold_hours=metrics.avg_hold_hours,
        longs=longs,
        shorts=shorts,
        long_short_ratio=longs / shorts if shorts else None,
    )


def _shape(returns: np.ndarray) -> dict[str, float | None]:
    """The moments the PSR takes; a book that never moved has a Sharpe of exactly 0 (and the
    normal shape), so a challenger can be told apart from a flat incumbent."""
    if not np.any(returns):
        return {"sharpe_per_tick": 0.0, "skewness": 0.0, "kurtosis": 3.0}
    return moments(returns)


def judge(standings: Sequence[Standing], *, incumbent: str, threshold: float = THRESHOLD) -> None:
    """Each challenger's probabilistic Sharpe ratio against the incumbent's Sharpe over the same
    window and its verdict: "ahead" at ``threshold`` or more, "behind" at 1 - ``threshold`` or
    less, else "not distinguishable yet" (so too while either sample is short)."""
    mine = next((entry for entry in standings if entry.name == incumbent), None)
    benchmark = mine.sharpe_per_tick if mine is not None else None
    for entry in standings:
        entry.psr_vs_incumbent, entry.verdict = None, UNSURE
        if _owner(entry) == incumbent:  # its other instances too: the same settings, not a challenger
            entry.verdict = "incumbent"
            continue
        if benchmark is None or entry.sharpe_per_tick is None or entry.skewness is None or entry.kurtosis is None:
            continue
        entry.psr_vs_incumbent = probabilistic_sharpe(
            entry.sharpe_per_tick,
            benchmark=benchmark,
            observations=entry.ticks,
            skewness=entry.skewness,
            kurtosis=entry.kurtosis,
        )
        if entry.psr_vs_incumbent is not None:
            if entry.psr_vs_incumbent >= threshold:
                entry.verdict = "ahead"
            elif entry.psr_vs_incumbent <= 1 - threshold:
                entry.verdict = "behind"


def _owner(entry: Standing) -> str:
    return entry.candidate or entry.name


def spreads(standings: Sequence[Standing]) -> list[Spread]:
    """One line per candidate run as several books: the spread a single run hides."""
    out = []
    for owner in dict.fromkeys(_owner(entry) for entry in standings):
        books = [entry for entry in standings if _owner(entry) == owner]
        if len(books) < 2:
            continue
        sharpes = [entry.sharpe for entry in books if entry.sharpe is not None]
        out.append(
            Spread(
                candidate=owner,
                instances=len(books),
                return_pct=(min(e.return_pct for e in books), max(e.return_pct for e in books)),
                sharpe=(min(sharpes), max(sharpes)) if len(sharpes) == len(books) else None,
                max_drawdown_pct=(min(e.max_drawdown_pct for e in books), max(e.max_drawdown_pct for e in books)),
            )
        )
    return out


def pooled(standings: Sequence[Standing], *, incumbent: str) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Rotation's view, per candidate (standings in config order): the mean score of its books
    (None while any has none) and, for each challenger, the lowest PSR of its books against the
    incumbent (every instance must be significantly better; None while any has none)."""
    scores: dict[str, float | None] = {}
    chances: dict[str, float | None] = {}
    for owner in dict.fromkeys(_owner(entry) for entry in standings):
        books = [entry for entry in standings if _owner(entry) == owner]
        values = [entry.score for entry in books if entry.score is not None]
        scores[owner] = sum(values) / len(values) if len(values) == len(books) else None
        if owner != incumbent:
            odds = [entry.psr_vs_incumbent for entry in books if entry.psr_vs_incumbent is not None]
            chances[owner] = min(odds) if len(odds) == len(books) else None
    return scores, chances


def score(entry: Standing, *, metric: str, min_ticks: int) -> float | None:
    """The rotation's score of a standing; None below the minimum track record. A Sharpe that
    is n/a (fewer than a day of ticks, whatever `min_ticks`) is no score either: rotation never
    acts on a figure the leaderboard calls noise. A flat book (never above nor below its
    opening: return and drawdown exactly 0) scores 0, no return for no risk, known exactly."""
    if entry.ticks < min_ticks:
        return None
    if metric == "sharpe":
        flat = entry.return_pct == 0.0 and entry.max_drawdown_pct == 0.0
        return 0.0 if flat else entry.sharpe
    if metric == "return":
        return entry.return_pct
    return entry.return_pct / max(entry.max_drawdown_pct, DRAWDOWN_FLOOR_PCT)


def choose(
    incumbent: str,
    scores: dict[str, float | None],
    *,
    margin: float,
    probabilities: dict[str, float | None] | None = None,
    min_probability: float | None = None,
) -> tuple[str, str]:
    """The candidate that gets the account and why, with the numbers used: the best score wins
    only if it beats the incumbent's by more than ``margin`` (an incumbent without a score loses
    to any score). With ``min_probability`` a challenger must also be significantly better: its
    probabilistic Sharpe ratio against the incumbent (``probabilities``) at least that, else it
    waits; the best-scoring challenger that passes both wins."""
    scored = {name: value for name, value in scores.items() if value is not None}
    if not scored:
        return incumbent, "no candidate has a long enough track record yet"
    best = max(scored, key=lambda name: scored[name])  # ties: the first in config order
    mine = scores.get(incumbent)
    if best == incumbent:
        return incumbent, f"{incumbent} scores best ({mine:.4g})"
    if mine is None:
        return best, f"{best} ({scored[best]:.4g}) replaces {incumbent} (no score: too short a track record)"
    if scored[best] <= mine + margin:
        return (
            incumbent,
            f"{best} ({scored[best]:.4g}) is within the margin {margin:g} of {incumbent} ({mine:.4g}): no switch",
        )
    beats = f"beats {incumbent} ({mine:.4g}) by more than the margin {margin:g}"
    if min_probability is None:
        return best, f"{best} ({scored[best]:.4g}) {beats}"
    chances = probabilities or {}

    def chance(name: str) -> str:
        value = chances.get(name)
        return "P(Sharpe above the incumbent's) = " + ("n/a" if value is None else f"{value:.3f}")

    sure = [
        name
        for name in scored
        if name != incumbent and scored[name] > mine + margin and (chances.get(name) or 0.0) >= min_probability
    ]
    if sure:
        pick = max(sure, key=lambda name: scored[name])
        return pick, f"{pick} ({scored[pick]:.4g}) {beats} and {chance(pick)} >= {min_probability:g}"
    return (
        incumbent,
        f"{best} ({scored[best]:.4g}) {beats} but {chance(best)} < {min_probability:g}: "
        "not distinguishable yet, no switch",
    )
