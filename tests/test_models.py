"""The contracts' helpers: candle ends found by arithmetic when evenly spaced, by lookup otherwise."""

from __future__ import annotations

import numpy as np

from bot.clock import CandleEnds


def test_candle_ends_find_evenly_spaced_candles_by_arithmetic_and_others_by_lookup():
    even = np.array([[1_000.0 + 180 * i, 1, 1, 1, 1, 1] for i in range(5)])  # opens 1000, 1180, ..., 1720
    ends = CandleEnds(even)
    assert [ends.get(t) for t in (1_000, 1_180, 1_720)] == [1, 2, 5]
    assert [ends.get(t, 0) for t in (820, 1_900, 1_090)] == [0, 0, 0]  # before, after, between two candles
    gapped = even[[0, 1, 3, 4]]  # the candle opening at 1360 is missing
    ends = CandleEnds(gapped)
    assert [ends.get(t) for t in (1_000, 1_180, 1_540, 1_720)] == [1, 2, 3, 4]
    assert ends.get(1_360) is None
