"""A tick driven by hand for the operations tests: a market that fails on cue, a scripted
decision, the context and the clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.errors import MarketDataError
from bot.models import Decision
from bot.tick.engine import TickContext, run_tick
from bot.venues.history import HistoryMarket
from bot.venues.paper import PaperBroker
from tests.fakes.memory import MemoryJournal, MemoryStore

T0 = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)  # a Tuesday


class FlakyMarket(HistoryMarket):
    """Recorded history that goes down on demand, counting the calls it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    async def snapshot(self, coins, now):
        self.calls += 1
        if self.down:
            raise MarketDataError("cannot load markets: ExchangeNotAvailable 503")
        return await super().snapshot(coins, now)


def _decision(coin, action):
    return Decision(coin=coin, action=action, confidence=0.9, size_pct=10, leverage=2, stop_loss=None, take_profit=None)


def _ctx(strategy, *, notifier=None, **ops_settings):
    settings = Settings(trading={"coins": ["BTC", "ETH"]}, ops=ops_settings)
    return TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=FlakyMarket(),
        strategy=strategy,
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
        notifier=notifier,
    )


def _at(ctx, minutes):
    return asyncio.run(run_tick(ctx, T0 + timedelta(minutes=minutes)))
