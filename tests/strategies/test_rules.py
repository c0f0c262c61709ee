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


def _long_setup(funding_rate: float, interval_h: float):
    """A long setup (4h and 3m trends up, MACD above its signal, RSI14 60) with this funding."""
    from bot.models import CoinFeatures, Context4h

    h4 = Context4h(ema20=101, ema50=100, atr3=1, atr14=1, volume=1, volume_avg=1, macd=[0.0], rsi14=[50.0])
    return CoinFeatures(
        coin="BTC",
        as_of_ms=0,
        price=102,
        ema20=101,
        ema50=100,
        macd=1,
        macd_signal=0,
        rsi7=60,
        rsi14=60,
        atr3=1,
        atr14=1,
        volume=1,
        series={name: [1.0] for name in ("price", "ema20", "macd", "rsi7", "rsi14")},
        h4=h4,
        funding_rate=funding_rate,
        funding_interval_h=interval_h,
    )


def test_the_funding_filter_compares_every_interval_at_its_8_hour_equivalent():
    """MAX_FUNDING is 0.05 % per 8 h. Hourly 0.01 % (Hyperliquid) is 0.08 % per 8 h: too crowded,
    skipped (read as an 8-hour rate it passed, 8x too loose). Hourly 0.006 % is 0.048 %: taken.
    4-hourly 0.03 % is 0.06 %: skipped; 8-hourly 0.04 % as before: taken."""
    from bot.config import RulesSettings
    from bot.models import Action, ReturnStats
    from bot.strategies.rules import funding_8h
    from bot.tick.portfolio import portfolio_of

    assert funding_8h(0.0001, 1.0) == 0.0008 and funding_8h(0.0003, 4.0) == 0.0006
    portfolio = portfolio_of(cash_usd=10_000, positions={}, prices={}, initial_equity_usd=10_000, stats=ReturnStats())
    rules = RulesStrategy(RulesSettings())

    class NoPrompt:
        briefing = None

    def acts(rate: float, hours: float) -> list:
        features = {"BTC": _long_setup(rate, hours)}
        return [d.action for d in asyncio.run(rules.decide(features=features, portfolio=portfolio, prompt=NoPrompt()))]

    assert acts(0.0001, 1.0) == [] and acts(0.0003, 4.0) == []
    assert acts(0.00006, 1.0) == [Action.BUY] and acts(0.0004, 8.0) == [Action.BUY]
