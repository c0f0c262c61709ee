"""Indicators against values worked out by hand, independence from the window start, and the
backtest's precomputed features equal to what a live tick computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.models import CoinMarket, MarketInfo
from bot.tick.indicators import PrecomputedFeatures, coin_features, compute_features, indicator_series
from bot.venues.history import HistoryMarket
from tests.conftest import data_dir


def _linear_candles(n: int = 600) -> np.ndarray:
    """close = 100 + t, high/low = close +- 1: every indicator has a closed form."""
    t = np.arange(n, dtype=float)
    close = 100.0 + t
    return np.column_stack([1.7e12 + t * 180_000, close - 0.5, close + 1, close - 1, close, np.full(n, 5.0)])


def _real_candles(coin: str, timeframe: str) -> np.ndarray:
    from bot.venues.history import _read_csv

    return _read_csv(data_dir() / timeframe, f"{coin}USDT-{timeframe}")


COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]
START = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the sample's first tick with 500 closed candles


def _values(tree, prefix=""):
    """Every float in a nested features dump, by path."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _values(value, f"{prefix}.{key}")
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _values(value, f"{prefix}[{index}]")
    elif isinstance(tree, float):
        yield prefix, tree


def test_ema_of_a_linear_series_lags_by_one_minus_alpha_over_alpha():
    # EMA(span) of x_t = t settles at x_t - (1 - a) / a with a = 2 / (span + 1):
    # EMA20 lags 9.5, EMA50 lags 24.5.
    series = indicator_series(_linear_candles())
    assert series["ema20"][-1] == pytest.approx(699.0 - 9.5, abs=1e-9)
    assert series["ema50"][-1] == pytest.approx(699.0 - 24.5, rel=1e-11)


def test_macd_of_a_linear_series_is_the_difference_of_the_lags():
    # EMA12 lags 5.5 and EMA26 lags 12.5, so MACD = 7 and its signal line converges to 7.
    series = indicator_series(_linear_candles())
    assert series["macd"][-1] == pytest.approx(7.0, abs=1e-9)
    assert series["macd_signal"][-1] == pytest.approx(7.0, abs=1e-9)


def test_rsi_is_100_when_price_only_rises_and_atr_equals_the_constant_true_range():
    series = indicator_series(_linear_candles())
    assert series["rsi7"][-1] == 100.0
    assert series["rsi14"][-1] == 100.0
    # high - low = 2, |high - prev close| = 2, |low - prev close| = 0 -> TR = 2 every candle.
    assert series["atr3"][-1] == pytest.approx(2.0)
    assert series["atr14"][-1] == pytest.approx(2.0)


def test_rsi_of_alternating_moves_is_the_ratio_of_wilder_averages():
    # +2, -1, +2, -1 ...: Wilder's averages settle at gains 1.0 and losses 0.5 over a
    # pair of candles, so RSI oscillates around 100 - 100 / (1 + 2) = 66.7.
    n = 600
    steps = np.where(np.arange(n) % 2 == 0, 2.0, -1.0)
    close = 1000.0 + np.cumsum(steps)
    candles = np.column_stack([np.arange(n) * 180_000.0, close, close + 1, close - 1, close, np.ones(n)])
    rsi = indicator_series(candles)["rsi14"]
    assert (rsi[-1] + rsi[-2]) / 2 == pytest.approx(66.67, abs=0.5)


@pytest.mark.parametrize("timeframe", ["3m", "4h"])
def test_values_do_not_depend_on_where_a_500_candle_window_starts(timeframe):
    candles = _real_candles("BTC", timeframe)[-1200:]
    short, long = indicator_series(candles[-500:]), indicator_series(candles)
    for name in ("ema20", "ema50", "macd", "macd_signal", "rsi7", "rsi14", "atr3", "atr14"):
        assert short[name][-1] == pytest.approx(long[name][-1], rel=1e-6), name


def test_coin_features_show_the_last_ten_values_oldest_first():
    candles = _linear_candles()
    info = MarketInfo(symbol="X/USDT:USDT", amount_step=0.001, price_step=0.1)
    market = CoinMarket(
        coin="X", info=info, candles_3m=candles, candles_4h=candles, last_price=699.5, funding_rate=0.0001
    )
    features = coin_features(market)
    assert features.price == 699.5  # the market's last price, not the last close
    assert features.series["price"] == [690.0 + i for i in range(10)]
    assert features.h4.volume_avg == 5.0
    assert features.as_of_ms == int(candles[-1, 0])
    assert features.funding_rate == 0.0001


@pytest.mark.parametrize("window", [3, 14])
@pytest.mark.parametrize("timeframe", ["3m", "4h"])
def test_atr_equals_ta_average_true_range_on_real_candles(timeframe, window):
    # The vectorised ATR must be ta's AverageTrueRange, warm-up zeros included.
    import pandas as pd
    from ta.volatility import AverageTrueRange

    candles = _real_candles("ETH", timeframe)[-600:]
    high, low, close = (pd.Series(candles[:, column]) for column in (2, 3, 4))
    expected = AverageTrueRange(high, low, close, window=window).average_true_range().to_numpy()
    actual = indicator_series(candles)[f"atr{window}"]
    assert (actual[: window - 1] == 0).all()
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("hours", [0, 7, 29, 47, 70])
def test_precomputed_features_equal_what_a_live_tick_computes_from_its_window(hours):
    market = HistoryMarket(data_dir())
    first, _ = market.span(COINS)
    snapshot = market.snapshot_at(COINS, first + timedelta(hours=hours, minutes=hours * 3))
    live = compute_features(snapshot)
    sliced = PrecomputedFeatures({coin: market.candles(coin) for coin in COINS})(snapshot)
    assert set(sliced) == set(COINS)
    checked = 0
    for coin in COINS:
        expected = dict(_values(live[coin].model_dump()))
        for path, value in _values(sliced[coin].model_dump()):
            assert value == pytest.approx(expected[path], rel=1e-9, abs=0.0), f"{coin}{path}"
            checked += 1
    assert checked > 6 * 80


def test_precomputed_features_fall_back_to_the_window_for_a_coin_outside_their_history():
    market = HistoryMarket()
    snapshot = market.snapshot_at(["BTC", "ETH"], START)
    features = PrecomputedFeatures({"BTC": market.candles("BTC")})(snapshot)
    assert features["ETH"] == compute_features(snapshot)["ETH"]
