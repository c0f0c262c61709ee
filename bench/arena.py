"""Issue 20: a tick's time with 1, 3 and 6 arena candidates, every one of them Claude behind
the fake Messages API answering after ``--latency-ms`` (default 2,000 ms, a model's
thinking time), next to the same tick without an arena.

Each run is a cold `bot tick --dry-run --replay` process in a fresh folder (bundled
history, two coins); the active candidate also decides for the account, so N candidates
mean N + 1 calls, and they all run concurrently. Reported: the whole process (wall) and
the tick's own `duration_ms.total` from the journal, min / median over ``--runs``.

Then the leaderboard's cost (what the daily rotation adds to one tick, and `bot arena`):
six candidates with a week of journal each (3,360 ticks, copies of a real tick's record a
tick apart), in-process.

    .venv/bin/python bench/arena.py [--runs 3] [--latency-ms 2000]
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
MODELS = [
    "claude-haiku-5-5",
    "claude-sonnet-4-6",
    "claude-sonnet-5-5",
    "claude-opus-5-5",
    "claude-haiku-4-5",
    "claude-sonnet-5",
]


def _config(candidates: int) -> str:
    head = (
        '[trading]\ncoins = ["BTC", "ETH"]\n[strategy]\nname = "claude"\n[llm]\nmodel = "claude-haiku-5-5"\nretries = '
        "0\n"
    )
    arena = "".join(
        f'[[arena.candidates]]\nname = "c{i}"\nstrategy = "claude"\nllm = {{ model = "{MODELS[i]}", retries = 0 }}\n'
        for i in range(candidates)
    )
    return head + arena


def _tick(candidates: int, env: dict[str, str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.toml").write_text(_config(candidates))
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if result.returncode not in (0, 4):
            raise SystemExit(f"tick failed ({result.returncode}): {result.stderr}")
        record = json.loads(Path(folder, "var", "replay", "journal.jsonl").read_text().splitlines()[-1])
        return wall, record["duration_ms"]["total"] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=2000.0)
    parser.add_argument("--leaderboard-only", action="store_true", help="only the leaderboard's cost (issue 35)")
    args = parser.parse_args()
    if not args.leaderboard_only:
        _ticks(args)
    times = _leaderboard(args.runs)
    print(
        f"leaderboard, 6 candidates x 3,360 journal ticks (7 days): {min(times):.2f} / {statistics.median(times):.2f} s"
    )


def _ticks(args: argparse.Namespace) -> None:
    from tests.fakes.anthropic import FakeAnthropic

    with FakeAnthropic(latency_ms=args.latency_ms) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
        env |= {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
        print(f"fake Messages API latency {args.latency_ms:g} ms · {args.runs} cold runs each · min / median")
        for candidates in (0, 1, 3, 6):
            runs = [_tick(candidates, env) for _ in range(args.runs)]
            walls, totals = [run[0] for run in runs], [run[1] for run in runs]
            label = (
                "no arena (Claude alone)"
                if candidates == 0
                else f"{candidates} candidate{'s' if candidates > 1 else ''} ({candidates + 1} calls)"
            )
            print(
                f"{label:<28} process {min(walls):.2f} / {statistics.median(walls):.2f} s · "
                f"tick total {min(totals):.2f} / {statistics.median(totals):.2f} s"
            )


def _leaderboard(runs: int, *, candidates: int = 6, ticks: int = 3360) -> list[float]:
    from datetime import datetime, timedelta

    from bot.arena.arena import open_arena
    from bot.config.file import load_settings
    from bot.strategies import HoldStrategy

    with tempfile.TemporaryDirectory() as folder:
        config = '[strategy]\nname = "rules"\n[trading]\ncoins = ["BTC", "ETH"]\n' + "".join(
            f'[[arena.candidates]]\nname = "c{i}"\nstrategy = "rules"\n' for i in range(candidates)
        )
        Path(folder, "config.toml").write_text(config)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
        subprocess.run(
            [sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"],
            cwd=folder,
            env=env,
            capture_output=True,
            check=False,
        )
        arena_dir = Path(folder, "var", "replay", "arena")
        record = json.loads((arena_dir / "c0" / "journal.jsonl").read_text().splitlines()[-1])
        start = datetime.fromisoformat(record["as_of"])
        for i in range(candidates):
            lines = [
                json.dumps({**record, "as_of": (start + timedelta(minutes=3 * n)).isoformat()}) for n in range(ticks)
            ]
            (arena_dir / f"c{i}" / "journal.jsonl").write_text("\n".join(lines) + "\n")
        settings = load_settings(Path(folder, "config.toml"))
        arena = open_arena(settings, arena_dir, make_strategy=lambda _own: HoldStrategy())
        end = start + timedelta(minutes=3 * (ticks - 1))
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            board = arena.leaderboard(end)
            times.append(time.perf_counter() - began)
        assert all(entry.ticks == ticks for entry in board.standings), [entry.ticks for entry in board.standings]
        return times


if __name__ == "__main__":
    main()
