"""Positions the tick's tests share."""

from __future__ import annotations

from datetime import datetime

from bot.models import Position, Side


def doge_long(*, stop: float, since: datetime) -> Position:
    """10,000 DOGE long at 0.19498 with 2x leverage, settled up to ``since``."""
    return Position(
        coin="DOGE",
        symbol="DOGE/USDT:USDT",
        side=Side.LONG,
        amount=10_000,
        entry_price=0.19498,
        leverage=2,
        margin_usd=974.9,
        opened_at=since,
        settled_until=since,
        stop_loss=stop,
    )
