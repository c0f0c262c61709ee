"""Indicators with `ta`: pure functions from closed candles to features.

EMA, MACD, RSI (Wilder) and ATR (Wilder) are recursive: every value still carries a
trace of the first candle of the window, decaying by (1 - alpha) per candle. With 500
candles the slowest of them (EMA50, alpha = 2/51) keeps (49/51)^450 ~ 1e-8 of its seed,
so the values shown no longer depend on where the window starts, and a backtest that
computes the series once over all of history agrees with a live tick that fetched only
the last 500 candles.

ATR is `ta`'s AverageTrueRange computed with pandas' ewm instead of its per-row Python
loop (same true range, same SMA seed, same Wilder recursion; a test holds the two equal
to 1e-12): the loop cost ~8 ms per series, a third of a cron tick's compute time.
"""

from __future__ import annotations

import numpy as np

from bot.models import CoinFeatures, CoinMarket, Context4h, Snapshot, candle_ends

SERIES_LENGTH = 10  # values of each 3m series shown to the strategy, oldest first
VOLUME_AVERAGE_WINDOW = 20


def indicator_series(candles: np.ndarray) -> dict[str, np.ndarray]:
    """Every indicator as an array aligned with ``candles`` (NaN during warm-up)."""
    import pandas as pd
    from ta.momentum import RSIIndicator
    from ta.trend import MACD, EMAIndicator

    high, low, close = (pd.Series(candles[:, column]) for column in (2, 3, 4))
    macd = MACD(close, window_slow=26, window_fast=12, window_sign=9)
    series = {
        "price": close,
        "ema20": EMAIndicator(close, window=20).ema_indicator(),
        "ema50": EMAIndicator(close, window=50).ema_indicator(),
        "macd": macd.macd(),
        "macd_signal": macd.macd_signal(),
        "rsi7": RSIIndicator(close, window=7).rsi(),
        "rsi14": RSIIndicator(close, window=14).rsi(),
        "atr3": _average_true_range(high, low, close, window=3),
        "atr14": _average_true_range(high, low, close, window=14),
        "volume": pd.Series(candles[:, 5]),
        "volume_avg": pd.Series(candles[:, 5]).rolling(VOLUME_AVERAGE_WINDOW, min_periods=1).mean(),
    }
    return {name: values.to_numpy(dtype=np.float64) for name, values in series.items()}


def _average_true_range(high, low, close, *, window: int):
    """ta.volatility.AverageTrueRange, vectorised: 0 before ``window`` candles (as ta
    returns), then the SMA of the first ``window`` true ranges, then Wilder smoothing."""
    import pandas as pd

    previous = close.shift(1)
    true_range = pd.concat([high - low, (high - previous).abs(), (low - previous).abs()], axis=1).max(axis=1)
    atr = pd.Series(0.0, index=close.index)
    if len(close) < window:
        return atr
    seeded = true_range.iloc[window - 1 :].copy()
    seeded.iloc[0] = true_range.iloc[:window].mean()
    atr.iloc[window - 1 :] = seeded.ewm(alpha=1.0 / window, adjust=False).mean()
    return atr


def coin_features(market: CoinMarket) -> CoinFeatures:
    """Features from the candles in the snapshot: what a live tick computes."""
    s4 = _as_lists(indicator_series(market.candles_4h))
    return features_from_series(
        market, _as_lists(indicator_series(market.candles_3m)), context_4h(s4, end=len(market.candles_4h)), end_3m=len(market.candles_3m)
    )


def _as_lists(series: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Plain floats: reading single values and short slices of a list is several times
    cheaper than of an array, which a backtest does thousands of times per coin."""
    return {name: values.tolist() for name, values in series.items()}


def context_4h(s4: dict[str, list[float]], *, end: int) -> Context4h:
    """The 4h context as of the candle before index ``end`` of the 4h indicator series."""
    last, tail = end - 1, slice(end - SERIES_LENGTH, end)
    return Context4h(
        ema20=s4["ema20"][last],
        ema50=s4["ema50"][last],
        atr3=s4["atr3"][last],
        atr14=s4["atr14"][last],
        volume=s4["volume"][last],
        volume_avg=s4["volume_avg"][last],
        macd=s4["macd"][tail],
        rsi14=s4["rsi14"][tail],
    )


def features_from_series(market: CoinMarket, s3: dict[str, list[float]], h4: Context4h, *, end_3m: int) -> CoinFeatures:
    """Features as of the candle before index ``end_3m`` of the 3m indicator series.

    The series may reach past the snapshot (a backtest computes them once over all of
    history); only values before ``end_3m``, i.e. candles closed at ``Snapshot.as_of``,
    are read.
    """
    last, tail = end_3m - 1, slice(end_3m - SERIES_LENGTH, end_3m)
    return CoinFeatures(
        coin=market.coin,
        as_of_ms=int(market.candles_3m[-1, 0]),
        price=market.last_price,
        ema20=s3["ema20"][last],
        ema50=s3["ema50"][last],
        macd=s3["macd"][last],
        macd_signal=s3["macd_signal"][last],
        rsi7=s3["rsi7"][last],
        rsi14=s3["rsi14"][last],
        atr3=s3["atr3"][last],
        atr14=s3["atr14"][last],
        volume=s3["volume"][last],
        series={name: s3[name][tail] for name in ("price", "ema20", "macd", "rsi7", "rsi14")},
        h4=h4,
        open_interest=market.open_interest,
        funding_rate=market.funding_rate,
        funding_interval_h=market.info.funding_interval_h,
    )


def compute_features(snapshot: Snapshot) -> dict[str, CoinFeatures]:
    return {coin: coin_features(market) for coin, market in snapshot.coins.items()}


class PrecomputedFeatures:
    """``compute_features`` for a backtest: each coin's indicators computed once over its
    whole history with ``indicator_series``, then read up to the snapshot's last closed
    candle. Recursive indicators have forgotten their seed after 500 candles (see the
    module docstring), so the values equal those a live tick computes from its fetched
    window (tests/test_backtest.py checks 1e-9 relative). A coin whose snapshot window
    is not part of the given history falls back to ``coin_features``.
    """

    def __init__(self, history: dict[str, dict[str, np.ndarray]]) -> None:
        self._ends = {coin: {tf: candle_ends(candles) for tf, candles in by_tf.items()} for coin, by_tf in history.items()}
        self._series = {coin: {tf: _as_lists(indicator_series(candles)) for tf, candles in by_tf.items()} for coin, by_tf in history.items()}
        self._h4: dict[str, tuple[int, Context4h]] = {}  # per coin, the last 4h context: it holds for 80 ticks

    def _end(self, coin: str, timeframe: str, window: np.ndarray) -> int | None:
        """Where ``window`` ends in the coin's history, if it is a part of it."""
        ends = self._ends.get(coin, {}).get(timeframe)
        end = ends.get(int(window[-1, 0])) if ends and len(window) else None
        return end if end is not None and end >= len(window) else None

    def __call__(self, snapshot: Snapshot) -> dict[str, CoinFeatures]:
        features = {}
        for coin, market in snapshot.coins.items():
            end_3m, end_4h = self._end(coin, "3m", market.candles_3m), self._end(coin, "4h", market.candles_4h)
            if end_3m is None or end_4h is None:
                features[coin] = coin_features(market)
                continue
            series = self._series[coin]
            h4 = self._h4.get(coin)
            if h4 is None or h4[0] != end_4h:
                h4 = self._h4[coin] = (end_4h, context_4h(series["4h"], end=end_4h))
            features[coin] = features_from_series(market, series["3m"], h4[1], end_3m=end_3m)
        return features
