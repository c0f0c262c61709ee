"""Issue 20: a tick's time with 1, 3 and 6 arena candidates, every one of them Claude behind
the fake Messages API answering after ``--latency-ms`` (default 2,000 ms, a model's
thinking time), next to the same tick without an arena.

Each run is a cold `bot tick --dry-run --replay` process in a fresh folder (bundled
history, two coins); the active candidate also decides for the account, so N candidates
mean N + 1 calls, and they all run concurrently. Reported: the whole process (wall) and
the tick's own `duration_ms.total` from the journal, min / median over ``--runs``.

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
MODELS = ["claude-haiku-5-5", "claude-sonnet-4-6", "claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-4-5", "claude-sonnet-5"]


def _config(candidates: int) -> str:
    head = '[trading]\ncoins = ["BTC", "ETH"]\n[strategy]\nname = "claude"\n[llm]\nmodel = "claude-haiku-5-5"\nretries = 0\n'
    arena = "".join(
        f'[[arena.candidates]]\nname = "c{i}"\nstrategy = "claude"\nllm = {{ model = "{MODELS[i]}", retries = 0 }}\n' for i in range(candidates)
    )
    return head + arena


def _tick(candidates: int, env: dict[str, str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "config.toml").write_text(_config(candidates))
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "bot", "tick", "--dry-run", "--replay"], cwd=folder, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode not in (0, 4):
            raise SystemExit(f"tick failed ({result.returncode}): {result.stderr}")
        record = json.loads(Path(folder, "var", "replay", "journal.jsonl").read_text().splitlines()[-1])
        return wall, record["duration_ms"]["total"] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=2000.0)
    args = parser.parse_args()
    from tests.fakes.anthropic import FakeAnthropic

    with FakeAnthropic(latency_ms=args.latency_ms) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ANTHROPIC_"))}
        env |= {"ANTHROPIC_API_KEY": "sk-bench", "ANTHROPIC_BASE_URL": fake.url}
        print(f"fake Messages API latency {args.latency_ms:g} ms · {args.runs} cold runs each · min / median")
        for candidates in (0, 1, 3, 6):
            runs = [_tick(candidates, env) for _ in range(args.runs)]
            walls, totals = [run[0] for run in runs], [run[1] for run in runs]
            label = "no arena (Claude alone)" if candidates == 0 else f"{candidates} candidate{'s' if candidates > 1 else ''} ({candidates + 1} calls)"
            print(
                f"{label:<28} process {min(walls):.2f} / {statistics.median(walls):.2f} s · "
                f"tick total {min(totals):.2f} / {statistics.median(totals):.2f} s"
            )


if __name__ == "__main__":
    main()
