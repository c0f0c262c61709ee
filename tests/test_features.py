"""The tick's hot contracts as views (issue 24): what a strategy reads of a coin."""

from __future__ import annotations

import numpy as np
import pytest

from bot.features import COLUMNS, CoinFeatures, Context4h

H4 = Context4h(ema20=2.0, ema50=1.0, atr3=0.5, atr14=0.25, volume=10.0, volume_avg=8.0, macd=[0.1], rsi14=[55.0])


def _table(rows: int) -> np.ndarray:
    """Row r, column c holds 100 r + c: every value says where it was read from."""
    return (
        np.add.outer(100.0 * np.arange(rows), np.arange(len(COLUMNS))).T.copy().T
    )  # stored by column, as indicator_table


def test_a_view_shows_the_row_before_its_end_and_the_last_ten_values_of_each_series():
    view = CoinFeatures.at(
        _table(30), 25, coin="BTC", price=99.5, as_of_ms=7, h4=H4, open_interest=None, funding_rate=1e-4
    )
    # row 24: 2400 + the column's index (ema20 is column 1, ..., volume column 9)
    assert (view.ema20, view.ema50, view.macd, view.macd_signal, view.rsi7, view.rsi14) == (
        2401.0,
        2402.0,
        2403.0,
        2404.0,
        2405.0,
        2406.0,
    )
    assert (view.atr3, view.atr14, view.volume) == (2407.0, 2408.0, 2409.0)
    assert view.price == 99.5  # the market's price, not the table's close (2400)
    assert view.series["price"] == [1500.0 + 100 * i for i in range(10)]  # rows 15 .. 24, column 0
    assert view.series["rsi14"] == [1506.0 + 100 * i for i in range(10)]


def test_a_view_equals_the_same_features_given_by_value_and_copies_with_changes():
    view = CoinFeatures.at(
        _table(30), 12, coin="ETH", price=1.0, as_of_ms=3, h4=H4, open_interest=2.0, funding_rate=None
    )
    dumped = view.model_dump()
    assert (
        dumped["ema50"] == 1102.0
        and dumped["h4"]["volume_avg"] == 8.0
        and list(dumped)[:3] == ["coin", "as_of_ms", "price"]
    )
    given = CoinFeatures(**{**dumped, "h4": H4})
    assert given == view and given.series == view.series
    moved = view.model_copy(update={"price": 2.5})
    assert moved.price == 2.5 and moved.ema20 == 1101.0 and moved != view


def test_features_given_by_value_must_name_every_indicator():
    with pytest.raises(TypeError, match="needs exactly ema20"):
        CoinFeatures(coin="X", as_of_ms=0, price=1.0, series={}, h4=H4, ema20=1.0)
