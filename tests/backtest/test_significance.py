"""The stationary block bootstrap against a resampling worked by hand (fixed draws), and its
seeded, bounded behaviour on real draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.backtest.significance import RESAMPLES, bootstrap_intervals, stationary_indices

YEAR = math.sqrt(175_200)  # 3-minute ticks in 365 days, as the report annualises


class _Draws:
    """A stand-in for ``numpy.random.Generator`` (the two methods the bootstrap calls:
    ``Generator.random(size)`` and ``Generator.integers(low, high, size)``) answering fixed draws."""

    def __init__(self, uniform, starts) -> None:
        self.uniform, self.starts = np.array(uniform, dtype=float), np.array(starts)
        self.calls: list[tuple] = []

    def random(self, size):
        self.calls.append(("random", size))
        return self.uniform.copy()

    def integers(self, low, high, size):
        self.calls.append(("integers", low, high, size))
        return self.starts.copy()


# block 2: a new block starts where the draw is below 1/2 (and always at the first tick)
UNIFORM = [[0.9, 0.7, 0.2, 0.6], [0.9, 0.1, 0.9, 0.9], [0.9, 0.9, 0.9, 0.9]]
STARTS = [[3, 0, 1, 0], [2, 0, 0, 0], [1, 0, 0, 0]]


def test_stationary_indices_follow_the_blocks_by_hand():
    draws = _Draws(UNIFORM, STARTS)
    indices = stationary_indices(4, resamples=3, block=2, rng=draws)
    assert indices.tolist() == [
        [3, 0, 1, 2],  # blocks start at ticks 0 (at 3, wrapping to 0) and 2 (at 1): 3, 0 | 1, 2
        [2, 0, 1, 2],  # blocks at 0 (at 2) and 1 (at 0, running on): 2 | 0, 1, 2
        [1, 2, 3, 0],  # one block from 1, wrapping around the end
    ]
    assert draws.calls == [("random", (3, 4)), ("integers", 0, 4, (3, 4))]


def test_bootstrap_intervals_by_hand():
    """Returns +10 %, -10 %, 0, +20 % resampled as above:
    [+20, +10, -10, 0]: growth 1.2, 1.32, 1.188, 1.188: +18.8 %, max DD 1 - 1.188/1.32 = 10 %;
    [0, +10, -10, 0]:   growth 1, 1.1, 0.99, 0.99:      -1 %,    max DD 1 - 0.99/1.1 = 10 %;
    [-10, 0, +20, +10]: growth 0.9, 0.9, 1.08, 1.188:  +18.8 %, max DD 1 - 0.9/1 = 10 %.
    Sharpe: rows 1 and 3 hold the same four returns, mean 0.05 and sum of squared deviations
    0.05 (sample variance 0.05/3), row 2 has mean 0: Sharpe 0.
    The 2.5th and 97.5th percentiles of three sorted values a <= b <= c (linear, numpy's
    default) sit at ranks 0.05 and 1.95: a + 0.05 (b - a) and b + 0.95 (c - b)."""
    returns = np.array([0.10, -0.10, 0.0, 0.20])
    found = bootstrap_intervals(returns, resamples=3, block=2, rng=_Draws(UNIFORM, STARTS))
    sharpe = 0.05 / math.sqrt(0.05 / 3) * YEAR
    assert found["return_pct"] == pytest.approx((-1.0 + 0.05 * 19.8, 18.8), rel=1e-12)
    assert found["sharpe"] == pytest.approx((0.05 * sharpe, sharpe), rel=1e-12)
    assert found["max_drawdown_pct"] == pytest.approx((10.0, 10.0), rel=1e-12)


def test_bootstrap_is_seeded_and_a_flat_book_has_no_sharpe_interval():
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0001, 0.002, size=300)
    first, again = bootstrap_intervals(returns), bootstrap_intervals(returns)
    assert first == again  # the same journal, the same intervals
    low, high = first["return_pct"]
    assert low < high and first["sharpe"][0] < first["sharpe"][1]
    assert bootstrap_intervals(np.zeros(100)) == {
        "return_pct": (0.0, 0.0),
        "sharpe": None,
        "max_drawdown_pct": (0.0, 0.0),
    }


def test_long_series_are_resampled_in_bounded_chunks(monkeypatch):
    """Memory is bounded by resamples x ticks per chunk, whatever the span: every resample is
    still drawn (RESAMPLES rows in all), in chunks of at most the cap."""
    import bot.backtest.significance as module

    seen = []
    real = module.stationary_indices

    def counting(ticks, *, resamples, block, rng):
        seen.append(resamples * ticks)
        return real(ticks, resamples=resamples, block=block, rng=rng)

    monkeypatch.setattr(module, "_CELLS_PER_CHUNK", 50_000)
    monkeypatch.setattr(module, "stationary_indices", counting)
    module.bootstrap_intervals(np.full(400, 0.001))
    assert sum(seen) == RESAMPLES * 400 and max(seen) <= 50_000 and len(seen) == 8  # 125 rows a chunk
