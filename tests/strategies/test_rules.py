"""The rules strategy: its sentiment filter refuses shorts in extreme fear, only when on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.backtest.loop import run_backtest
from bot.config import Settings
from bot.config.intel import IntelSettings
from bot.intel.archive import ArchiveIntel
from bot.strategies.rules import RulesStrategy
from bot.venues.history import HistoryMarket
from tests.intel.intelkit import _archive, _day


def test_the_rules_sentiment_filter_refuses_shorts_in_extreme_fear_only_when_on(tmp_path):
    folder = _archive(tmp_path, minutes=range(0), points=[_day(1, 10, "Extreme Fear"), _day(2, 10, "Extreme Fear")])
    start, end = (
        datetime(2025, 6, 2, 1, 0, tzinfo=UTC),
        datetime(2025, 6, 2, 3, 0, tzinfo=UTC),
    )  # the sample's rules short at 01:00

    def trades(sentiment_filter: bool):
        settings = Settings(intel=IntelSettings(enabled=True), rules={"sentiment_filter": sentiment_filter})
        intel = ArchiveIntel(folder, coins=settings.trading.coins, settings=settings.intel)
        result = asyncio.run(
            run_backtest(
                settings,
                market=HistoryMarket(),
                strategy=RulesStrategy(settings.rules),
                start=start,
                end=end,
                intel=intel,
            )
        )
        return [(trade.coin, trade.side) for trade in result.trades]

    unfiltered = trades(False)
    assert unfiltered and {side for _, side in unfiltered} == {"short"}
    assert trades(True) == []  # Fear & Greed 10 <= fear_below 20: no short opens
