"""Rebuild tests/data/market/: the rows the tests need beyond the bundled sample.

The tests read one market folder: the bundled sample (bot/data/sample) plus these rows,
merged by ``tests.conftest.data_dir``. They are cut from the project's full data set
(../shared/data, real Binance USD-M history; provenance in its README), so a fresh
clone runs every test without it. Rows inside the sample's span are checked equal to
the sample and left out.

    python tests/data/make_market.py [../shared/data]
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "bot" / "data" / "sample"
OUT = Path(__file__).resolve().parent / "market"
COINS = ("BTC", "ETH", "SOL", "BNB", "DOGE", "XRP")
END = datetime(2025, 6, 6, tzinfo=UTC)
# 3m from 05-29: 500 candles before 05-30 01:00 and a day before the download tests' span;
# 4h and funding from 01-25: 500 4h candles before a download from 2025-02-01 could start;
# 1h (not in the sample) for the fake exchange's own tests.
SPANS = {
    "3m": datetime(2025, 5, 29, tzinfo=UTC),
    "1h": datetime(2025, 5, 29, tzinfo=UTC),
    "4h": datetime(2025, 1, 25, tzinfo=UTC),
    "funding_8h": datetime(2025, 1, 25, tzinfo=UTC),
}


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def main(shared: Path) -> None:
    for folder, start in SPANS.items():
        (OUT / folder).mkdir(parents=True, exist_ok=True)
        for coin in COINS:
            stem = f"{coin}USDT-funding-8h" if folder == "funding_8h" else f"{coin}USDT-{folder}"
            full = pd.read_csv(shared / folder / f"{stem}.csv")
            in_sample = SAMPLE / folder / f"{stem}.csv.gz"
            sample = pd.read_csv(in_sample) if in_sample.exists() else full.iloc[:0]
            wanted = full[(full.timestamp >= _ms(start)) & (full.timestamp < _ms(END))]
            inside = wanted.timestamp.isin(sample.timestamp)
            shared_rows = wanted[inside].reset_index(drop=True)
            pd.testing.assert_frame_equal(
                shared_rows, sample[sample.timestamp.isin(shared_rows.timestamp)].reset_index(drop=True)
            )
            wanted[~inside].to_csv(OUT / folder / f"{stem}.csv.gz", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
