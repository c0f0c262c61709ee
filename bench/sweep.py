"""`bot sweep` speed, measured side by side in one run.

1. Speed-up: the same 24-cell grid (rules.size_pct x risk.max_leverage x rules.stop_atr,
   six coins x the bundled sample's whole span, ~1,420 ticks a cell) as a whole
   `bot sweep --workers 1` process and a whole `bot sweep --workers 2` process (a Dask
   LocalCluster of worker processes; its start included), each in a fresh folder (cold
   cache), alternated run by run.
2. Per-cell overhead: the same 24 cells run in this process one after another through
   `bot backtest`'s own ``backtest_command`` (the plain backtest, per cell), against
   each cell's own time in its Dask worker (``seconds`` in its row, `--workers 1` run);
   and what the sweep costs beyond its cells: its wall time minus the cells' times
   (process start, imports, the cluster's start, scheduling, rows, cache), per cell.
   And a re-run answered from the cache.

    .venv/bin/python bench/sweep.py [--runs 3]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID = """
[axes]
"rules.size_pct" = [5, 10, 20, 30]
"risk.max_leverage" = [2, 3, 5]
"rules.stop_atr" = [1.5, 2.5]
"""


def _process(workers: int, folder: str) -> tuple[float, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "sweep", "spec.toml", "--workers", str(workers), "--json"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bot sweep failed ({result.returncode}): {result.stderr}")
    report = json.loads(result.stdout)
    return seconds, [cell["row"]["seconds"] for cell in report["cells"] if cell["source"] == "computed"]


def _fresh(run) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.toml").write_text("")
        Path(folder, "spec.toml").write_text(GRID)
        return run(folder)


def _plain() -> list[float]:
    """Seconds of each of the 24 cells through backtest_command, one after another in this process."""
    from bot.backtest.runner import BacktestRequest, backtest_command
    from bot.config.file import load_settings
    from bot.sweep.spec import cell_settings, load_spec, points

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.toml").write_text("")
        Path(folder, "spec.toml").write_text(GRID)
        settings = load_settings(Path(folder, "config.toml"))
        cells = [
            cell_settings(settings, point, where="bench") for point in points(load_spec(Path(folder, "spec.toml")))
        ]
    seconds = []
    for cell in cells:
        started = time.perf_counter()
        backtest_command(cell, BacktestRequest(), progress=False, notify=lambda _line: None)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # the engine's tick lines, off
    print(f"cores: {len(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.1f} before")
    one, two, cells, plain, cached = [], [], [], [], []
    for _ in range(args.runs):  # interleaved, minimum and median of each: the machine is shared

        def both(folder: str) -> tuple[float, list[float]]:
            first = _process(1, folder)
            started = time.perf_counter()
            _process(1, folder)  # every cell cached now
            cached.append(time.perf_counter() - started)
            return first

        wall, seconds = _fresh(both)
        one.append(wall)
        cells.append(seconds)
        two.append(_fresh(lambda folder: _process(2, folder))[0])
        plain += _plain()
    best = one.index(min(one))
    n = len(cells[best])
    print(f"24-cell grid, `bot sweep --workers 1`: min {min(one):.2f} s, median {statistics.median(one):.2f} s")
    print(f"24-cell grid, `bot sweep --workers 2`: min {min(two):.2f} s, median {statistics.median(two):.2f} s")
    print(
        f"speed-up 2 workers vs 1: {min(one) / min(two):.2f}x (min), "
        f"{statistics.median(one) / statistics.median(two):.2f}x (median)"
    )
    worker = [second for run in cells for second in run]
    print(
        f"a cell through plain backtest_command: median {statistics.median(plain) * 1000:.0f} ms (min "
        f"{min(plain) * 1000:.0f}); "
        f"the same cells in a Dask worker: median {statistics.median(worker) * 1000:.0f} ms (min "
        f"{min(worker) * 1000:.0f}); "
        f"difference of medians {(statistics.median(worker) - statistics.median(plain)) * 1000:+.0f} ms a cell"
    )
    beyond = min(one) - sum(cells[best])
    print(
        f"the sweep beyond its cells (fastest --workers 1 run): {beyond:.2f} s in all, {beyond / n * 1000:.0f} ms a "
        f"cell over {n} cells"
    )
    print(f"a fully cached re-run of the 24 cells (whole process): min {min(cached):.2f} s")
    print(f"load average {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
