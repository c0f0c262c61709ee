"""Issue 31: one decision contract for Claude and every strategy. The risk step decides what happens to
an entry with leverage above the cap (cut to it), without a stop-loss (`risk.missing_stop_loss`) or
without a take-profit (optional); Claude's validation lets such entries through, and the prompt, the
schema's descriptions, config.toml and the README say the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.models import Action, RiskCode, Verdict
from bot.strategies.claude import validate
from bot.strategies.request import tool_schema
from bot.tick.prompt import system_prompt
from tests.fakes.anthropic import tool_call
from tests.strategies.claudekit import _ctx, _run

ROOT = Path(__file__).parents[2]


def _eth_short(**change):
    # the bundled sample's ETH at 2025-06-03 12:00 is about 2,600: a short at 5x the 2x cap, no stop, no take-profit
    return {"coin": "ETH", "action": "SELL", "confidence": 0.8, "size_pct": 10, "leverage": 20, **change}


def test_the_prompt_says_what_the_risk_step_does():
    text = system_prompt(Settings())
    assert "Leverage above 10x is cut to it;" in text
    assert "one left out is set 1.5 x the 4h ATR14 away. A take_profit is optional; if given, it must earn" in text
    assert "leverage above the maximum" not in text and "if given, that earns" not in text
    rejecting = system_prompt(Settings(risk={"missing_stop_loss": "reject"}))
    assert "well before the liquidation price; an entry without one is rejected. A take_profit is optional" in rejecting
    entry = tool_schema()["$defs"]["Decision"]["properties"]
    assert entry["take_profit"]["description"].startswith("price, optional:")
    assert "left out: as the rules say" in entry["stop_loss"]["description"]


def test_the_config_and_readme_say_the_same():
    config = (ROOT / "config.toml").read_text()
    assert "max_leverage = 10.0         # requested leverage above this is cut to it" in config
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "leverage above `risk.max_leverage` is cut to it by the risk step" in readme
    assert "an entry without a stop-loss follows `risk.missing_stop_loss`" in readme


def test_claude_lets_such_an_entry_through_to_the_risk_step(fake_anthropic):
    fake_anthropic.script(tool_call({"decisions": [_eth_short()]}))
    ctx = _ctx(fake_anthropic)
    report = _run(ctx)
    assert report.invalid == {}
    [verdict] = report.verdicts
    assert verdict.verdict is Verdict.RESIZED and verdict.action is Action.SELL
    assert RiskCode.LEVERAGE_CAPPED in verdict.codes and RiskCode.STOP_DERIVED in verdict.codes
    plan = verdict.plan
    assert plan.leverage == ctx.settings.risk.max_leverage and plan.take_profit is None
    assert plan.stop_loss > plan.reference_price  # a short's stop, derived above the price
    assert "leverage 20x cut to 10x" in verdict.reason


def test_with_missing_stop_loss_reject_the_risk_step_rejects_it(fake_anthropic):
    fake_anthropic.script(tool_call({"decisions": [_eth_short()]}))
    ctx = _ctx(fake_anthropic, risk={"missing_stop_loss": "reject"})
    report = _run(ctx)
    [verdict] = report.verdicts
    assert verdict.verdict is Verdict.REJECTED and verdict.codes == [RiskCode.MISSING_STOP_LOSS]
    assert report.fills == []


@pytest.mark.parametrize("entry", [_eth_short(), _eth_short(stop_loss=2_700.0)])
def test_validation_alone_passes_them(entry):
    from datetime import UTC, datetime

    from bot.models import ReturnStats
    from bot.tick.indicators import compute_features
    from bot.tick.portfolio import portfolio_of
    from bot.venues.history import HistoryMarket

    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    features = compute_features(HistoryMarket().snapshot_at(["ETH"], now))
    features["ETH"] = features["ETH"].model_copy(update={"price": 2_600.0})
    portfolio = portfolio_of(
        cash_usd=10_000, positions={}, prices={"ETH": 2_600.0}, initial_equity_usd=10_000, stats=ReturnStats()
    )
    decisions, invalid = validate({"decisions": [entry]}, features=features, portfolio=portfolio)
    assert invalid == {} and decisions[0].leverage == 20.0
