"""Brokers turn approved order plans into fills: paper (simulated) or live (ccxt)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.models import Fill, FundingPayment, OrderPlan, Position, Snapshot


class Book(Protocol):
    """The part of the bot's state a broker reads and changes."""

    cash_usd: float
    positions: dict[str, Position]
    fees_paid_usd: float
    realized_pnl_usd: float
    funding_usd: float  # net funding received (+) or paid (-), all time
    funding_payments: list[FundingPayment]  # the payments booked by the last settle()


class Broker(Protocol):
    async def settle(self, *, book: Book, snapshot: Snapshot, now: datetime) -> list[Fill]:
        """Bring ``book`` up to date with what happened since the last tick, before anyone decides.

        Paper: stop-loss / take-profit / liquidation triggers from the candles since the
        last tick and funding settlements, in time order. Live: reconcile with the exchange.
        Sets ``book.funding_payments`` to the funding booked by this call.
        """
        ...

    async def execute(self, plans: list[OrderPlan], *, book: Book, prices: dict[str, float], now: datetime) -> list[Fill]:
        """Send ``plans`` in order, update ``book`` and return what filled."""
        ...
