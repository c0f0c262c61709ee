"""The strategies the config builds (bot/strategies/__init__.py): the budget's fallback to the
rules, said once and reset at midnight, and the hold fallback."""

from __future__ import annotations

import pytest

from bot.models import Outcome
from tests.fakes.anthropic import tool_call
from tests.strategies.claudekit import USAGE, _ctx, _run


def test_the_budget_falls_back_to_rules_once_spent_says_so_once_and_resets_at_midnight(fake_anthropic):
    ctx = _ctx(fake_anthropic, budget=0.013)  # two calls at $0.0066 reach it
    fake_anthropic.script(*[tool_call({"decisions": []}, usage=USAGE)] * 3)
    reports = [_run(ctx, minutes) for minutes in (0, 3, 6, 9)]
    assert [r.strategy for r in reports] == ["claude", "claude", "rules", "rules"]
    assert [r.outcome for r in reports] == [Outcome.OK] * 4
    assert [r.message for r in reports] == [
        "",
        "",
        "LLM budget reached: 0.0132 USD spent on 2025-06-03, llm.max_usd_per_day = 0.013; "
        "rules decides until 00:00 UTC",
        "",
    ]
    assert [r.usage.calls for r in reports] == [1, 1, 0, 0]
    assert len(fake_anthropic.requests) == 2  # no call once the budget is spent
    assert ctx.store.state.llm.spent("2025-06-03").cost_usd == pytest.approx(0.0132, abs=1e-12)

    next_day = _run(ctx, 12 * 60)  # 2025-06-04 00:00 UTC: a new budget
    assert next_day.strategy == "claude" and next_day.usage.calls == 1


def test_the_hold_fallback_decides_nothing(fake_anthropic):
    ctx = _ctx(fake_anthropic, budget=0.0, fallback="hold")
    report = _run(ctx)
    assert report.strategy == "hold" and report.decisions == [] and report.fills == []
    assert report.message.startswith(
        "LLM budget reached: 0.0000 USD spent on 2025-06-03, llm.max_usd_per_day = 0;"
    ) and report.message.endswith("hold decides until 00:00 UTC")
    assert fake_anthropic.requests == []
