"""`bot models`' figures, worked by hand: a day of ticks estimated from the prompt, or measured."""

from __future__ import annotations

import pytest

from bot.config import DEFAULT_PRICES
from bot.strategies.cache_floor import CacheFloor
from bot.strategies.catalog import estimated, measured

SONNET = DEFAULT_PRICES["claude-sonnet-5-5"]  # 2 / 10 / 2.5 / 0.10 USD per MTok


def test_a_day_estimated_cached_only_where_the_answers_said_so():
    # a 1,000-token prefix, 1,290 of user turn, 240 out
    rest = 480 * (1290 * 2 + 240 * 10) / 1e6  # 2.3904 USD
    cached = estimated(1000, 1290, SONNET, CacheFloor(at_most=900))
    # one write at 2.50 then 479 reads at 0.10: 1,000 x (2.5 + 47.9) / 1e6 = 0.0504
    assert cached.cached is True and cached.usd_per_day == pytest.approx(0.0504 + rest)
    assert (cached.prompt_tokens, cached.output_tokens, cached.measured_ticks) == (2290, 240, 0)
    below = estimated(1000, 1290, SONNET, CacheFloor(above=1500))
    assert below.cached is False and below.usd_per_day == pytest.approx(480 * 1000 * 2 / 1e6 + rest)  # 0.96 more
    unknown = estimated(1000, 1290, SONNET, None)
    assert unknown.cached is None and unknown.usd_per_day == below.usd_per_day


def test_a_day_measured_from_the_models_own_ticks_newest_first():
    def record(model, cost, prompt):
        usage = {"calls": 1, "input_tokens": prompt, "output_tokens": 300, "cost_usd": cost}
        return {"model": model, "usage": usage}

    journal = [
        record("claude-sonnet-5-5", 0.006, 3000),
        {"model": "", "usage": {"calls": 0}},  # a rules tick
        record("claude-haiku-5-5", 0.5, 9999),
        record("claude-sonnet-5-5", 0.008, 2000),
    ]
    cost = measured(journal, "claude-sonnet-5-5", SONNET)
    assert (cost.measured_ticks, cost.prompt_tokens, cost.output_tokens) == (2, 2500, 300)
    assert cost.usd_per_day == pytest.approx(0.007 * 480)
    assert measured(journal, "claude-opus-5-5", SONNET) is None
