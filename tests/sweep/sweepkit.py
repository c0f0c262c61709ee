"""A sweep folder on the bundled sample: the grid, the rows it writes and how to read them."""

from __future__ import annotations

import json
from pathlib import Path

GRID = """
[sweep]
from = "2025-06-02T01:00"
to = "2025-06-02T07:00"

[settings]
"trading.coins" = ["BTC", "ETH"]

[axes]
"rules.size_pct" = [5, 20]
"risk.max_leverage" = [2, 5]
"""
ROW_FIELDS = [
    "total_return_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "trades",
    "fees_usd",
    "exposure_pct",
    "final_equity_usd",
    "ticks",
]


def _folder(tmp_path: Path, name: str, spec: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.toml").write_text("")
    (folder / "spec.toml").write_text(spec)
    return folder


def _rows(report) -> dict[str, dict]:
    """Axis values -> the row's numbers, whatever the order the cells finished in."""
    return {
        json.dumps(cell["values"], sort_keys=True): {k: cell["row"][k] for k in ROW_FIELDS} for cell in report["cells"]
    }


# every bad spec: one line, exit 2 (the sweep's own tests and the CLI's run them)
BAD_SPECS = [
    (
        '[axes]\n"risk.max_levrage" = [2, 3]\n',
        "[axes] `risk.max_levrage`: unknown setting — did you mean `risk.max_leverage`?",
    ),
    (
        '[axes]\n"rsk.max_leverage" = [2, 3]\n',
        "[axes] `rsk.max_leverage`: unknown setting — did you mean `risk`?; name a setting as section.key, e.g. "
        "risk.max_leverage",
    ),
    ('[settings]\n"paper.fee" = 0.1\n', "[settings] `paper.fee`: unknown setting"),
    (
        '[axes]\n"risk.max_leverage" = ["high"]\n',
        "[axes] `risk.max_leverage`: Input should be a valid number, unable to parse string as a number (got 'high')",
    ),
    (
        '[axes]\n"risk.max_leverage" = [2, 200]\n',
        "[axes] `risk.max_leverage`: Input should be less than or equal to 125 (got 200)",
    ),
    (
        '[axes]\n"risk.max_leverage" = []\n',
        "axis `risk.max_leverage` is empty; give it a list of at least one value, e.g. [2, 3, 5]",
    ),
    (
        '[axes]\n"rules.stop_atr" = { low = 1, high = 2 }\n',
        "axis `rules.stop_atr`: a range is { low = A, high = B } and needs `samples` in [sweep]; or give a list of "
        "values",
    ),
    (
        '[sweep]\nmetric = "profit"\n[axes]\n"risk.max_leverage" = [2]\n',
        "sweep.metric 'profit': use one of sharpe, sortino, return, calmar",
    ),
    (
        '[sweep]\nfrom = "2025-06-01T00:00"\n[axes]\n"risk.max_leverage" = [2]\n',
        "sweep.from 2025-06-01T00:00: the history needs 500 closed candles first; the earliest start is "
        "2025-06-02T01:00",
    ),
    (
        '[sweep]\nto = "2025-06-03T01:00"\n[axes]\n"risk.max_leverage" = [2]\n[walk_forward]\ntrain = "12h"\ntest = '
        '"6h"\nfolds = 3\n',
        "[walk_forward] 3 folds of train 12h + test 6h need until 2025-06-03T06:57, but the span ends at "
        "2025-06-03T01:00; use at most 2 folds, shorter windows or more history",
    ),
    (
        '[axes]\n"risk.max_leverage" = [2]\n[walk_forward]\ntrain = "12 hours"\ntest = "6h"\n',
        '`walk_forward.train` \'12 hours\' is not a duration; write e.g. "90m", "12h" or "2d"',
    ),
    ("[sweeps]\nseed = 1\n", "unknown table [sweeps] — did you mean `sweep`?"),
    ("[axes\n", "not valid TOML"),
]
