"""`bot backtest` agrees with backtesting.py, a library nobody here wrote (bench/crosscheck.py).

Same coin, candles, rule (EMA20/EMA50 long/flat), fee and fill price; no leverage, no
slippage. Tolerances: every trade has the same entry and exit candle and the same prices
to 1e-9; sizes agree to 1e-3 relative (backtesting.py sizes an order at the price plus
commission, we at the price, so its positions are 0.05 % smaller; lot rounding adds
< 1e-4); final returns agree to 0.01 percentage points.
"""

from __future__ import annotations

import pytest

from bench.crosscheck import compare
from tests.conftest import SAMPLE, SHARED_DATA


def _assert_agree(result: dict) -> None:
    ours, theirs = result["ours"].trades, result["theirs"].trades
    assert len(ours) == len(theirs) > 5
    for mine, peer in zip(ours, theirs, strict=True):
        assert mine[:2] == peer[:2]  # entry and exit candle
        assert mine[2] == pytest.approx(peer[2], rel=1e-9) and mine[3] == pytest.approx(peer[3], rel=1e-9)
        assert mine[4] == pytest.approx(peer[4], rel=1e-3)
    assert result["ours_return_pct"] == pytest.approx(result["theirs_return_pct"], abs=0.01)


def test_ema_cross_on_the_bundled_sample_matches_backtesting_py():
    _assert_agree(compare(SAMPLE, "ETH"))


@pytest.mark.slow
@pytest.mark.parametrize("coin", ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"])
def test_ema_cross_over_the_full_data_matches_backtesting_py(coin):
    if not (SHARED_DATA / "3m").is_dir():
        pytest.skip("needs ../shared/data")
    _assert_agree(compare(SHARED_DATA, coin))
