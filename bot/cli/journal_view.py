"""`bot journal`'s renderings: the ticks or the fills as one table, and the journal's
unreadable lines named on stderr; imported only by the command that prints them."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bot.cli.views import console, money


def print_unreadable(skipped: list[Any], *, total: int | None) -> None:
    """The journal's lines a read passed over, named (to stderr: the rows stay one table or one JSON list)."""
    if not skipped and not total:
        return
    err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    for bad in skipped:
        err.print(f"warning: skipped an unreadable journal line: {bad}")
    if total and total > len(skipped):
        err.print(f"warning: the journal holds {total} unreadable line(s) in all (`bot status` names them)")


def print_journal(rows: list[dict[str, Any]], *, trades: bool) -> None:
    if not rows:
        console.print("no trades in the journal yet" if trades else "no ticks in the journal yet")
        return
    if trades:
        table = Table(
            "time",
            "coin",
            "side",
            "open/close",
            "amount",
            "price",
            "fee",
            "PnL",
            "reason",
            title=f"last {len(rows)} trades",
        )
        for row in rows:
            pnl = f"{row['realized_pnl_usd']:+,.2f}" if row["action"] == "close" else "-"
            table.add_row(
                row["at"][:16].replace("T", " "),
                row["coin"],
                row["side"],
                row["action"],
                f"{row['amount']:g}",
                f"{row['price']:.6g}",
                f"{row['fee_usd']:.2f}",
                pnl,
                row["reason"] or "-",
            )
    else:
        table = Table(
            "tick",
            "time",
            "outcome",
            "coins",
            "decisions",
            "fills",
            "equity",
            "return",
            "ms",
            "message",
            title=f"last {len(rows)} ticks",
        )
        for row in rows:
            equity = "-" if row["equity_usd"] is None else money(row["equity_usd"])
            ret = "-" if row["return_pct"] is None else f"{row['return_pct']:+.2f}%"
            ms = "-" if row["duration_ms"] is None else f"{row['duration_ms']:.0f}"
            table.add_row(
                str(row["tick"]),
                (row["as_of"] or "")[:16].replace("T", " "),
                row["outcome"],
                str(row["coins_loaded"]),
                str(row["decisions"]),
                str(row["fills"]),
                equity,
                ret,
                ms,
                row["message"],
            )
    console.print(table)
