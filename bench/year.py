"""A one-year, six-coin 3m backtest as a whole process: wall time and peak RSS.

../shared/data holds 19 days of 3m candles, so the year is GENERATED: a seeded random
walk per coin (3m log-returns with a slowly varying volatility, about the size of the
real coins'), 3m candles from it, the 4h candles aggregated from those 3m candles (so
the two timeframes agree), and an 8h funding rate around 0.01 %. The history starts 84
days before 2025-01-01 (500 closed 4h candles) and the backtest runs the rules from
2025-01-01 00:00 to 2025-12-31 23:57 UTC: 175,200 ticks x 6 coins. The folder is made
once (``--data-dir``, default /tmp/bot-year-data) and reused.

Each run is `bot backtest --data-dir DIR --from ... --to ... --json` in a fresh folder;
its wall time, its CPU time and its peak RSS (``ru_maxrss`` of that child alone, from ``os.wait4``).

    .venv/bin/python bench/year.py [--runs 3] [--data-dir /tmp/bot-year-data]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

COINS = {"BTC": 95_000.0, "ETH": 3_300.0, "SOL": 190.0, "BNB": 700.0, "DOGE": 0.32, "XRP": 2.1}
YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
WARM_UP = timedelta(days=84)  # 500 x 4h = 83.3 days of closed 4h candles before the first tick
STEP_MS, H4_MS, FUNDING_MS = 180_000, 14_400_000, 8 * 3_600_000
FIRST, LAST = "2025-01-01T00:00", "2025-12-31T23:57"


def _write(path: Path, header: str, rows: np.ndarray, formats: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, rows, fmt=formats.split(","), delimiter=",", header=header, comments="")


def generate(folder: Path) -> None:
    """Six coins x (3m, 4h, funding_8h) CSVs laid out like ../shared/data."""
    start_ms = int((YEAR_START - WARM_UP).timestamp() * 1000)
    end_ms = int((YEAR_START + timedelta(days=365, hours=1)).timestamp() * 1000)
    count = (end_ms - start_ms) // STEP_MS // 80 * 80  # whole 4h candles
    times = start_ms + STEP_MS * np.arange(count, dtype=np.int64)
    for index, (coin, price) in enumerate(COINS.items()):
        rng = np.random.default_rng(24 + index)
        volatility = 0.0012 * np.exp(
            np.cumsum(rng.normal(0, 0.002, count)).clip(-1, 1)
        )  # per 3m, ~1.4 %/day .. 4 %/day
        returns = rng.normal(0, 1, count) * volatility
        close = price * np.exp(np.cumsum(returns))
        open_ = np.concatenate([[price], close[:-1]])
        wick = np.abs(rng.normal(0, 1, (2, count))) * volatility * 0.5
        high, low = np.maximum(open_, close) * (1 + wick[0]), np.minimum(open_, close) * (1 - wick[1])
        volume = rng.lognormal(3.0, 0.6, count) * 1_000 / price
        m3 = np.column_stack([times, open_, high, low, close, volume])
        _write(
            folder / "3m" / f"{coin}USDT-3m.csv",
            "timestamp,open,high,low,close,volume",
            m3,
            "%d,%.8g,%.8g,%.8g,%.8g,%.8g",
        )
        blocks = m3.reshape(-1, 80, 6)
        h4 = np.column_stack(
            [
                blocks[:, 0, 0],
                blocks[:, 0, 1],
                blocks[:, :, 2].max(1),
                blocks[:, :, 3].min(1),
                blocks[:, -1, 4],
                blocks[:, :, 5].sum(1),
            ]
        )
        _write(
            folder / "4h" / f"{coin}USDT-4h.csv",
            "timestamp,open,high,low,close,volume",
            h4,
            "%d,%.8g,%.8g,%.8g,%.8g,%.8g",
        )
        settlements = np.arange((start_ms // FUNDING_MS + 1) * FUNDING_MS, end_ms, FUNDING_MS)
        funding = np.column_stack([settlements, rng.normal(1e-4, 1e-4, len(settlements))])
        _write(folder / "funding_8h" / f"{coin}USDT-funding-8h.csv", "timestamp,funding_rate", funding, "%d,%.6g")
    (folder / "GENERATED").write_text("bench/year.py: seeded random walks, not market data\n")


def run_once(data: Path) -> tuple[float, float, float, dict]:
    """(seconds, CPU seconds, peak RSS in MiB, the report) of one whole `bot backtest` process."""
    with tempfile.TemporaryDirectory() as cwd:
        Path(cwd, "config.toml").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
        command = [
            sys.executable,
            "-m",
            "bot",
            "backtest",
            "--data-dir",
            str(data),
            "--from",
            FIRST,
            "--to",
            LAST,
            "--json",
        ]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.perf_counter()
            child = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0), err.seek(0)
            if child.returncode != 0:
                raise SystemExit(f"bot backtest failed ({child.returncode}): {err.read().decode()[-2000:]}")
            report = json.loads(out.read())
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, report  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "bot-year-data")
    args = parser.parse_args()
    if not (args.data_dir / "GENERATED").exists():
        started = time.perf_counter()
        generate(args.data_dir)
        print(f"generated {args.data_dir} in {time.perf_counter() - started:.1f} s")
    runs = [run_once(args.data_dir) for _ in range(args.runs)]
    seconds, cpu, rss = [run[0] for run in runs], [run[1] for run in runs], [run[2] for run in runs]
    report = runs[0][3]
    ticks = int((datetime.fromisoformat(LAST) - datetime.fromisoformat(FIRST)) / timedelta(minutes=3)) + 1  # 175,200
    print(
        f"one-year rules backtest, 6 coins, {report['start']} -> {report['end']}, {args.runs} whole processes, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores"
    )
    print("| figure | min | median |\n|---|---|---|")
    print(f"| whole process | {min(seconds):.2f} s | {statistics.median(seconds):.2f} s |")
    print(
        f"| per tick (whole process / {ticks:,} ticks) | {min(seconds) / ticks * 1e6:.0f} us | "
        f"{statistics.median(seconds) / ticks * 1e6:.0f} us |"
    )
    print(
        f"| CPU (user + system; what the other processes' load does not add) | {min(cpu):.2f} s | "
        f"{statistics.median(cpu):.2f} s |"
    )
    print(f"| peak RSS | {min(rss):.0f} MiB | {statistics.median(rss):.0f} MiB |")
    metrics = report["strategy_metrics"]
    print(f"report: return {metrics['total_return_pct']:+.2f} %, {report['trade_metrics']['trades']} trades")


if __name__ == "__main__":
    main()
