"""Per model against the fake Anthropic API: the request shape the bot chooses, the tokens
of a first tick and of the ticks after it (input, output, thinking, cache write / read),
the cache hit ratio from the second tick, and dollars per day at 480 ticks, with the
prompt cache and without it. Also the trade memory's size for 10 closed trades.

The prompt is the real 6-coin prompt on the bundled history (no positions) with a
10-trade memory, and the answer a representative one (two entries with their exit plan,
four holds), sent through ``ClaudeStrategy`` and the real SDK to the in-process fake.
Tokens are the fake's: 4 characters per token (the tokenizer is not public; recent models
count ~30 % more for the same text, which raises every figure by as much), and a fixed
thinking allowance per effort level (``tests.fakes.anthropic.THINKING_TOKENS``): the
thinking column shows what the bot sends and accounts, not what a real model thinks.
Every tick after the first sends the same prefix (only the user turn changes in a real
run, and its size barely does), so "later ticks" is the steady state within 5 minutes.

    .venv/bin/python bench/claude_models.py [--effort low] [--no-memory]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TICKS_PER_DAY = 480
MODELS = [
    ("claude-haiku-5-5", "cheap"),
    ("claude-sonnet-5-5", "default"),
    ("claude-opus-5-5", "strongest"),
    ("claude-fable-5-1", ""),
    ("claude-sonnet-4-6", ""),
    ("claude-haiku-4-5", ""),
    ("claude-opus-4-5", "deprecated"),
    ("claude-legacy-test", "no structured outputs (fake only)"),
    ("claude-always-on-test", "no structured outputs, thinking always on (fake only)"),
]


def _prompt(memory: bool):
    from bot.config import Settings
    from bot.models import ReturnStats, Side
    from bot.ops.state import ClosedTrade
    from bot.tick.indicators import compute_features
    from bot.tick.portfolio import portfolio_of
    from bot.tick.prompt import build_prompt
    from bot.venues.history import HistoryMarket

    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    settings = Settings()
    snapshot = HistoryMarket().snapshot_at(settings.trading.coins, now)
    prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
    portfolio = portfolio_of(
        cash_usd=10_000, positions={}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
    )
    coins = list(prices)
    trades = (
        [
            ClosedTrade(
                coin=coins[i % len(coins)],
                side=Side.LONG if i % 2 else Side.SHORT,
                amount=0.5,
                entry_price=prices[coins[i % len(coins)]],
                exit_price=prices[coins[i % len(coins)]] * (1.01 if i % 3 else 0.985),
                opened_at=now - timedelta(hours=30 - 3 * i),
                closed_at=now - timedelta(hours=28 - 3 * i),
                net_pnl_usd=(-1) ** i * 12.5 * (i + 1),
                exit_reason=["decision", "stop_loss", "take_profit"][i % 3],
                reasoning="4h trend up, MACD crossing up, RSI14 55: room well beyond the round-trip cost",
            )
            for i in range(10)
        ]
        if memory
        else []
    )
    return build_prompt(settings, compute_features(snapshot), portfolio, now=now, tick=1, trades=trades)


ANSWER = {
    "decisions": [
        {
            "coin": "BTC",
            "action": "BUY",
            "confidence": 0.72,
            "size_pct": 10,
            "leverage": 3,
            "stop_loss": 103850.5,
            "take_profit": 108420.0,
            "invalidation": "4h close below the 4h EMA50",
            "reasoning": "4h and 3m trends up, MACD rising, RSI14 58: room well beyond fees",
        },
        {
            "coin": "ETH",
            "action": "BUY",
            "confidence": 0.7,
            "size_pct": 10,
            "leverage": 3,
            "stop_loss": 2480.1,
            "take_profit": 2610.0,
            "invalidation": "4h close below the 4h EMA50",
            "reasoning": "following BTC, funding flat",
        },
        *[
            {
                "coin": coin,
                "action": "HOLD",
                "confidence": 0.5,
                "reasoning": "no edge after costs: range-bound, MACD flat",
            }
            for coin in ("SOL", "BNB", "DOGE", "XRP")
        ],
    ]
}


def _day(first, later, price, *, padding: int) -> tuple[float, float]:
    """$/day with the cache (one write, then reads) and without it: every prompt token at the
    input price, the padding (there only for the cache) left out."""
    cached = first.cost_usd + later.cost_usd * (TICKS_PER_DAY - 1)
    prompt = later.input_tokens + later.cache_write_tokens + later.cache_read_tokens - padding
    plain = (prompt * price.input_usd_per_mtok + later.output_tokens * price.output_usd_per_mtok) / 1e6 * TICKS_PER_DAY
    return cached, plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--effort", default="low", choices=["low", "medium", "high"])
    parser.add_argument("--no-memory", action="store_true", help="without the 10-trade memory")
    args = parser.parse_args()

    from bot.config import LlmSettings
    from bot.ops.budget import cache_hit_ratio
    from bot.strategies.claude import ClaudeStrategy
    from bot.strategies.request import estimated_tokens
    from tests.fakes.anthropic import FakeAnthropic, tool_call
    from tests.strategies.claudekit import ALWAYS_ON, LEGACY_MODEL, PRICE

    prompt = _prompt(memory=not args.no_memory)
    rows = []
    with FakeAnthropic() as fake:
        fake.models.update({LEGACY_MODEL.id: LEGACY_MODEL, ALWAYS_ON.id: ALWAYS_ON})
        for model, role in MODELS:
            llm = LlmSettings(
                base_url=fake.url,
                model=model,
                effort=args.effort,
                prices={model: PRICE} if model.endswith("-test") else {},
            )
            strategy = ClaudeStrategy(llm, api_key="sk-bench")
            usages = []
            for _ in range(3):
                fake.script(tool_call(ANSWER))
                asyncio.run(strategy.decide(features={}, portfolio=None, prompt=prompt))
                usages.append(strategy.trace.usage)
            first, later = usages[0], usages[2]
            padding = 0  # nothing is padded since issue 31 (bench/cache_pays.py: what the cache pays per minimum)
            cached, plain = _day(first, later, llm.price, padding=padding)
            rows.append((model, role, strategy.trace.shape, first, later, cached, plain, padding))

    memory_tokens = estimated_tokens(prompt.memory) if prompt.memory else 0
    print(
        f"Claude per model on the fake API, effort {args.effort}, 6 coins, trade memory of "
        f"{'10 trades = ' + format(memory_tokens, ',') + ' tokens' if memory_tokens else 'none'}, "
        f"{datetime.now(UTC):%Y-%m-%d}"
    )
    print(
        "| model | role | request shape | tick 1: in / out (thinking) / cache write / read | later ticks: in / out "
        "(thinking) / write / read "
        "| padding | hit ratio from tick 2 | $/day cached | $/day uncached |\n|---|---|---|---|---|---|---|---|---|"
    )
    for model, role, shape, first, later, cached, plain, padding in rows:

        def tokens(u):
            return (
                f"{u.input_tokens:,} / {u.output_tokens:,} ({u.thinking_tokens:,}) / {u.cache_write_tokens:,} / "
                f"{u.cache_read_tokens:,}"
            )

        ratio = cache_hit_ratio(later) or 0.0
        print(
            f"| {model} | {role} | {shape} | {tokens(first)} | {tokens(later)} | {padding:,} | {ratio:.0%} | "
            f"{cached:.2f} | {plain:.2f} |"
        )
    print(
        f"\n{TICKS_PER_DAY} ticks a day: one cache write then reads (cached), or every prompt token at the input "
        f"price (uncached); "
        "prices from bot.config.DEFAULT_PRICES (the -test models at $3 / $15)."
    )


if __name__ == "__main__":
    main()
