"""`bot backtest`'s guards around an LLM: the look-ahead warning and the cost gate."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.backtest.loop import run_backtest
from bot.backtest.runner import _CostGate, cutoff_warning
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import Usage
from bot.strategies.cache import CachedStrategy, DecisionCache
from bot.tick.protocols import Trace
from bot.venues.history import HistoryMarket
from tests.backtest.test_loop import START

CUTOFFS = {"claude-sonnet-4-6": date(2025, 8, 31)}


def test_a_span_before_the_training_cutoff_is_flagged_loudly():
    before = cutoff_warning(
        CUTOFFS, "claude-sonnet-4-6", start=datetime(2025, 6, 1, tzinfo=UTC), end=datetime(2025, 6, 14, tzinfo=UTC)
    )
    assert before.startswith(
        "LOOK-AHEAD: claude-sonnet-4-6 was trained on data up to 2025-08-31: it may remember the prices of the whole "
        "span."
    )
    straddling = cutoff_warning(
        CUTOFFS, "claude-sonnet-4-6", start=datetime(2025, 8, 1, tzinfo=UTC), end=datetime(2025, 10, 1, tzinfo=UTC)
    )
    assert "it may remember the prices of 2025-08-01 to 2025-08-31 of this span" in straddling
    assert (
        cutoff_warning(
            CUTOFFS, "claude-sonnet-4-6", start=datetime(2025, 9, 1, tzinfo=UTC), end=datetime(2025, 10, 1, tzinfo=UTC)
        )
        == ""
    )
    unknown = cutoff_warning(
        CUTOFFS, "claude-next", start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert unknown.startswith(
        "LOOK-AHEAD UNKNOWN: no knowledge cutoff is configured for claude-next (backtest.knowledge_cutoffs)"
    )


class Paid:
    """Holds every coin; each answer costs 0.5 USD."""

    name = "paid"

    def __init__(self) -> None:
        self.calls = 0
        self.trace = None

    async def decide(self, *, features, portfolio, prompt):
        self.calls += 1
        self.trace = Trace(usage=Usage(calls=1, cost_usd=0.5))
        return []


def _guarded(tmp_path, *, max_cost: float | None, per_call: float, calls: int):
    paid = Paid()
    cached = None
    gate = _CostGate(
        paid,
        estimate=lambda n: n * per_call,
        remaining=lambda: calls - cached.hits - cached.misses,
        max_cost_usd=max_cost,
    )
    cached = CachedStrategy(gate, cache=DecisionCache(tmp_path / "d.sqlite"), identity="m")
    return paid, gate, cached


def _run(cached, gate, end):
    settings = Settings(trading={"coins": ["BTC"]})
    return asyncio.run(
        run_backtest(
            settings, market=HistoryMarket(), strategy=cached, start=START, end=end, should_stop=gate.stop_reason
        )
    )


def test_an_estimate_above_max_cost_stops_before_the_first_paid_call(tmp_path):
    paid, gate, cached = _guarded(tmp_path, max_cost=1.0, per_call=0.3, calls=11)
    with pytest.raises(
        ConfigError,
        match=r"stopped at 2025-06-02 01:00 UTC \(1 of 11 ticks\): --strategy claude: the 11 uncached calls ahead are "
        r"estimated at up to 3.3000 USD, above --max-cost 1 USD",
    ):
        _run(cached, gate, START + timedelta(minutes=30))
    assert paid.calls == 0 and len(cached.cache) == 0  # nothing asked, no refusal cached as an answer


def test_spend_beyond_max_cost_stops_the_run_and_a_rerun_repeats_the_cached_part_for_free(tmp_path):
    paid, gate, cached = _guarded(tmp_path, max_cost=2.0, per_call=0.1, calls=11)  # estimate 1.10 passes
    with pytest.raises(
        ConfigError,
        match=r"stopped at 2025-06-02 01:12 UTC \(5 of 11 ticks\): the LLM spend reached 2.5000 USD, above --max-cost "
        r"2 USD",
    ):
        _run(cached, gate, START + timedelta(minutes=30))
    assert paid.calls == 5 and len(cached.cache) == 5
    again_paid, again_gate, again_cached = _guarded(tmp_path, max_cost=None, per_call=0.1, calls=11)  # --yes
    result = _run(again_cached, again_gate, START + timedelta(minutes=30))
    assert (again_cached.hits, again_cached.misses, again_paid.calls) == (5, 6, 6)
    assert result.outcomes == {"ok": 11}


def test_a_fully_cached_rerun_never_meets_the_gate(tmp_path):
    _, gate, cached = _guarded(tmp_path, max_cost=None, per_call=0.1, calls=11)
    _run(cached, gate, START + timedelta(minutes=30))
    paid, gate, cached = _guarded(tmp_path, max_cost=0.0, per_call=100.0, calls=11)  # would refuse any call
    result = _run(cached, gate, START + timedelta(minutes=30))
    assert paid.calls == 0 and cached.hits == 11 and result.outcomes == {"ok": 11}
