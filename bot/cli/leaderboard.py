"""The arena's leaderboard as a table (`bot arena`, `bot backtest --arena`); imported only
by the commands that print it."""

from __future__ import annotations

from rich.table import Column, Table

from bot.cli.views import console, when


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _with(point: str, interval: tuple[float, float] | None, spec: str) -> str:
    """A figure and its bootstrap interval under it: "+1.20%" over "[-0.80, +3.10]"."""
    return point if interval is None else f"{point}\n[{interval[0]:{spec}}, {interval[1]:{spec}}]"


def sharpe_cell(entry) -> str:
    """The Sharpe and its interval, or why there is none yet."""
    if entry.needs_ticks:
        return f"n/a (needs {entry.needs_ticks} more ticks)"
    return _with(_num(entry.sharpe, ".2f"), entry.sharpe_ci, ".2f")


def print_leaderboard(board) -> None:
    """`bot arena`: one row per candidate, best score first; figures net of fees, funding and LLM cost,
    each estimate with its bootstrap interval, and a verdict against the incumbent."""
    span = f"since {when(board.window_start)}" if board.window_start else "all history"
    table = Table(
        "candidate",
        "kind",
        "ticks",
        "return",
        "Sharpe",
        "max DD",
        "P(>inc)",
        Column("verdict", min_width=len("not distinguishable yet")),  # never cut to "distinguish…"
        "trades",
        "win rate",
        "fees",
        "funding",
        "LLM $",
        "$/trade",
        "avg hold",
        "long/short",
        f"score ({board.metric})",
        title=f"arena · {span} · net of fees, funding and LLM cost · [95 % bootstrap interval]",
    )
    for s in board.standings:
        table.add_row(
            s.name + (" *" if s.name == board.active else ""),
            s.strategy,
            str(s.ticks),
            _with(f"{s.return_pct:+.2f}%", s.return_ci_pct, "+.2f"),
            sharpe_cell(s),
            _with(f"{s.max_drawdown_pct:.2f}%", s.max_drawdown_ci_pct, ".2f"),
            _num(s.psr_vs_incumbent, ".3f"),
            s.verdict,
            str(s.trades),
            _num(s.win_rate_pct, ".1f"),
            f"{s.fees_usd:.2f}",
            f"{s.funding_usd:+.2f}",
            f"{s.llm_usd:.4f}",
            _num(s.llm_usd_per_trade, ".4f"),
            _num(s.avg_hold_hours, ".2f") + (" h" if s.avg_hold_hours is not None else ""),
            f"{s.longs}/{s.shorts}",
            _num(s.score, ".3f"),
        )
    console.print(table)
    since = f" since {when(board.since)}" if board.since else ""
    rotation = (
        "pinned (`bot arena unpin`)" if board.pinned else "rotation on" if board.rotation_enabled else "rotation off"
    )
    console.print(f"* {board.active} runs the account{since} · {rotation}")
    console.print(
        f"P(>inc): probabilistic Sharpe ratio against the incumbent's Sharpe (Bailey & López de Prado); "
        f"verdict at {board.verdict_probability:g} · intervals: {board.bootstrap}"
    )
    for spread in board.spreads:
        sharpe = "n/a" if spread.sharpe is None else f"{spread.sharpe[0]:.2f} .. {spread.sharpe[1]:.2f}"
        console.print(
            f"{spread.candidate} x {spread.instances} books: return {spread.return_pct[0]:+.2f} .. "
            f"{spread.return_pct[1]:+.2f} %, Sharpe {sharpe}, max DD {spread.max_drawdown_pct[0]:.2f} .. "
            f"{spread.max_drawdown_pct[1]:.2f} % (rotation scores their mean)"
        )
    for record in board.rotations[-3:]:
        console.print(f"  {when(record.at)}: {record.reason}")
