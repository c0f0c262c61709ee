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


def _setup(direction: float):
    """A long (+1) or short (-1) setup at 100,000 with a 4h ATR14 of 1,000."""
    from bot.features import CoinFeatures, Context4h

    trend = {"ema20": 100_000 + direction * 100, "ema50": 100_000.0}
    h4 = Context4h(atr3=1_000.0, atr14=1_000.0, volume=1.0, volume_avg=1.0, macd=[0.0], rsi14=[50.0], **trend)
    return CoinFeatures(
        coin="BTC",
        as_of_ms=0,
        price=100_000.0,
        series={},
        h4=h4,
        **trend,
        macd=direction,
        macd_signal=0.0,
        rsi7=50 + direction * 10,
        rsi14=50 + direction * 10,
        atr3=100.0,
        atr14=100.0,
        volume=1.0,
    )


def _entry(direction: float, reward_risk: float):
    from bot.config import PaperSettings, RulesSettings
    from bot.strategies.rules import RulesStrategy

    strategy = RulesStrategy(
        RulesSettings(stop_atr=2.0, reward_risk=reward_risk), paper=PaperSettings(taker_fee_pct=0.05, slippage_pct=0.02)
    )
    decision = strategy._enter(_setup(direction))
    assert decision is not None
    return decision


def test_gh36_2_the_rules_take_profit_earns_reward_risk_times_the_stop_net_of_the_round_trips_costs():
    """Long at 100,000, stop 2 ATRs = 98,000, fee 0.05 %, slippage 0.02 %. The stop loses, per
    BTC: in at 100,020 (fee 50.01), out at 97,980.4 (fee 48.9902): 2,138.6002. At 1.5 the take
    must earn 3,207.9003 after both fills: T x 0.9998 x 0.9995 = 100,020 x 1.0005 + 3,207.9003,
    T = 103,350.245. Before: 103,000 (1.5 x 2,000 gross), 1.336 net: the risk step refused it.
    The short mirrors it: 96,650.245 (the stop at 102,000 loses 2,141.4002)."""
    import pytest

    long = _entry(1.0, 1.5)
    assert long.stop_loss == 98_000 and long.take_profit == pytest.approx(103_350.2451, abs=1e-4)
    short = _entry(-1.0, 1.5)
    assert short.stop_loss == 102_000 and short.take_profit == pytest.approx(96_650.2449, abs=1e-4)


def test_gh36_2_rules_at_the_risk_steps_minimum_pass_it_rounded_to_the_price_step():
    """103,350.245 rounds to 103,350.2, 1.49998 net: the take-profit goes one step out to
    103,350.3 (1.50001) rather than refuse what asked exactly the minimum. Before: refused."""
    from tests.tick.test_risk import _review

    [verdict] = _review(_entry(1.0, 1.5), taker_fee_pct=0.05, slippage_pct=0.02)
    assert verdict.verdict == "approved", verdict.reason
    assert verdict.plan.stop_loss == 98_000 and verdict.plan.take_profit == 103_350.3
    assert verdict.reason.startswith("take-profit rounded out to 103,350.3 to keep reward:risk 1.5 net")


def test_gh36_2_a_take_profit_asked_at_the_minimum_to_the_last_float_bit_passes():
    """ETH short on the sample at 06-02 09:00: price 2,493.3, the rules' stop 2,563.1009...,
    take-profit 2,379.8781... for 1.5 net, which the check computes as 1.4999999999999998
    (float rounding of the inverse). Before: refused "reward:risk 1.50 below the minimum 1.5"
    (13 such refusals on the sample at reward_risk 1.5)."""
    from bot.models import Action, Decision
    from bot.tick.risk_entry import take_profit_for
    from tests.tick.test_risk import _review

    take = take_profit_for(
        2_493.3, stop=2_563.100918180814, reward_risk=1.5, long=False, taker_fee_pct=0.05, slippage_pct=0.02
    )
    assert take == 2_379.878177912197
    decision = Decision(
        coin="ETH",
        action=Action.SELL,
        confidence=0.8,
        size_pct=10,
        leverage=3,
        stop_loss=2_563.100918180814,
        take_profit=take,
    )
    [verdict] = _review(decision, prices={"BTC": 100_000.0, "ETH": 2_493.3}, taker_fee_pct=0.05, slippage_pct=0.02)
    assert verdict.verdict == "approved", verdict.reason
    assert (verdict.plan.stop_loss, verdict.plan.take_profit) == (2_563.1, 2_379.87)
