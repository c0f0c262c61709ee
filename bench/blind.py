"""Issue 36: the blind frame's cost and the memory gap of two scripted models.

1. The rules over six coins x one day of the bundled sample (461 ticks), plain and blind, in
   process: wall time (min / median of --runs) and whether the books agree to the cent.
2. `bot backtest --strategy claude --compare --fee 0 --slippage 0` over BTC and ETH, 61 ticks,
   as a process against the fake Messages API (real SDK), with the two scripted models of
   tests/backtest/test_compare.py: one that remembers BTC's next move once it sees "BTC" and
   the date, one that only reads the numbers. Prints both tables, and the user prompt of the
   6th tick plain and blind (the first lines of each).

    .venv/bin/python bench/blind.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bot.backtest.blind import BlindStrategy, blind_frame  # noqa: E402
from bot.backtest.loop import run_backtest  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.log import configure_logging  # noqa: E402
from bot.strategies.rules import RulesStrategy  # noqa: E402
from bot.venues.history import HistoryMarket  # noqa: E402
from tests.backtest import test_compare as scripted  # noqa: E402
from tests.conftest import run_bot  # noqa: E402
from tests.fakes.anthropic import FakeAnthropic  # noqa: E402

COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]
START, END = datetime(2025, 6, 2, 1, tzinfo=UTC), datetime(2025, 6, 3, tzinfo=UTC)


def rules(runs: int) -> None:
    configure_logging(log_file=None, level="ERROR", console_level="ERROR", secrets=[])
    settings, market = Settings(trading={"coins": COINS}), HistoryMarket()
    steps = {coin: market.info(coin).price_step for coin in COINS}
    times: dict[str, list[float]] = {"plain": [], "blind": []}
    results = {}
    for _ in range(runs):
        for name in times:
            strategy = RulesStrategy(settings.rules)
            if name == "blind":
                strategy = BlindStrategy(strategy, frame=blind_frame(COINS, seed=1, start=START, price_steps=steps))
            started = time.perf_counter()
            results[name] = asyncio.run(run_backtest(settings, market=market, strategy=strategy, start=START, end=END))
            times[name].append(time.perf_counter() - started)
    same = np.array_equal(np.round(results["plain"].equity_usd, 2), np.round(results["blind"].equity_usd, 2))
    for name, values in times.items():
        print(f"rules {name:5}: {min(values):.3f} s / {statistics.median(values):.3f} s (461 ticks, six coins)")
    print(f"books equal to the cent: {same}; trades {len(results['plain'].trades)} / {len(results['blind'].trades)}")


def compare() -> None:
    env_base = {
        "ANTHROPIC_API_KEY": scripted.KEY,
        "BOT_LLM__MODEL": "claude-sonnet-4-6",
        "BOT_RISK__MAX_ENTRIES_PER_HOUR": "100",
        "BOT_RISK__MAX_ENTRIES_PER_DAY": "1000",
        "COLUMNS": "120",
    }
    args = ("backtest", "--strategy", "claude", *scripted.SPAN, "--fee", "0", "--slippage", "0", "--compare", "--yes")
    for model in (scripted._remembers, scripted._reads_the_numbers):
        project = Path(tempfile.mkdtemp(prefix="bot-bench-blind-"))
        (project / "config.toml").write_text("[exchange]\ntimeout_ms = 2000\nretries = 1\n")
        with FakeAnthropic() as fake:
            fake.respond = model
            started = time.perf_counter()
            result = run_bot(*args, cwd=project, env={**env_base, "BOT_LLM__BASE_URL": fake.url}, timeout=300)
            print(f"\n== {model.__name__} ({time.perf_counter() - started:.1f} s, {len(fake.requests)} requests)")
            print(result.stdout)
            if model is scripted._remembers:
                for name, request in (("plain", fake.requests[5]), ("blind", fake.requests[61 + 5])):
                    print(f"-- the 6th tick's user prompt, {name}:")
                    print("\n".join(scripted._text(request.body).splitlines()[:4]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    rules(parser.parse_args().runs)
    compare()


if __name__ == "__main__":
    main()
