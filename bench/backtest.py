"""Backtest speed, measured side by side in one run.

1. The rules strategy over all six coins x the full 3m span of ../shared/data: wall time
   in-process (CSV load, indicator precomputation and the tick loop; fresh market each
   run) and as a whole `bot backtest --json` process.
2. The per-tick cost of Claude decisions served from the decision cache: over the first
   1,000 ticks, a first run asks the fake Anthropic server (tests/fakes/anthropic.py) through
   the real SDK and fills the cache; the timed re-runs answer every tick from it (prompt
   built, hashed, looked up, decisions validated, no request); the overhead is their
   per-tick time minus the rules' over the same ticks.
3. Bars per second against backtesting.py on the same data and rule (EMA20/EMA50 long/flat,
   bench/crosscheck.py; the peer's idiomatic strategy, nothing checked per bar): ours over
   six coins in one run (6 bars per tick), theirs one backtest per coin; each run times
   both sides in turn, with the CSV read included and excluded; the ratio printed is the
   median of the per-run ratios. Then both on BTC alone.

    .venv/bin/python bench/backtest.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from crosscheck import REFERENCE_RISK, load_frame, quiet, run_ours, run_theirs  # noqa: E402

COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]
CLAUDE_TICKS = 1_000


def _data() -> Path:
    shared = ROOT.parent / "shared" / "data"
    if not (shared / "3m").is_dir():
        raise SystemExit(f"needs the full data set at {shared}")
    return shared


def _rules_in_process(data: Path) -> tuple[float, int, dict]:
    from bot.backtest.loop import run_backtest, span_of
    from bot.backtest.report import build_report
    from bot.config import Settings
    from bot.strategies.rules import RulesStrategy
    from bot.venues.history import HistoryMarket

    settings = Settings()
    started = time.perf_counter()
    market = HistoryMarket(data)
    start, end = span_of(market, COINS, start=None, end=None)
    result = asyncio.run(
        run_backtest(settings, market=market, strategy=RulesStrategy(settings.rules), start=start, end=end)
    )
    seconds = time.perf_counter() - started
    return seconds, len(result.times_ms), json.loads(build_report(result).model_dump_json())


def _rules_process(data: Path) -> float:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.toml").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "bot", "backtest", "--data-dir", str(data), "--json"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bot backtest failed ({result.returncode}): {result.stderr}")
    return seconds


def _ema_six(data: Path, *, with_csv: bool) -> tuple[float, int]:
    """Ours: the EMA cross over the six coins in one backtest; (seconds, coin-bars). The
    indicators and the loop are timed; with ``with_csv`` the CSV read too."""
    from bot.backtest.loop import run_backtest, span_of
    from bot.config import Settings
    from bot.strategies.ema_cross import EmaCrossStrategy
    from bot.venues.history import HistoryMarket

    settings = Settings(trading={"coins": COINS}, paper={"slippage_pct": 0.0}, risk=REFERENCE_RISK)
    started = time.perf_counter()
    market = HistoryMarket(data)
    start, end = span_of(market, COINS, start=None, end=None)  # reads the CSVs
    if not with_csv:
        started = time.perf_counter()
    result = asyncio.run(
        run_backtest(settings, market=market, strategy=EmaCrossStrategy(size_pct=10.0), start=start, end=end)
    )
    return time.perf_counter() - started, len(result.times_ms) * len(COINS)


def _ema_six_theirs(data: Path, *, with_csv: bool) -> tuple[float, int]:
    """backtesting.py: the same rule, one backtest per coin over its whole file; (seconds, bars)."""
    started = time.perf_counter()
    frames = {coin: load_frame(data, coin) for coin in COINS}
    seconds = time.perf_counter() - started if with_csv else 0.0
    bars = 0
    for coin, frame in frames.items():
        side = run_theirs(data, coin, first_ms=0, frame=frame)
        bars, seconds = bars + side.bars, seconds + side.seconds
    return seconds, bars


def _claude_span(data: Path, cache_file: Path, *, fake_url: str | None, ticks: int) -> tuple[float, int, int, int]:
    """(seconds, ticks, cache hits, cache misses) of a Claude backtest over the first ``ticks``
    ticks; ``fake_url`` None runs the rules over the same span instead."""
    from bot.backtest.loop import run_backtest, span_of
    from bot.clock import TICK
    from bot.config import Settings
    from bot.strategies.cache import CachedStrategy, DecisionCache
    from bot.strategies.claude import ClaudeStrategy
    from bot.strategies.rules import RulesStrategy
    from bot.venues.history import HistoryMarket

    settings = Settings(llm={"base_url": fake_url} if fake_url else {})
    if fake_url:
        claude = ClaudeStrategy(settings.llm, api_key="bench-key")
        strategy = CachedStrategy(claude, cache=DecisionCache(cache_file), identity="bench")
    else:
        strategy = RulesStrategy(settings.rules)
    started = time.perf_counter()
    market = HistoryMarket(data)
    start, _ = span_of(market, COINS, start=None, end=None)
    result = asyncio.run(
        run_backtest(settings, market=market, strategy=strategy, start=start, end=start + TICK * (ticks - 1))
    )
    seconds = time.perf_counter() - started
    return seconds, len(result.times_ms), getattr(strategy, "hits", 0), getattr(strategy, "misses", 0)


def _row(name: str, values: list[float], unit: str = "s") -> str:
    return f"| {name} | {min(values):.3f} {unit} | {statistics.median(values):.3f} {unit} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    quiet()
    data = _data()
    in_process, process, btc_ours, btc_theirs = [], [], [], []
    ema: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    ticks, report, cached, rules_span = 0, {}, [], []
    from tests.fakes.anthropic import FakeAnthropic

    with tempfile.TemporaryDirectory() as folder, FakeAnthropic() as fake:
        cache_file = Path(folder) / "decisions.sqlite"
        _, _, _, misses = _claude_span(data, cache_file, fake_url=fake.url, ticks=CLAUDE_TICKS)  # fills the cache
        assert misses == CLAUDE_TICKS and len(fake.requests) == CLAUDE_TICKS
        for _ in range(args.runs):
            seconds, _, hits, misses = _claude_span(data, cache_file, fake_url=fake.url, ticks=CLAUDE_TICKS)
            assert (hits, misses) == (CLAUDE_TICKS, 0) and len(fake.requests) == CLAUDE_TICKS, (
                "every decision should come from the cache"
            )
            cached.append(seconds)
            rules_span.append(_claude_span(data, cache_file, fake_url=None, ticks=CLAUDE_TICKS)[0])
    for _ in range(args.runs):
        seconds, ticks, report = _rules_in_process(data)
        in_process.append(seconds)
        process.append(_rules_process(data))
        for with_csv in (True, False):  # interleaved: ours, theirs, ours, theirs under the same load
            seconds_ours, bars_ours = _ema_six(data, with_csv=with_csv)
            seconds_theirs, bars_theirs = _ema_six_theirs(data, with_csv=with_csv)
            ema[with_csv].append((bars_ours / seconds_ours, bars_theirs / seconds_theirs))
        ours, _ = run_ours(data, "BTC")
        btc_ours.append(ours.bars_per_s)
        from bot.backtest.loop import span_of
        from bot.venues.history import HistoryMarket

        start, _ = span_of(HistoryMarket(data), ["BTC"], start=None, end=None)
        btc_theirs.append(run_theirs(data, "BTC", int(start.timestamp() * 1000) - 180_000).bars_per_s)
    print(f"bot backtest speed, {args.runs} runs, {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores")
    print(f"rules, 6 coins x {ticks:,} ticks ({ticks * 6:,} coin-bars), {report['start']} -> {report['end']}")
    print("| figure | min | median |\n|---|---|---|")
    print(_row("rules backtest in-process (load + precompute + loop)", in_process))
    print(_row("whole `bot backtest --json` process", process))
    print(_row("per tick, in-process", [s / ticks * 1000 for s in in_process], "ms"))
    print(
        _row(
            f"Claude from the cache, per tick ({CLAUDE_TICKS:,} ticks)", [s / CLAUDE_TICKS * 1000 for s in cached], "ms"
        )
    )
    print(_row(f"rules, per tick (same {CLAUDE_TICKS:,} ticks)", [s / CLAUDE_TICKS * 1000 for s in rules_span], "ms"))
    overhead = [(c - r) / CLAUDE_TICKS * 1000 for c, r in zip(sorted(cached), sorted(rules_span), strict=True)]
    print(_row("Claude-from-cache overhead per tick (minus the rules)", overhead, "ms"))
    print(
        "| bars/s, EMA cross (median of runs) | ours | backtesting.py | ours / theirs (median of per-run ratios) "
        "|\n|---|---|---|---|"
    )
    for with_csv, label in ((True, "6 coins, CSV read included"), (False, "6 coins, candles in memory")):
        ours_rates, theirs_rates = zip(*ema[with_csv], strict=True)
        ratio = statistics.median(o / t for o, t in ema[with_csv])
        print(
            f"| {label} | {statistics.median(ours_rates):,.0f} | {statistics.median(theirs_rates):,.0f} | {ratio:.3f} |"
        )
    btc_ratio = statistics.median(o / t for o, t in zip(btc_ours, btc_theirs, strict=True))
    print(
        f"| BTC only, candles in memory | {statistics.median(btc_ours):,.0f} | {statistics.median(btc_theirs):,.0f} | "
        f"{btc_ratio:.3f} |"
    )
    metrics = report["strategy_metrics"]
    print(
        f"rules report: return {metrics['total_return_pct']:+.2f} % vs buy & hold "
        f"{report['benchmark_metrics']['total_return_pct']:+.2f} %, "
        f"{report['trade_metrics']['trades']} trades"
    )


if __name__ == "__main__":
    main()
