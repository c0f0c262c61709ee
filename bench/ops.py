"""Issue 8's figures: how fast the operational fast paths are, as whole cold processes.

- ``bot status`` (goal <= 0.3 s, no ccxt/anthropic/pandas) on a state with open positions;
- a cron run inside the backoff window (``bot tick`` exits 6 before building the market);
- a second ``bot tick`` while the lock is held (exits 7);
- floors timed in the same run: ``python -c pass`` and the import of typer + pydantic-settings + rich.

    .venv/bin/python bench/ops.py [--runs 7]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("ccxt", "anthropic", "pandas", "numpy", "ta", "apprise")


def _time(command: list[str], *, cwd: Path, expect: int) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != expect:
        raise SystemExit(f"{' '.join(command)}: exit {result.returncode}, expected {expect}: {result.stderr}")
    return elapsed


def _imports(args: list[str], *, cwd: Path) -> list[str]:
    code = (
        "import sys, runpy\nsys.argv = ['bot', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('bot', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True)
    return [line for line in result.stderr.splitlines() if line.startswith("HEAVY")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "config.toml").write_text("")
        subprocess.run(
            [python, "-m", "bot", "tick", "--dry-run", "--replay"], cwd=project, check=True, capture_output=True
        )
        # The replayed account (3 open positions) becomes the live one, backing off for an hour.
        state = json.loads((project / "var" / "replay" / "state.json").read_text())
        state.update(
            mode="paper", consecutive_errors=3, backoff_until=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
        )
        (project / "var" / "state.json").write_text(json.dumps(state))

        commands = {
            "python -c pass (floor)": ([python, "-c", "pass"], 0),
            "import typer, pydantic_settings, rich (floor)": (
                [python, "-c", "import typer, pydantic_settings, rich.console, rich.table"],
                0,
            ),
            "`bot status` (goal <= 0.3 s)": ([python, "-m", "bot", "status"], 0),
            "`bot status --json`": ([python, "-m", "bot", "status", "--json"], 0),
            "`bot tick` inside the backoff window (exit 6)": ([python, "-m", "bot", "tick", "--dry-run"], 6),
        }
        figures: dict[str, list[float]] = {name: [] for name in [*commands, "`bot tick` while locked (exit 7)"]}
        for _ in range(args.runs):
            for name, (command, expect) in commands.items():
                figures[name].append(_time(command, cwd=project, expect=expect))
            with open(project / "var" / "tick.lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                figures["`bot tick` while locked (exit 7)"].append(
                    _time([python, "-m", "bot", "tick", "--dry-run"], cwd=project, expect=7)
                )
        print(f"{args.runs} cold runs each, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n")
        print("| figure | min | median |\n|---|---|---|")
        for name, values in figures.items():
            print(f"| {name} | {min(values):.3f} s | {statistics.median(values):.3f} s |")
        print()
        for command in (["status"], ["status", "--json"], ["tick", "--dry-run"]):
            print(f"bot {' '.join(command)} imports of {HEAVY}: {_imports(command, cwd=project)}")


if __name__ == "__main__":
    main()
