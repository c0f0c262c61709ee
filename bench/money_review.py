"""Issue 36's money details, before -> after: the figures the closing note quotes.

1. funding with the funding files cut at 2025-06-01 (the bundled sample copied into a temp
   folder, every funding row after 06-01 00:00 dropped) next to the full sample, over the
   sample's whole replay span (06-02 01:00 -> 06-05 00:00), rules, six coins;
2. trades made by the rules with ``rules.reward_risk`` 1.5 (and 2.0) on the sample, and the
   risk step's rejections by code;
3. a walk-forward sweep on the sample (rules.reward_risk 1.5 / 2 / 3 x risk.min_reward_risk 1.5 / 10,
   train 24 h, test 12 h, 2 folds, in-process): each fold's winner, its in-sample Sharpe,
   the flat cells and what the pick said.

Run from the project root: ``.venv/bin/python bench/money_review.py [--source DIR]``; four
backtests of ~1,400 ticks and a 14-cell sweep, about a minute. ``--source`` runs another
checkout's ``bot`` package (e.g. ``git archive <commit> bot | tar -x -C DIR``): the "before".
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bot.venues.history import SAMPLE_DIR

CUT_MS = 1748736000000  # 2025-06-01 00:00 UTC: the last funding row kept


def _cut_copy(folder: Path) -> Path:
    for sub in ("3m", "4h"):
        (folder / sub).mkdir(parents=True)
        for path in (SAMPLE_DIR / sub).iterdir():
            (folder / sub / path.name).write_bytes(path.read_bytes())
    (folder / "funding_8h").mkdir()
    for path in (SAMPLE_DIR / "funding_8h").iterdir():
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        kept = [lines[0]] + [line for line in lines[1:] if int(float(line.split(",")[0])) <= CUT_MS]
        (folder / "funding_8h" / path.name).write_bytes(gzip.compress(("\n".join(kept) + "\n").encode()))
    return folder


SPEC = """
[sweep]
metric = "sharpe"

[axes]
"rules.reward_risk" = [1.5, 2.0, 3.0]
"risk.min_reward_risk" = [1.5, 10.0]  # 10: every entry refused, the cell stays flat

[walk_forward]
train = "24h"
test = "12h"
folds = 2
"""
_ENV = dict(os.environ)


def _bot(config: Path, *args: str) -> dict:
    command = [sys.executable, "-m", "bot", *args, "--json", "-c", str(config)]
    answer = subprocess.run(command, capture_output=True, text=True, check=False, env=_ENV, cwd=config.parent)
    if answer.returncode not in (0, 4):  # 4: a tick degraded (the report says why)
        raise SystemExit(f"{' '.join(command)}: exit {answer.returncode}: {answer.stderr[-500:]}")
    return json.loads(answer.stdout)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _backtest(config: Path, *args: str) -> dict:
    return _bot(config, "backtest", *args)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, help="a folder holding another checkout's bot/ package")
    if (source := parser.parse_args().source) is not None:
        _ENV["PYTHONPATH"] = str(source.resolve())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = root / "config.toml"
        config.write_text("")
        cut = _cut_copy(root / "cut")
        for name, extra in (("full sample", []), ("funding cut at 06-01", ["--data-dir", str(cut)])):
            report = _backtest(config, *extra)
            print(
                f"funding, {name}: {report['funding_received_usd']:+.2f} USD · outcomes {report['outcomes']} · "
                f"coverage {report.get('funding_coverage', '-')} · warnings {report['warnings']}"
            )
        for ratio in (1.5, 2.0):
            config.write_text(f"[rules]\nreward_risk = {ratio}\n")
            report = _backtest(config)
            trades, result = report["trade_metrics"]["trades"], report["strategy_metrics"]["total_return_pct"]
            print(
                f"rules.reward_risk {ratio}: {trades} trades · rejections {report.get('rejections', '-')} · "
                f"return {result:+.2f} %"
            )
        config.write_text("")
        (root / "spec.toml").write_text(SPEC)
        sweep = _bot(config, "sweep", "spec.toml", "--workers", "0", "--out", str(root / "sweep"))
        for fold in sweep["folds"]:
            train = [c for c in sweep["cells"] if c["window"] == "train" and c["fold"] == fold["fold"]]
            cells = " ".join(
                f"{c['values']['rules.reward_risk']}/{c['values']['risk.min_reward_risk']}:{c['row']['trades']}t,"
                f"{_round(c['row']['sharpe'])}#{c['rank']}"
                for c in train
            )
            print(
                f"sweep fold {fold['fold']}: winner {fold['winner']} in-sample {_round(fold['in_sample'])} "
                f"out-of-sample {_round(fold['out_of_sample'])} · {fold.get('selection')} · train cells "
                f"(reward_risk/min_reward_risk: trades, Sharpe #rank) {cells}"
            )


if __name__ == "__main__":
    main()
