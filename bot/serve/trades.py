"""Closed trades and the profit per coin and per UTC day, from the journal's fills (pure).

The round trips are the backtest's (``bot.backtest.loop.trades_from_fills``: averaged
entries, partial exits, fees of both sides, funding while open), so the page, `bot
backtest` and the arena's leaderboard count a trade the same way. A position still open is
not a closed trade: it is on the positions table with its unrealized PnL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from bot.models import Fill
from bot.serve.schemas import ClosedTradeRow, CoinProfit, DayProfit, Profit

DAYS_SHOWN = 30  # the per-day table: the last 30 UTC days that closed a trade


def closed_trades(fills: list[Fill], funding: list[tuple[str, datetime, float]]) -> list[ClosedTradeRow]:
    """Every round trip closed in ``fills`` (journal order), oldest exit first."""
    if not fills:
        return []
    from bot.backtest.loop import END_OF_BACKTEST, trades_from_fills  # numpy and the engine: only with trades
    from bot.ops.state import BotState

    flat = BotState.fresh(mode="paper", initial_equity_usd=0.0)  # no book: a trade still open is dropped below
    trades = trades_from_fills(fills, funding=funding, state=flat, end=fills[-1].at, last_prices={})
    return [
        ClosedTradeRow.model_validate(trade.model_dump()) for trade in trades if trade.exit_reason != END_OF_BACKTEST
    ]


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
