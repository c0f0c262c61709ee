"""The decision cache: a re-run of the same backtest asks nothing and reproduces the first run."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import numpy as np
import pytest

from bot.backtest.loop import run_backtest
from bot.config import Settings
from bot.models import Action, Decision, Usage
from bot.strategies.cache import CachedStrategy, DecisionCache, cache_key
from bot.tick.prompt import Prompt
from bot.tick.protocols import Trace
from bot.venues.history import HistoryMarket
from tests.backtest.test_loop import START


class Moody:
    """A paid strategy that never answers the same way twice (like an LLM at temperature > 0)."""

    name = "moody"

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.calls = 0
        self.trace = None

    async def decide(self, *, features, portfolio, prompt):
        self.calls += 1
        self.trace = Trace(
            usage=Usage(calls=1, input_tokens=1000, output_tokens=100, cost_usd=0.0045),
            invalid={"XRP": "stop on the wrong side"},
        )
        decisions = []
        for coin, f in features.items():
            if coin in portfolio.positions:
                if self.random.random() < 0.2:
                    decisions.append(Decision(coin=coin, action=Action.CLOSE, confidence=0.9))
            elif self.random.random() < 0.1:
                buy = self.random.random() < 0.5
                stop = f.price * (0.98 if buy else 1.02)
                decisions.append(
                    Decision(
                        coin=coin,
                        action=Action.BUY if buy else Action.SELL,
                        confidence=0.8,
                        size_pct=10,
                        leverage=2,
                        stop_loss=stop,
                    )
                )
        return decisions


class Failing:
    name = "failing"
    trace = None  # free: nothing to account

    async def decide(self, *, features, portfolio, prompt):
        raise TimeoutError("the API took too long")


PROMPT = Prompt(system="rules", user="Time 2025-06-02 01:00 UTC, tick 1.")


def test_the_key_changes_with_identity_system_and_user_part():
    keys = {
        cache_key("claude-sonnet-4-6|t=0.2", PROMPT),
        cache_key("claude-haiku-4-5|t=0.2", PROMPT),
        cache_key("claude-sonnet-4-6|t=0.2", Prompt(system="rules!", user=PROMPT.user)),
        cache_key("claude-sonnet-4-6|t=0.2", Prompt(system="rules", user=PROMPT.user + " ")),
    }
    assert len(keys) == 4
    assert cache_key("claude-sonnet-4-6|t=0.2", PROMPT) == cache_key(
        "claude-sonnet-4-6|t=0.2", Prompt(system="rules", user=PROMPT.user)
    )


def test_a_second_identical_question_is_answered_from_disk_for_free(tmp_path):
    inner = Moody(1)
    inner.random.random = lambda: 0.05  # always act
    first = CachedStrategy(inner, cache=DecisionCache(tmp_path / "d.sqlite"), identity="m")
    market = HistoryMarket()
    from bot.models import ReturnStats
    from bot.tick.indicators import compute_features
    from bot.tick.portfolio import portfolio_of

    features = compute_features(market.snapshot_at(["BTC"], START))
    portfolio = portfolio_of(
        cash_usd=10_000,
        positions={},
        prices={"BTC": features["BTC"].price},
        initial_equity_usd=10_000,
        stats=ReturnStats(),
    )
    answer = asyncio.run(first.decide(features=features, portfolio=portfolio, prompt=PROMPT))
    assert first.trace.usage.cost_usd == 0.0045 and (first.hits, first.misses) == (0, 1)
    # a new process: a new cache object on the same file
    again = CachedStrategy(Moody(2), cache=DecisionCache(tmp_path / "d.sqlite"), identity="m")
    assert asyncio.run(again.decide(features=features, portfolio=portfolio, prompt=PROMPT)) == answer
    assert again.inner.calls == 0 and (again.hits, again.misses) == (1, 0) and again.saved_usd == 0.0045
    other = CachedStrategy(Moody(3), cache=DecisionCache(tmp_path / "d.sqlite"), identity="another model")
    asyncio.run(other.decide(features=features, portfolio=portfolio, prompt=PROMPT))
    assert other.inner.calls == 1


def test_failures_are_not_cached(tmp_path):
    cache = DecisionCache(tmp_path / "d.sqlite")
    strategy = CachedStrategy(Failing(), cache=cache, identity="m")
    with pytest.raises(TimeoutError):
        asyncio.run(strategy.decide(features={}, portfolio=None, prompt=PROMPT))
    assert len(cache) == 0


def test_a_cached_rerun_of_a_backtest_asks_nothing_and_reproduces_it_exactly(tmp_path):
    settings = Settings(trading={"coins": ["BTC", "ETH", "SOL"]})
    end = START + timedelta(hours=6)

    def run(seed: int):
        strategy = CachedStrategy(Moody(seed), cache=DecisionCache(tmp_path / "d.sqlite"), identity="m")
        result = asyncio.run(run_backtest(settings, market=HistoryMarket(), strategy=strategy, start=START, end=end))
        return strategy, result

    first, first_result = run(seed=1)
    assert first.misses == 121 and first.hits == 0 and first_result.trades
    assert first_result.llm_cost_usd == pytest.approx(121 * 0.0045)
    second, second_result = run(seed=99)  # the inner strategy would now answer differently
    assert second.inner.calls == 0 and second.hits == 121
    assert second_result.llm_cost_usd == 0.0
    np.testing.assert_array_equal(second_result.equity_usd, first_result.equity_usd)
    assert second_result.trades == first_result.trades
