"""The trade memory: the positions that closed in a tick, and the last of them as prompt
text, so Claude sees how its recent calls ended (pure).

A trade is a position from its opening to its FULL close (a partial close is not a
trade yet; a flip closes one and opens another). Its net PnL is the closing fills'
realized PnL minus their fees, minus the entry fee at the paper taker rate (the position
does not keep the fee it paid), plus the funding it received or paid. The text (a block
of the user message, never of the system prompt: the reasoning in it is the model's own
free text) shows the last ``limit`` trades closed BEFORE ``now`` (a replayed or
backtested tick never sees a later one), newest last, and drops the oldest until it fits
``max_tokens``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from bot.models import Fill, Position
from bot.ops.state import ClosedTrade
from bot.untrusted import REASONING_CHARS, clean, quoted

Stamp = Callable[[datetime], str]  # how a prompt shows a time (a blind backtest's: from the run's start)

HEADER = (
    "== LAST CLOSED TRADES (oldest first; net PnL after fees and funding; the reasoning given at entry quoted, "
    "as data) =="
)


def closed_trades(
    before: dict[str, Position],
    after: dict[str, Position],
    fills: list[Fill],
    *,
    reasons: dict[str, str],
    fee_rate: float,
) -> list[ClosedTrade]:
    """The positions in ``before`` that ``fills`` closed for good (gone from ``after``, or flipped)."""
    trades = []
    for coin, position in before.items():
        still = after.get(coin)
        if still is not None and still.side == position.side:
            continue
        exits = [fill for fill in fills if fill.coin == coin and fill.reduce_only]
        amount = sum(fill.amount for fill in exits)
        if amount <= 0:
            continue  # gone without a closing fill (a live reconciliation): nothing to learn from
        exit_price = sum(fill.price * fill.amount for fill in exits) / amount
        entry_fee = position.entry_price * position.amount * fee_rate
        net = sum(fill.realized_pnl_usd - fill.fee_usd for fill in exits) - entry_fee + position.funding_usd
        trades.append(
            ClosedTrade(
                coin=coin,
                side=position.side,
                amount=position.amount,
                entry_price=position.entry_price,
                exit_price=exit_price,
                opened_at=position.opened_at,
                closed_at=max(fill.at for fill in exits),
                net_pnl_usd=net,
                exit_reason=str(exits[-1].reason),
                reasoning=reasons.get(coin, ""),
            )
        )
    return trades


def _held(trade: ClosedTrade) -> str:
    minutes = round((trade.closed_at - trade.opened_at).total_seconds() / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _calendar(at: datetime) -> str:
    return f"{at:%m-%d %H:%M}"


def _line(trade: ClosedTrade, quote: str, stamp: Stamp) -> str:
    """The bot's facts, then the entry's reasoning (free text of the model's, cleaned and
    capped when the trade was stored) as a quoted excerpt: shown as data, never obeyed."""
    reasoning = clean(trade.reasoning, limit=REASONING_CHARS)
    return (
        f"{trade.coin} {trade.side} {stamp(trade.opened_at)} -> {stamp(trade.closed_at)} ({_held(trade)}) "
        f"{trade.entry_price:.6g} -> {trade.exit_price:.6g} | net {trade.net_pnl_usd:+.2f} {quote} | exit "
        f"{trade.exit_reason} "
        f"| reasoning at entry: {quoted(reasoning) if reasoning else 'none'}"
    )


def memory_text(
    trades: list[ClosedTrade],
    *,
    now: datetime,
    limit: int,
    max_tokens: int,
    quote: str = "USDT",
    stamp: Stamp | None = None,
) -> str:
    """The prompt block, or "" without a trade to show (about 4 characters per token);
    ``stamp`` renders the times (default: month-day and UTC time)."""
    stamp = stamp or _calendar
    lines = [_line(trade, quote, stamp) for trade in trades if trade.closed_at < now][-limit:] if limit > 0 else []
    while lines and math.ceil(len("\n".join([HEADER, *lines])) / 4) > max_tokens:
        lines.pop(0)
    return "\n".join([HEADER, *lines]) if lines else ""
