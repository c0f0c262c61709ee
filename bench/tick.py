"""Whole-process time of `bot tick --dry-run` against the fake exchange, and prompt size.

The fake exchange runs in its own process (as a real exchange would), answering every
request after ``--latency-ms`` (default 100 ms). Each run is a cold `bot tick --dry-run`
process in a fresh folder, timed from spawn to exit; the import floor
(`python -c "import ccxt.async_support, pandas, ta"`) is timed in the same run because
absolute times on shared machines are noisy.

    .venv/bin/python bench/tick.py [--runs 5] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
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


def _timed(command: list[str], *, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}): {result.stdout}{result.stderr}")
    return elapsed


def _row(name: str, values: list[float]) -> str:
    return f"| {name} | {min(values):.3f} s | {statistics.median(values):.3f} s |"


def prompt_size() -> tuple[int, int]:
    from bot.config import Settings
    from bot.history import HistoryMarket
    from bot.indicators import compute_features
    from bot.models import ReturnStats
    from bot.portfolio import portfolio_of
    from bot.prompt import build_prompt

    now = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
    settings = Settings()
    snapshot = HistoryMarket().snapshot_at(settings.trading.coins, now)
    prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
    portfolio = portfolio_of(cash_usd=10_000, positions={}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats())
    prompt = build_prompt(settings, compute_features(snapshot), portfolio, now=now, tick=1)
    return prompt.chars, prompt.estimated_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()
    data = ROOT.parent / "shared" / "data"
    data = data if (data / "3m").is_dir() else ROOT / "bot" / "data" / "sample"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.exchange", "--data-dir", str(data), "--port", "0", "--latency-ms", str(args.latency_ms)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        url = server.stdout.readline().split()[3]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
        env["BOT_EXCHANGE__API_URL"] = url
        floor, ticks = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                floor.append(_timed([sys.executable, "-c", "import ccxt.async_support, pandas, ta"], cwd=Path(folder), env=env))
                Path(folder, "config.toml").write_text("")
                ticks.append(_timed([sys.executable, "-m", "bot", "tick", "--dry-run"], cwd=Path(folder), env=env))
    finally:
        server.terminate()
        server.wait()
    chars, tokens = prompt_size()
    print(f"`bot tick --dry-run`, fake exchange with {args.latency_ms:g} ms per request, {args.runs} runs, {datetime.now(UTC):%Y-%m-%d}")
    print("| figure | min | median |\n|---|---|---|")
    print(_row("import floor (ccxt.async_support, pandas, ta)", floor))
    print(_row("whole `bot tick --dry-run` process", ticks))
    print(_row("tick minus floor", [t - f for t, f in zip(ticks, floor, strict=True)]))
    print(f"prompt for 6 coins: {chars:,} characters, ~{tokens:,} tokens (estimated at 4 characters per token)")


if __name__ == "__main__":
    main()
