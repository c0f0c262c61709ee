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
