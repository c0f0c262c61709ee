"""The arena's leaderboard as a table (`bot arena`, `bot backtest --arena`); imported only
by the commands that print it."""

from __future__ import annotations

from rich.table import Table

from bot.cli.views import console, when


def print_leaderboard(board) -> None:
    """`bot arena`: one row per candidate, best score first; figures net of fees, funding and LLM cost."""

    def num(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    span = f"since {when(board.window_start)}" if board.window_start else "all history"
    table = Table(
        "candidate",
        "kind",
        "ticks",
        "return",
        "Sharpe",
        "max DD",
        "trades",
        "win rate",
        "fees",
        "funding",
        "LLM $",
        "avg hold",
        "long/short",
        f"score ({board.metric})",
        title=f"arena · {span} · net of fees, funding and LLM cost",
    )
    for s in board.standings:
        table.add_row(
            s.name + (" *" if s.name == board.active else ""),
            s.strategy,
            str(s.ticks),
            f"{s.return_pct:+.2f}%",
            num(s.sharpe, ".2f"),
            f"{s.max_drawdown_pct:.2f}%",
            str(s.trades),
            num(s.win_rate_pct, ".1f"),
            f"{s.fees_usd:.2f}",
            f"{s.funding_usd:+.2f}",
            f"{s.llm_usd:.4f}",
            num(s.avg_hold_hours, ".2f") + (" h" if s.avg_hold_hours is not None else ""),
            f"{s.longs}/{s.shorts}",
            num(s.score, ".3f"),
        )
    console.print(table)
    since = f" since {when(board.since)}" if board.since else ""
    rotation = (
        "pinned (`bot arena unpin`)" if board.pinned else "rotation on" if board.rotation_enabled else "rotation off"
    )
    console.print(f"* {board.active} runs the account{since} · {rotation}")
    for record in board.rotations[-3:]:
        console.print(f"  {when(record.at)}: {record.reason}")
