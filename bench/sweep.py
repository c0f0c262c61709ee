"""`bot sweep` speed, measured side by side in one run.

1. Speed-up: the same 24-cell grid (rules.size_pct x risk.max_leverage x rules.stop_atr,
   six coins x the bundled sample's whole span, ~1,420 ticks a cell) as a whole
   `bot sweep --workers 1` process and a whole `bot sweep --workers 2` process (a Dask
   LocalCluster of worker processes; its start included), each in a fresh folder (cold
   cache), alternated run by run.
2. Per-cell overhead: 8 cells run in this process one after another through
   `bot backtest`'s own ``backtest_command`` (the plain backtest), then sweeps of 4 and
   of 8 of the same cells through ``sweep_command`` with ``workers=0`` (Dask in this
   process: spec, keys, task submission, the row, the cache write), each in a fresh
   folder. The slope (T8 - T4) / 4 is the sweep's cost per cell, its difference from the
   plain backtest the per-cell overhead; T4 - 4 x slope the fixed cost (cluster start,
   the span check). And a re-run answered from the cache, per cell.

    .venv/bin/python bench/sweep.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID = """
[axes]
"rules.size_pct" = [5, 10, 20, 30]
"risk.max_leverage" = [2, 3, 5]
"rules.stop_atr" = [1.5, 2.5]
"""
SMALL = """
[axes]
"rules.size_pct" = [5, 10, 20, 30]
"risk.max_leverage" = [2, 3]
"""
HALF = """
[axes]
"rules.size_pct" = [5, 10, 20, 30]
"risk.max_leverage" = [2]
"""


def _process(workers: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.toml").write_text("")
        Path(folder, "spec.toml").write_text(GRID)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "bot", "sweep", "spec.toml", "--workers", str(workers), "--json"], cwd=folder, env=env, capture_output=True, text=True, timeout=900
        )
        seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bot sweep failed ({result.returncode}): {result.stderr}")
    return seconds


def _overhead(runs: int) -> dict[str, float]:
    from bot.backtest.runner import BacktestRequest, backtest_command
    from bot.config_file import load_settings
    from bot.sweep.command import Options, sweep_command
    from bot.sweep.spec import cell_settings, load_spec, points

    def sweep(text: str, *, expect: str) -> float:
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "config.toml").write_text("")
            Path(folder, "spec.toml").write_text(text)
            settings = load_settings(Path(folder, "config.toml"))
            started = time.perf_counter()
            report = sweep_command(settings, Path(folder, "spec.toml"), Options(workers=0), notify=lambda _line: None)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            again = sweep_command(settings, Path(folder, "spec.toml"), Options(workers=0), notify=lambda _line: None)
            figures[f"{expect} cached"] = time.perf_counter() - started
            assert report.computed == again.cached == len(report.cells), (report.computed, again.cached)
            return seconds

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.toml").write_text("")
        Path(folder, "spec.toml").write_text(SMALL)
        settings = load_settings(Path(folder, "config.toml"))
        cells = [cell_settings(settings, point, where="bench") for point in points(load_spec(Path(folder, "spec.toml")))]
    sweep(HALF, expect="warm-up")  # imports (distributed, the engine) out of the figures
    plain, t4, t8 = [], [], []
    for _ in range(runs):  # interleaved, the minimum of each: the machine is shared
        started = time.perf_counter()
        for cell in cells:
            backtest_command(cell, BacktestRequest(), progress=False, notify=lambda _line: None)
        plain.append((time.perf_counter() - started) / len(cells))
        t4.append(sweep(HALF, expect="4"))
        t8.append(sweep(SMALL, expect="8"))
    figures.update(plain=min(plain), T4=min(t4), T8=min(t8))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # the engine's tick lines, off
    print(f"cores: {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f} before")
    one, two = [], []
    for _ in range(args.runs):
        one.append(_process(1))
        two.append(_process(2))
    print(f"24-cell grid, `bot sweep --workers 1`: min {min(one):.2f} s, median {statistics.median(one):.2f} s")
    print(f"24-cell grid, `bot sweep --workers 2`: min {min(two):.2f} s, median {statistics.median(two):.2f} s")
    print(f"speed-up 2 workers vs 1: {min(one) / min(two):.2f}x (min), {statistics.median(one) / statistics.median(two):.2f}x (median)")
    f = _overhead(args.runs)
    slope = (f["T8"] - f["T4"]) / 4
    print(f"plain backtest_command: {f['plain'] * 1000:.0f} ms a cell; in-process sweeps: 4 cells {f['T4']:.2f} s, 8 cells {f['T8']:.2f} s")
    print(f"sweep per cell (slope) {slope * 1000:.0f} ms: overhead {(slope - f['plain']) * 1000:+.0f} ms a cell ({(slope - f['plain']) / f['plain'] * 100:+.1f} %); fixed {f['T4'] - 4 * slope:.2f} s")
    print(f"a cached re-run of 8 cells: {f['8 cached'] * 1000:.0f} ms in all")
    print(f"load average {os.getloadavg()[0]:.1f} after")

if __name__ == "__main__":
    main()
