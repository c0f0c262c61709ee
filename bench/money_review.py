"""Issue 36's money details, before -> after: the figures the closing note quotes.

1. funding with the funding files cut at 2025-06-01 (the bundled sample copied into a temp
   folder, every funding row after 06-01 00:00 dropped) next to the full sample, over the
   sample's whole replay span (06-02 01:00 -> 06-05 00:00), rules, six coins;
2. trades made by the rules with ``rules.reward_risk`` 1.5 (and 2.0) on the sample, and the
   risk step's rejections by code.

Run from the project root: ``.venv/bin/python bench/money_review.py`` (two to four
backtests of ~1,400 ticks each: well under a minute).
"""

from __future__ import annotations

import gzip
import json
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


def _backtest(config: Path, *args: str) -> dict:
    command = [sys.executable, "-m", "bot", "backtest", "--json", "-c", str(config), *args]
    answer = subprocess.run(command, capture_output=True, text=True, check=False)
    if answer.returncode not in (0, 4):  # 4: a tick degraded (the report says why)
        raise SystemExit(f"{' '.join(command)}: exit {answer.returncode}: {answer.stderr[-500:]}")
    return json.loads(answer.stdout)


def main() -> None:
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


if __name__ == "__main__":
    main()
