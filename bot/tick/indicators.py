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

from bot.clock import CandleEnds
from bot.features import COLUMNS, SERIES_LENGTH
from bot.models import CoinFeatures, CoinMarket, Context4h, Snapshot

VOLUME_AVERAGE_WINDOW = 20
_MACD, _RSI14 = COLUMNS.index("macd"), COLUMNS.index("rsi14")
_EMA20, _EMA50, _ATR3, _ATR14 = (
    COLUMNS.index("ema20"),
    COLUMNS.index("ema50"),
    COLUMNS.index("atr3"),
    COLUMNS.index("atr14"),
)
_VOLUME, _VOLUME_AVG = COLUMNS.index("volume"), COLUMNS.index("volume_avg")


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


def indicator_table(candles: np.ndarray) -> np.ndarray:
    """``indicator_series`` as one table, a row per candle, the columns ``COLUMNS``: a tick
    reads a coin's row in one call (``CoinFeatures.at``). Stored column by column (the
    transpose of a stack of the series: no copy into rows, which cost more than the read)."""
    series = indicator_series(candles)
    return np.stack([series[name] for name in COLUMNS]).T


def coin_features(market: CoinMarket) -> CoinFeatures:
    """Features from the candles in the snapshot: what a live tick computes."""
    h4 = context_4h(indicator_table(market.candles_4h), end=len(market.candles_4h))
    return features_at(market, indicator_table(market.candles_3m), h4, end_3m=len(market.candles_3m))


def context_4h(table: np.ndarray, *, end: int) -> Context4h:
    """The 4h context as of the candle before index ``end`` of a 4h indicator table."""
    last = table[end - 1].tolist()
    tail = table[max(end - SERIES_LENGTH, 0) : end]
    return Context4h(
        ema20=last[_EMA20],
        ema50=last[_EMA50],
        atr3=last[_ATR3],
        atr14=last[_ATR14],
        volume=last[_VOLUME],
        volume_avg=last[_VOLUME_AVG],
        macd=tail[:, _MACD].tolist(),
        rsi14=tail[:, _RSI14].tolist(),
    )


def features_at(market: CoinMarket, table: np.ndarray, h4: Context4h, *, end_3m: int) -> CoinFeatures:
    """Features as of the candle before index ``end_3m`` of the 3m indicator table.

    The table may reach past the snapshot (a backtest computes it once over all of
    history); only rows before ``end_3m``, i.e. candles closed at ``Snapshot.as_of``,
    are read.
    """
    return CoinFeatures.at(
        table,
        end_3m,
        coin=market.coin,
        price=market.last_price,
        as_of_ms=int(market.candles_3m[-1, 0]),
        h4=h4,
        open_interest=market.open_interest,
        funding_rate=market.funding_rate,
        funding_interval_h=market.info.funding_interval_h,
    )


def compute_features(snapshot: Snapshot) -> dict[str, CoinFeatures]:
    return {coin: coin_features(market) for coin, market in snapshot.coins.items()}


class PrecomputedFeatures:
    """``compute_features`` for a backtest: each coin's indicators computed once over its
    whole history with ``indicator_table``, then read up to the snapshot's last closed
    candle. Recursive indicators have forgotten their seed after 500 candles (see the
    module docstring), so the values equal those a live tick computes from its fetched
    window (tests/test_backtest.py checks 1e-9 relative). A coin whose snapshot window
    is not part of the given history falls back to ``coin_features``.
    """

    def __init__(self, history: dict[str, dict[str, np.ndarray]]) -> None:
        # per coin: where each candle's window ends (3m, 4h) and the indicator tables (3m, 4h)
        self._coins = {
            coin: (
                CandleEnds(by_tf["3m"]),
                CandleEnds(by_tf["4h"]),
                indicator_table(by_tf["3m"]),
                indicator_table(by_tf["4h"]),
            )
            for coin, by_tf in history.items()
        }
        # per coin, the last 4h window seen and its context: the market hands out the same
        # window object for the 80 ticks it holds (kept here, so its id is never reused)
        self._h4: dict[str, tuple[np.ndarray, Context4h]] = {}

    def tables(self, coin: str) -> tuple[np.ndarray, np.ndarray]:
        """A coin's 3m and 4h indicator tables, a row per candle of its history (a backtest's
        skip plan reads where the rules could act from them: bot/backtest/skip.py)."""
        known = self._coins[coin]
        return known[2], known[3]

    def __call__(self, snapshot: Snapshot) -> dict[str, CoinFeatures]:
        features = {}
        for coin, market in snapshot.coins.items():
            known, window_4h = self._coins.get(coin), market.candles_4h
            end_3m = _end_in(known[0], market.candles_3m) if known else None
            h4 = self._h4.get(coin)
            if end_3m is not None and (h4 is None or h4[0] is not window_4h):
                end_4h = _end_in(known[1], window_4h)
                h4 = self._h4[coin] = (window_4h, context_4h(known[3], end=end_4h)) if end_4h is not None else None
            if end_3m is None or h4 is None:
                features[coin] = coin_features(market)
                continue
            features[coin] = features_at(market, known[2], h4[1], end_3m=end_3m)
        return features


def _end_in(ends: CandleEnds, window: np.ndarray) -> int | None:
    """Where ``window`` ends in a coin's history, if it is a part of it."""
    end = ends.get(int(window[-1, 0])) if len(window) else None
    return end if end is not None and end >= len(window) else None
