"""Claude's dollars: the cost of a call at Sonnet's prices, the daily ledger and its budget."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.models import Usage
from bot.ops.budget import LlmLedger, cache_hit_ratio, priced

SONNET = Settings().llm.prices["claude-sonnet-4-6"]


# -- dollars ----------------------------------------------------------------------------------


def test_cost_of_a_first_call_and_of_a_cache_hit_at_sonnet_prices():
    # 1,318 input, 139 output, 778 written to the cache: 1318*3 + 139*15 + 778*3.75 = 8,956.5 µ$
    first = priced(input_tokens=1318, output_tokens=139, cache_write_tokens=778, cache_read_tokens=0, price=SONNET)
    assert first.cost_usd == pytest.approx(0.0089565, abs=1e-12)
    # the same prefix read from the cache: 1318*3 + 139*15 + 778*0.30 = 6,272.4 µ$
    hit = priced(input_tokens=1318, output_tokens=139, cache_write_tokens=0, cache_read_tokens=778, price=SONNET)
    assert hit.cost_usd == pytest.approx(0.0062724, abs=1e-12)
    # saved against uncached input: the write costs 778 x (3.75 - 3) = 583.5 µ$ more, the read 778 x (3 - 0.30) =
    # 2,100.6 µ$ less
    assert first.plus(hit).model_dump() == {
        "calls": 2,
        "input_tokens": 2636,
        "output_tokens": 278,
        "thinking_tokens": 0,
        "cache_write_tokens": 778,
        "cache_read_tokens": 778,
        "cost_usd": pytest.approx(0.0152289, abs=1e-12),
        "cache_saved_usd": pytest.approx(0.0015171, abs=1e-12),
    }
    assert cache_hit_ratio(first.plus(hit)) == pytest.approx(778 / (2636 + 778 + 778))


def test_the_ledger_sums_per_day_keeps_31_days_and_knows_when_the_budget_is_spent():
    ledger = LlmLedger()
    call = Usage(calls=1, input_tokens=100, cost_usd=0.75)
    ledger.add("2025-06-01", call)
    ledger.add("2025-06-01", call)
    ledger.add("2025-06-01", Usage())  # no call, nothing recorded
    assert ledger.spent("2025-06-01") == Usage(calls=2, input_tokens=200, cost_usd=1.5)
    assert ledger.exhausted("2025-06-01", max_usd=1.5) and not ledger.exhausted("2025-06-01", max_usd=1.51)
    assert not ledger.exhausted("2025-06-02", max_usd=0.01)
    ledger.add("2025-07-02", call)  # 31 days later: June 1st is dropped
    assert list(ledger.spend_by_day) == ["2025-07-02"]
