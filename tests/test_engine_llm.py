"""run_tick with Claude (the real SDK against the fake server), tick by tick: decisions
traded, refused entries journaled, tokens accounted per UTC day, the daily budget's
fallback announced once, failures held and remembered for `bot status`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from bot.models import Action, Outcome
from bot.strategies import HoldStrategy
from bot.strategies.claude import ClaudeStrategy
from bot.strategies.rules import RulesStrategy
from bot.tick.engine import TickContext, run_tick
from bot.venues.history import HistoryMarket
from bot.venues.paper import PaperBroker
from tests.fakes.anthropic import error, tool_call
from tests.fakes.memory import MemoryJournal, MemoryStore

START = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
# 1000 x $3 + 200 x $15 + 2000 x $0.30 per million tokens = $0.0066 per call
USAGE = {"input_tokens": 1000, "output_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2000}


class MemoryAudit(dict):
    def write(self, tick_id, record):
        self[tick_id] = record


def _ctx(fake, *, budget=5.0, fallback="rules"):
    settings = Settings(
        trading={"coins": ["BTC", "ETH"]},
        llm={
            "model": "claude-sonnet-4-6",
            "base_url": fake.url,
            "retries": 0,
            "max_usd_per_day": budget,
            "fallback": fallback,
        },
    )
    return TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=HistoryMarket(),
        strategy=ClaudeStrategy(settings.llm, max_leverage=settings.risk.max_leverage, api_key="sk-test"),
        fallback=RulesStrategy(settings.rules) if fallback == "rules" else HoldStrategy(),
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
        audit=MemoryAudit(),
    )


def _run(ctx, minutes=0):
    return asyncio.run(run_tick(ctx, START + timedelta(minutes=minutes)))


def _price(coin):
    return HistoryMarket().snapshot_at([coin], START).coins[coin].last_price


def test_claude_decisions_trade_and_a_refused_entry_holds_with_its_reason(fake_anthropic):
    btc = _price("BTC")
    answer = {
        "decisions": [
            {
                "coin": "BTC",
                "action": "BUY",
                "confidence": 0.8,
                "size_pct": 10,
                "leverage": 2,
                "stop_loss": btc * 0.98,
                "take_profit": btc * 1.04,
            },
            {
                "coin": "ETH",
                "action": "SELL",
                "confidence": 0.8,
                "size_pct": 10,
                "leverage": 2,
                "stop_loss": 1.0,
                "take_profit": 1.0,
            },
        ]
    }
    fake_anthropic.script(tool_call(answer, usage=USAGE))
    ctx = _ctx(fake_anthropic)
    report = _run(ctx)

    assert report.outcome is Outcome.OK and report.strategy == "claude"
    eth = _price("ETH")
    assert report.invalid == {"ETH": f"stop_loss 1 is not above the price {eth:g} for a short"}
    assert [(d.coin, d.action) for d in report.decisions] == [("BTC", Action.BUY), ("ETH", Action.HOLD)]
    [fill] = report.fills
    assert fill.coin == "BTC" and fill.client_order_id == "bot-250603T1200-BTC-entry"
    assert fill.amount == pytest.approx(10_000 * 0.10 * 2 / btc, abs=0.001)  # lot step 0.001, rounded down
    assert report.usage.cost_usd == pytest.approx(0.0066, abs=1e-12)
    assert ctx.store.state.llm.spent("2025-06-03").cost_usd == pytest.approx(0.0066, abs=1e-12)
    record = ctx.audit["250603T1200"]
    assert record["response"]["answer"] == answer and record["invalid"] == report.invalid
    assert "== BTC ==" in record["user"] and record["system"].startswith("You trade USDT-margined perpetual futures")


def test_the_budget_falls_back_to_rules_once_spent_says_so_once_and_resets_at_midnight(fake_anthropic):
    ctx = _ctx(fake_anthropic, budget=0.013)  # two calls at $0.0066 reach it
    fake_anthropic.script(*[tool_call({"decisions": []}, usage=USAGE)] * 3)
    reports = [_run(ctx, minutes) for minutes in (0, 3, 6, 9)]
    assert [r.strategy for r in reports] == ["claude", "claude", "rules", "rules"]
    assert [r.outcome for r in reports] == [Outcome.OK] * 4
    assert [r.message for r in reports] == [
        "",
        "",
        "LLM budget reached: 0.0132 USD spent on 2025-06-03, llm.max_usd_per_day = 0.013; rules decides until 00:00 UTC",
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


def test_an_api_failure_holds_everything_degrades_and_is_remembered_until_a_success(fake_anthropic):
    ctx = _ctx(fake_anthropic)
    fake_anthropic.script(error(401))
    failed = _run(ctx)
    assert failed.outcome is Outcome.DEGRADED and failed.decisions == [] and failed.fills == []
    message = (
        "Anthropic rejected ANTHROPIC_API_KEY (401 authentication_error): set a valid key in the environment or .env"
    )
    assert failed.message == f"claude unavailable, holding every coin: {message}"
    assert ctx.store.state.llm.last_error == message
    assert ctx.audit["250603T1200"]["error"] == message
    assert failed.usage.calls == 0 and ctx.store.state.llm.spend_by_day == {}

    recovered = _run(ctx, 3)
    assert recovered.outcome is Outcome.OK and ctx.store.state.llm.last_error == ""
