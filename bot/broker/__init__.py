"""Brokers turn approved order plans into fills: paper (simulated) or live (ccxt)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.models import Fill, OrderPlan, Position


class Book(Protocol):
    """The part of the bot's state a broker reads and changes."""

    cash_usd: float
    positions: dict[str, Position]
    fees_paid_usd: float
    realized_pnl_usd: float


class Broker(Protocol):
    async def execute(self, plans: list[OrderPlan], *, book: Book, prices: dict[str, float], now: datetime) -> list[Fill]:
        """Send ``plans`` in order, update ``book`` and return what filled."""
        ...
