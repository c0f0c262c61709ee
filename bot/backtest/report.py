"""Backtest report: metrics as pure functions, then two renderings (rich, JSON; the folder: ``files.py``).

Conventions (they matter when comparing with other tools):
- Returns are per tick (3 minutes) on equity marked to market after each tick.
  Sharpe and Sortino annualise with sqrt(175,200), the number of 3-minute ticks in a
  365-day year (crypto trades every day), the same as ``bot.tick.portfolio``; the risk-free
  rate is 0. Sortino's downside deviation is the root mean square of the negative
  returns over ALL ticks (target 0), as in Sortino & Price (1994), not the standard
  deviation of the negative ones only.
- CAGR extrapolates the span's return to 365 days: on a span of weeks it is a huge,
  noisy number, shown because people expect it; Calmar = CAGR / max drawdown. The span is
  the curve's, from the initial balance 3 minutes before the first tick: N ticks, N x 3 min.
- A trade's PnL is net of its entry and exit fees and of its funding (received +, paid -). A
  position still open at the end is valued at the last price with no exit fee.
- Exposure is the share of ticks that ended with at least one position open.
- Buy-and-hold is an equal-weight basket of the same coins bought at the first tick's
  prices and held: no fees, no funding, no leverage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import numpy as np
from pydantic import Field

from bot.models import StrictModel
from bot.tick.portfolio import TICKS_PER_YEAR

YEAR = timedelta(days=365)
_TICK_MS = 180_000


# ----- metrics: pure functions of arrays -----------------------------------------------


def tick_returns(equity: np.ndarray) -> np.ndarray:
    return np.diff(equity) / equity[:-1] if len(equity) > 1 else np.empty(0)


def sharpe(returns: np.ndarray, *, periods_per_year: float = TICKS_PER_YEAR) -> float | None:
    if len(returns) < 2:
        return None
    std = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / std * math.sqrt(periods_per_year) if std > 0 else None


def sortino(returns: np.ndarray, *, periods_per_year: float = TICKS_PER_YEAR) -> float | None:
    if len(returns) < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    return float(np.mean(returns)) / downside * math.sqrt(periods_per_year) if downside > 0 else None


def drawdown_pct(equity: np.ndarray) -> np.ndarray:
    """Percent below the running peak at each point (0 at a new high, positive below it)."""
    peak = np.maximum.accumulate(equity)
    return (1.0 - equity / peak) * 100.0


def max_drawdown_duration_ms(equity: np.ndarray, times_ms: np.ndarray) -> int:
    """Longest time from a peak until equity is back at it (or until the end, if never)."""
    if len(equity) < 2:
        return 0
    at_peak = equity >= np.maximum.accumulate(equity)
    last_peak_ms = np.maximum.accumulate(np.where(at_peak, times_ms, times_ms[0]))
    # tick i is part of a drawdown that began at the peak before it unless both it and
    # the tick before it are peaks; at a recovery, the drawdown lasted until tick i
    in_drawdown = ~(at_peak[1:] & at_peak[:-1])
    durations = times_ms[1:] - last_peak_ms[:-1]
    return int(durations[in_drawdown].max()) if in_drawdown.any() else 0


def cagr_pct(total_return: float, span: timedelta) -> float | None:
    """Compound annual growth for a total return (0.1 = +10 %) over ``span``."""
    if span <= timedelta(0) or total_return <= -1.0:
        return None
    try:
        return ((1.0 + total_return) ** (YEAR / span) - 1.0) * 100.0
    except OverflowError:  # minutes of history extrapolated to a year: no meaningful number
        return None


def profit_factor(pnls: np.ndarray) -> float | None:
    loss = -float(pnls[pnls < 0].sum())
    return float(pnls[pnls > 0].sum()) / loss if loss > 0 else None


def win_rate_pct(pnls: np.ndarray) -> float | None:
    return float((pnls > 0).mean()) * 100.0 if len(pnls) else None


# ----- the report model ------------------------------------------------------------------


class CurveMetrics(StrictModel):
    """What an equity curve alone says; computed the same way for the strategy and buy-and-hold."""

    final_equity_usd: float
    total_return_pct: float
    cagr_pct: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown_pct: float
    max_drawdown_duration_hours: float


class TradeMetrics(StrictModel):
    trades: int
    win_rate_pct: float | None
    profit_factor: float | None
    expectancy_usd: float | None  # mean net PnL per trade
    avg_hold_hours: float | None
    pnl_usd: float


class Group(TradeMetrics):
    name: str


class BacktestReport(StrictModel):
    """Everything `bot backtest` prints; `--json` is this model."""

    strategy: str
    coins: list[str]
    start: datetime
    end: datetime
    ticks: int
    decide_every: int
    initial_balance_usd: float
    taker_fee_pct: float
    slippage_pct: float
    strategy_metrics: CurveMetrics
    benchmark_metrics: CurveMetrics  # equal-weight buy-and-hold of the same coins
    trade_metrics: TradeMetrics
    exposure_pct: float
    fees_usd: float
    funding_received_usd: float  # received (+) or paid (-), as in state, status and the journal
    llm_cost_usd: float
    by_coin: list[Group]
    by_side: list[Group]
    by_exit_reason: list[Group]
    outcomes: dict[str, int]  # tick outcome -> count
    rejections: dict[str, int] = Field(default_factory=dict)  # the risk step's refusals by code ({}: none)
    cache: dict[str, int] = Field(default_factory=dict)
    intel_coverage: dict[str, float] = Field(
        default_factory=dict
    )  # % of ticks with sentiment, headlines, either ({} without [intel])
    # funding settlements of open positions: charged at their own rate, or passed uncharged (stale, unknown)
    funding_coverage: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    messages: list[str] = Field(default_factory=list)


def curve_metrics(equity: np.ndarray, times_ms: np.ndarray, *, initial_usd: float) -> CurveMetrics:
    """Metrics of equity after each tick at ``times_ms``; the curve starts at ``initial_usd``
    one tick before the first (the account before the first tick traded)."""
    final = float(equity[-1]) if len(equity) else initial_usd
    total = final / initial_usd - 1.0
    curve = np.concatenate([[initial_usd], equity])
    times = np.concatenate([[times_ms[0] - _TICK_MS], times_ms]) if len(times_ms) else np.zeros(1, dtype=np.int64)
    span = timedelta(milliseconds=int(times[-1] - times[0]))  # the curve's: N ticks span N x 3 minutes
    returns = tick_returns(curve)
    max_dd = float(drawdown_pct(curve).max())
    cagr = cagr_pct(total, span)
    return CurveMetrics(
        final_equity_usd=final,
        total_return_pct=total * 100.0,
        cagr_pct=cagr,
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        calmar=cagr / max_dd if cagr is not None and max_dd > 0 else None,
        max_drawdown_pct=max_dd,
        max_drawdown_duration_hours=max_drawdown_duration_ms(curve, times) / 3_600_000,
    )


def trade_metrics(trades: Iterable) -> TradeMetrics:
    trades = list(trades)
    pnls = np.array([trade.pnl_usd for trade in trades], dtype=float)
    holds = [trade.hold_minutes / 60.0 for trade in trades]
    return TradeMetrics(
        trades=len(trades),
        win_rate_pct=win_rate_pct(pnls),
        profit_factor=profit_factor(pnls),
        expectancy_usd=float(pnls.mean()) if len(pnls) else None,
        avg_hold_hours=float(np.mean(holds)) if holds else None,
        pnl_usd=float(pnls.sum()),
    )


def _groups(trades: list, key: Callable) -> list[Group]:
    names = sorted({str(key(trade)) for trade in trades})
    return [Group(name=name, **trade_metrics(t for t in trades if str(key(t)) == name).model_dump()) for name in names]


def build_report(result) -> BacktestReport:
    """The report of a ``bot.backtest.loop.BacktestResult``."""
    initial = result.initial_usd
    paper = result.settings.paper
    return BacktestReport(
        strategy=result.strategy,
        coins=result.coins,
        start=result.start,
        end=result.end,
        ticks=len(result.times_ms),
        decide_every=result.decide_every,
        initial_balance_usd=initial,
        taker_fee_pct=paper.taker_fee_pct,
        slippage_pct=paper.slippage_pct,
        strategy_metrics=curve_metrics(result.equity_usd, result.times_ms, initial_usd=initial),
        benchmark_metrics=curve_metrics(result.benchmark_usd, result.times_ms, initial_usd=initial),
        trade_metrics=trade_metrics(result.trades),
        exposure_pct=float(result.exposed.mean()) * 100.0 if len(result.exposed) else 0.0,
        fees_usd=result.fees_usd,
        funding_received_usd=result.funding_received_usd,
        llm_cost_usd=result.llm_cost_usd,
        by_coin=_groups(result.trades, lambda trade: trade.coin),
        by_side=_groups(result.trades, lambda trade: trade.side),
        by_exit_reason=_groups(result.trades, lambda trade: trade.exit_reason),
        outcomes=result.outcomes,
        rejections=result.rejections,
        cache=result.cache,
        intel_coverage=result.intel_coverage,
        funding_coverage=result.funding_coverage,
        warnings=result.warnings,
        messages=result.messages,
    )


# ----- renderings --------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:{spec}}{suffix}"


def print_report(report: BacktestReport, *, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(highlight=False)
    for warning in report.warnings:
        console.print(f"[bold red]WARNING:[/] {warning}")
    console.print(
        f"backtest {report.strategy} · {', '.join(report.coins)} · "
        f"{report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} UTC "
        f"· {report.ticks:,} ticks · decide every {report.decide_every} · fee {report.taker_fee_pct:g}% "
        f"· slippage {report.slippage_pct:g}%"
    )
    s, b = report.strategy_metrics, report.benchmark_metrics
    table = Table("metric", report.strategy, "buy & hold (equal weight)", title="result")
    rows = [
        ("final equity (USDT)", _fmt(s.final_equity_usd, ",.2f"), _fmt(b.final_equity_usd, ",.2f")),
        ("total return", _fmt(s.total_return_pct, "+.2f", " %"), _fmt(b.total_return_pct, "+.2f", " %")),
        ("CAGR", _fmt(s.cagr_pct, "+.1f", " %"), _fmt(b.cagr_pct, "+.1f", " %")),
        ("Sharpe", _fmt(s.sharpe), _fmt(b.sharpe)),
        ("Sortino", _fmt(s.sortino), _fmt(b.sortino)),
        ("Calmar", _fmt(s.calmar), _fmt(b.calmar)),
        ("max drawdown", _fmt(s.max_drawdown_pct, ".2f", " %"), _fmt(b.max_drawdown_pct, ".2f", " %")),
        (
            "max drawdown duration",
            _fmt(s.max_drawdown_duration_hours, ".1f", " h"),
            _fmt(b.max_drawdown_duration_hours, ".1f", " h"),
        ),
    ]
    t = report.trade_metrics
    rows += [
        ("trades", str(t.trades), "-"),
        ("win rate", _fmt(t.win_rate_pct, ".1f", " %"), "-"),
        ("profit factor", _fmt(t.profit_factor), "-"),
        ("expectancy per trade (USDT)", _fmt(t.expectancy_usd, "+.2f"), "-"),
        ("average hold", _fmt(t.avg_hold_hours, ".2f", " h"), "-"),
        ("exposure", _fmt(report.exposure_pct, ".1f", " %"), "100.0 %"),
        ("fees paid (USDT)", _fmt(report.fees_usd, ",.2f"), "0.00"),
        ("funding received (USDT)", _fmt(report.funding_received_usd, "+,.2f"), "0.00"),
        ("LLM cost (USD)", _fmt(report.llm_cost_usd, ",.4f"), "-"),
    ]
    for row in rows:
        table.add_row(*row)
    _print_fitted(console, table)
    for title, column, groups in (
        ("per coin", "coin", report.by_coin),
        ("long / short", "side", report.by_side),
        ("exit reason", "reason", report.by_exit_reason),
    ):
        if not groups:
            continue
        group_table = Table(
            column, "trades", "win rate", "profit factor", "expectancy", "avg hold", "PnL (USDT)", title=title
        )
        for g in groups:
            group_table.add_row(
                g.name,
                str(g.trades),
                _fmt(g.win_rate_pct, ".1f", " %"),
                _fmt(g.profit_factor),
                _fmt(g.expectancy_usd, "+.2f"),
                _fmt(g.avg_hold_hours, ".2f", " h"),
                _fmt(g.pnl_usd, "+,.2f"),
            )
        _print_fitted(console, group_table, drop=("avg hold", "profit factor", "expectancy", "win rate"))
    outcomes = " · ".join(f"{name} {count}" for name, count in sorted(report.outcomes.items()))
    console.print(f"ticks: {outcomes}" + (f" · decision cache: {report.cache}" if report.cache else ""))
    console.print(f"risk rejections: {rejections_line(report.rejections)}")
    for message in report.messages:
        console.print(f"  {message}")
    if sum((f := report.funding_coverage).values()):
        console.print(
            f"funding coverage: {f['charged']} of {sum(f.values())} settlements charged at their own rate "
            f"({f['stale']} stale, {f['unknown']} unknown: not charged)"
        )
    if c := report.intel_coverage:
        console.print(
            f"intel coverage: {c['any_pct']:g} % of the ticks "
            f"(Fear & Greed {c['sentiment_pct']:g} %, headlines {c['headlines_pct']:g} %)"
        )


def rejections_line(rejections: dict[str, int]) -> str:
    """The risk step's refusals by code, most first ("none" when there were none)."""
    ranked = sorted(rejections.items(), key=lambda item: (-item[1], item[0]))
    return " · ".join(f"{code} {count:,}" for code, count in ranked) or "none"


def _print_fitted(console, table, drop: tuple[str, ...] = ()) -> None:
    """The table with every digit (``bot.backtest.tables.fit``), and what was dropped to fit."""
    from bot.backtest.tables import fit

    if dropped := fit(table, console.width, drop=drop):
        table.caption = f"not shown at {console.width} columns: {', '.join(dropped)} (report.json has them)"
    console.print(table)
