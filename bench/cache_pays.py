"""Does the prompt cache pay, unpadded? N replay ticks per model and minimum cacheable prefix
against the fake Anthropic API: tokens per tick, cache hit ratio from tick 2, $ / day.

Sonnet 5.5 (the default model) and Haiku 5.5 (the cheap one), each with the fake's minimum
cacheable prefix at 512 and at 4,096 tokens (Anthropic publishes no minimum for the 5.5
models: these bracket the published ones). Each tick is the real prompt on the bundled
history, 3 minutes after the one before (the replay's cadence), six coins, no positions, a
10-trade memory (its own cache breakpoint), sent through ``ClaudeStrategy`` and the real
SDK; the answer is a representative one (bench/claude_models.py). Tokens are the fake's:
4 characters a token, and its fixed thinking allowance at effort low. $ / day is one
cache write then 479 ticks like ticks 2..N (ticks under 5 minutes apart keep the cache),
beside the same tokens uncached; what the bot learned of each minimum is shown too.

    .venv/bin/python bench/cache_pays.py [--ticks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
TICKS_PER_DAY = 480
MODELS = ("claude-sonnet-5-5", "claude-haiku-5-5")
MINIMUMS = (512, 4096)
START = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


def _prompts(ticks: int):
    """The real prompt of ``ticks`` replay ticks, 3 minutes apart, with a fixed 10-trade memory."""
    from claude_models import _prompt

    from bot.config import Settings
    from bot.models import ReturnStats
    from bot.tick.indicators import compute_features
    from bot.tick.portfolio import portfolio_of
    from bot.tick.prompt import Prompt, build_prompt
    from bot.venues.history import HistoryMarket

    memory = _prompt(memory=True).memory
    settings, market, prompts = Settings(), HistoryMarket(), []
    for tick in range(ticks):
        now = START + timedelta(minutes=3 * tick)
        snapshot = market.snapshot_at(settings.trading.coins, now)
        prices = {coin: coin_market.last_price for coin, coin_market in snapshot.coins.items()}
        portfolio = portfolio_of(
            cash_usd=10_000, positions={}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
        )
        built = build_prompt(settings, compute_features(snapshot), portfolio, now=now, tick=tick + 1)
        prompts.append(Prompt(system=built.system, user=built.user, memory=memory))
    return prompts


def _run(model: str, minimum: int, prompts, cache_dir: Path):
    from claude_models import ANSWER

    from bot.config import LlmSettings
    from bot.strategies.cache_floor import load_floors
    from bot.strategies.claude import ClaudeStrategy
    from tests.fakes.anthropic import FakeAnthropic, tool_call

    usages = []
    with FakeAnthropic(cache_min_tokens=minimum) as fake:
        llm = LlmSettings(base_url=fake.url, model=model, retries=0)
        strategy = ClaudeStrategy(llm, api_key="sk-bench", cache_dir=cache_dir)
        for prompt in prompts:
            fake.script(tool_call(ANSWER))
            asyncio.run(strategy.decide(features={}, portfolio=None, prompt=prompt))
            usages.append(strategy.trace.usage)
    return usages, llm.price, load_floors(cache_dir).get(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=20, help="replay ticks per model and minimum (at least 2)")
    args = parser.parse_args()
    if args.ticks < 2:
        parser.error("--ticks must be at least 2: the hit ratio is read from tick 2")

    prompts = _prompts(args.ticks)
    print(
        f"{args.ticks} replay ticks from {START:%Y-%m-%d %H:%M} UTC, 3 min apart, 6 coins, 10-trade memory, "
        "effort low; "
        f"fake API, 4 characters a token; {datetime.now(UTC):%Y-%m-%d}\n"
    )
    print(
        "| model | minimum | tokens / tick: prompt (in + write + read) / out | hit ratio from tick 2 "
        "| $/day cached | $/day uncached | learned minimum |\n|---|---|---|---|---|---|---|"
    )
    for model in MODELS:
        for minimum in MINIMUMS:
            with tempfile.TemporaryDirectory() as folder:
                usages, price, floor = _run(model, minimum, prompts, Path(folder))
            later = usages[1:]
            count = len(later)
            inputs = sum(u.input_tokens for u in later) / count
            writes = sum(u.cache_write_tokens for u in later) / count
            reads = sum(u.cache_read_tokens for u in later) / count
            outputs = sum(u.output_tokens for u in later) / count
            ratio = reads / (inputs + writes + reads)
            cached = usages[0].cost_usd + sum(u.cost_usd for u in later) / count * (TICKS_PER_DAY - 1)
            plain = (
                sum(
                    (u.input_tokens + u.cache_write_tokens + u.cache_read_tokens) * price.input_usd_per_mtok
                    + u.output_tokens * price.output_usd_per_mtok
                    for u in usages
                )
                / len(usages)
                / 1e6
                * TICKS_PER_DAY
            )
            print(
                f"| {model} | {minimum:,} | {inputs + writes + reads:,.0f} ({inputs:,.0f} + {writes:,.0f} + "
                f"{reads:,.0f}) / {outputs:,.0f} | {ratio:.0%} | {cached:.2f} | {plain:.2f} | "
                f"{floor.said() if floor else 'unknown'} |"
            )


if __name__ == "__main__":
    main()
