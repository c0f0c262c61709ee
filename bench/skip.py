"""Skipping quiet ticks (bot/backtest/skip.py) against the full pass, measured in one run.

The rules strategy over the full 3m span of ../shared/data, six coins and BTC alone. Per
run and coin set, interleaved: the tick loop in-process (the market loaded and the
indicators precomputed outside the timing: `run_backtest` on a warm market), then a whole
`bot backtest --json` process with and without `--no-skip`. Every pair's report JSON must be
identical (the bench stops otherwise); the figures are medians over the runs.

    .venv/bin/python bench/skip.py [--runs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]


def _data() -> Path:
    shared = ROOT.parent / "shared" / "data"
    if not (shared / "3m").is_dir():  # a worktree under /work/wt: the data beside the main checkout
        shared = ROOT.parents[1] / "shared" / "data"
    if not (shared / "3m").is_dir():
        raise SystemExit(f"needs the full data set at {shared}")
    return shared


def _loop(data: Path, coins: list[str], *, skip: bool) -> tuple[float, int, str]:
    """Seconds of `run_backtest` (market loaded first), its ticks and its report JSON."""
    from bot.backtest.loop import run_backtest, span_of
    from bot.backtest.report import build_report
    from bot.config import Settings
    from bot.strategies.rules import RulesStrategy
    from bot.venues.history import HistoryMarket

    settings = Settings.model_validate({"trading": {"coins": coins}})
    market = HistoryMarket(data)
    for coin in coins:
        market.candles(coin)  # read the CSVs outside the timing
    start, end = span_of(market, coins, start=None, end=None)
    started = time.perf_counter()
    result = asyncio.run(
        run_backtest(settings, market=market, strategy=RulesStrategy(settings.rules), start=start, end=end, skip=skip)
    )
    seconds = time.perf_counter() - started
    return seconds, len(result.times_ms), build_report(result).model_dump_json()


def _process(data: Path, coins: list[str], *, skip: bool) -> tuple[float, str]:
    command = [str(ROOT / ".venv/bin/bot"), "backtest", "--json", "--data-dir", str(data), "--coins", *coins]
    started = time.perf_counter()
    done = subprocess.run(command + ([] if skip else ["--no-skip"]), capture_output=True, text=True, check=False)
    if done.returncode not in (0, 4):  # 4: some ticks were degraded (e.g. funding not charged), said in the report
        raise SystemExit(done.stderr)
    return time.perf_counter() - started, f"exit {done.returncode}\n{done.stdout}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    runs = parser.parse_args().runs
    data = _data()
    from bot.log import configure_logging

    configure_logging(log_file=None, console_level="ERROR")
    for label, coins in (("six coins", COINS), ("BTC", ["BTC"])):
        times: dict[str, list[float]] = {"loop full": [], "loop skip": [], "process full": [], "process skip": []}
        ticks = 0
        for _ in range(runs):
            full_s, ticks, full_json = _loop(data, coins, skip=False)
            skip_s, _, skip_json = _loop(data, coins, skip=True)
            if full_json != skip_json:
                raise SystemExit(f"{label}: the skip's report differs from the full pass's")
            times["loop full"].append(full_s)
            times["loop skip"].append(skip_s)
            full_p, full_out = _process(data, coins, skip=False)
            skip_p, skip_out = _process(data, coins, skip=True)
            if full_out != skip_out:
                raise SystemExit(f"{label}: `bot backtest --json` differs with and without --no-skip")
            times["process full"].append(full_p)
            times["process skip"].append(skip_p)
        median = {name: statistics.median(values) for name, values in times.items()}
        print(
            f"{label}: {ticks:,} ticks, reports identical | loop {median['loop full']:.2f} s -> "
            f"{median['loop skip']:.2f} s ({median['loop full'] / median['loop skip']:.1f}x) | whole process "
            f"{median['process full']:.2f} s -> {median['process skip']:.2f} s "
            f"({median['process full'] / median['process skip']:.2f}x)"
        )


if __name__ == "__main__":
    main()
