"""Closed trades and the profit per coin and per UTC day, from the journal's fills (pure).

The round trips are the backtest's (``bot.backtest.loop.trades_from_fills``: averaged
entries, partial exits, fees of both sides, funding while open), plugged in by `bot serve`
(``Readers``: ``serve`` imports only tick, ops and the root), so the page, `bot backtest`
and the arena's leaderboard count a trade the same way. A position still open is not a
closed trade: it is on the positions table with its unrealized PnL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.models import Fill
from bot.serve.schemas import ClosedTradeRow, CoinProfit, DayProfit, Profit

DAYS_SHOWN = 30  # the per-day table: the last 30 UTC days that closed a trade


class Readers:
    """What the web face shows but does not compute itself: the layers above ``serve`` plug it in
    (``bot.cli.serve``), as they plug a strategy into a tick. ``round_trips`` pairs the journal's
    fills and funding into closed trades (as dicts of ``ClosedTradeRow``'s fields);
    ``leaderboard`` is the arena's at a time (``bot arena --json``), None without an arena."""

    def __init__(
        self,
        round_trips: Callable[[list[Fill], list[tuple[str, datetime, float]]], list[dict[str, Any]]] | None = None,
        leaderboard: Callable[[datetime | None], dict[str, Any]] | None = None,
    ) -> None:
        self.round_trips = round_trips
        self.leaderboard = leaderboard


def closed_trades(
    readers: Readers, fills: list[Fill], funding: list[tuple[str, datetime, float]]
) -> list[ClosedTradeRow]:
    """Every round trip closed in ``fills`` (journal order), oldest exit first."""
    if not fills or readers.round_trips is None:
        return []
    return [ClosedTradeRow.model_validate(trade) for trade in readers.round_trips(fills, funding)]


def profit_of(trades: list[ClosedTradeRow]) -> Profit:
    """Totals, per coin (best first) and per UTC day of the exit (newest first), net of fees and funding."""
    coins: dict[str, CoinProfit] = {}
    days: dict[str, DayProfit] = defaultdict(lambda: DayProfit(day="", trades=0, net_pnl_usd=0.0, fees_usd=0.0))
    for trade in trades:
        coin = coins.setdefault(
            trade.coin, CoinProfit(coin=trade.coin, trades=0, wins=0, net_pnl_usd=0.0, fees_usd=0.0)
        )
        coin.trades += 1
        coin.wins += trade.pnl_usd > 0
        coin.net_pnl_usd += trade.pnl_usd
        coin.fees_usd += trade.fees_usd
        day = days[trade.exit_at.date().isoformat()]
        day.trades += 1
        day.net_pnl_usd += trade.pnl_usd
        day.fees_usd += trade.fees_usd
    for name, day in days.items():
        day.day = name
    wins = sum(trade.pnl_usd > 0 for trade in trades)
    return Profit(
        trades=len(trades),
        wins=wins,
        win_rate_pct=100.0 * wins / len(trades) if trades else None,
        net_pnl_usd=sum(trade.pnl_usd for trade in trades),
        fees_usd=sum(trade.fees_usd for trade in trades),
        funding_usd=sum(trade.funding_received_usd for trade in trades),
        by_coin=sorted(coins.values(), key=lambda coin: (-coin.net_pnl_usd, coin.coin)),
        by_day=sorted(days.values(), key=lambda day: day.day, reverse=True)[:DAYS_SHOWN],
    )
