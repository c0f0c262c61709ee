"""Claude driven against the fake Anthropic server: a strategy for a model (``_model_strategy``),
one decision on a fixed prompt, and a tick run through the engine with the budget's audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import LlmSettings, Settings
from bot.strategies import HoldStrategy
from bot.strategies.claude import ClaudeStrategy
from bot.strategies.rules import RulesStrategy
from bot.tick.engine import TickContext, run_tick
from bot.tick.prompt import Prompt
from bot.venues.history import HistoryMarket
from bot.venues.paper import PaperBroker
from tests.fakes.anthropic import ModelSpec
from tests.fakes.memory import MemoryJournal, MemoryStore

NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
LEGACY_MODEL = ModelSpec(
    "claude-legacy-test",
    "no structured outputs, thinking off by default",
    structured_outputs=False,
    thinking_types=frozenset({"enabled", "disabled"}),
)
ALWAYS_ON = ModelSpec(
    "claude-always-on-test",
    "no structured outputs, thinking always on",
    structured_outputs=False,
    forced_tool=False,
    thinking_types=frozenset({"adaptive"}),
    thinking_default=True,
    effort_levels=("low", "medium", "high"),
)
PRICE = {
    "input_usd_per_mtok": 3.0,
    "output_usd_per_mtok": 15.0,
    "cache_write_usd_per_mtok": 3.75,
    "cache_read_usd_per_mtok": 0.30,
}
USER = ("Time 2025-06-03 12:00 UTC, tick 7.\n== BTC ==\n" + "p" * 400)[:400]  # 400 characters: 100 tokens
PROMPT = Prompt(system="You trade. " * 300, user=USER)  # 3,300 characters of static system text


def _model_strategy(fake, model: str, tmp_path: Path | None = None, **llm) -> ClaudeStrategy:
    prices = {model: PRICE} if model.endswith("-test") else {}
    settings = LlmSettings(base_url=fake.url, model=model, retries=0, timeout_s=5, prices=prices, **llm)
    return ClaudeStrategy(
        settings,
        api_key="sk-test",
        cache_dir=tmp_path,
        clock=lambda: NOW,
        capabilities_ttl=timedelta(hours=24),
    )


def _decide_prompt(strategy, prompt=PROMPT):
    return asyncio.run(strategy.decide(features={}, portfolio=None, prompt=prompt))


START = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
# 1000 x $3 + 200 x $15 + 2000 x $0.30 per million tokens = $0.0066 per call
USAGE = {"input_tokens": 1000, "output_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2000}


class MemoryAudit(dict):
    def write(self, tick_id, record):
        self[tick_id] = record


def _ctx(fake, *, budget=5.0, fallback="rules", ops=None, risk=None, notifier=None, cache_dir=None, **llm):
    settings = Settings(
        trading={"coins": ["BTC", "ETH"]},
        llm={
            "model": "claude-sonnet-4-6",
            "base_url": fake.url,
            "retries": 0,
            "max_usd_per_day": budget,
            "fallback": fallback,
            **llm,
        },
        ops=ops or {},
        risk=risk or {},
    )
    strategy = ClaudeStrategy(
        settings.llm,
        api_key="sk-test",
        cache_dir=cache_dir,
        clock=lambda: START,
        capabilities_ttl=timedelta(hours=24),
    )
    return TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=HistoryMarket(),
        strategy=strategy,
        fallback=RulesStrategy(settings.rules) if fallback == "rules" else HoldStrategy(),
        on_error=RulesStrategy(settings.rules) if settings.llm.on_error == "rules" else None,
        notifier=notifier,
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
        audit=MemoryAudit(),
    )


def _run(ctx, minutes=0):
    return asyncio.run(run_tick(ctx, START + timedelta(minutes=minutes)))
