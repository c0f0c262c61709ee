"""How much of a curve's return, Sharpe and max drawdown is luck: a stationary block bootstrap
over its tick returns.

Politis & Romano (1994), "The Stationary Bootstrap", J. American Statistical Association
89(428), pp. 1303-1313: a resampled series is made of blocks of consecutive tick returns
starting at uniformly drawn ticks, each block's length geometric with mean ``BLOCK_TICKS``
(at every tick a new block starts with probability 1 / BLOCK_TICKS), wrapping from the last
tick to the first. Blocks keep what a book's returns carry from one tick to the next (a
position held for hours, volatility that clusters) which resampling single ticks would
destroy. Each of ``RESAMPLES`` series gives a total return, an annualised Sharpe (as the
backtest report's) and a max drawdown; the interval is their 2.5th..97.5th percentiles
(the percentile method, 95 %). The generator is seeded: the same journal gives the same
intervals, and books of the same length are resampled at the same ticks (the same market
hours for every candidate of a leaderboard).

A max drawdown's interval is the weakest of the three: a path statistic, which blocks
only partly preserve; read it as a spread, not as a coverage promise.
"""

from __future__ import annotations

import math

import numpy as np

from bot.tick.portfolio import TICKS_PER_YEAR

BLOCK_TICKS = 20  # mean block length: one hour of 3-minute ticks
RESAMPLES = 1_000
SEED = 0
LEVEL_PCT = 95.0
MIN_RETURNS = 3 * BLOCK_TICKS  # below it the Sharpe and the intervals are "n/a (needs N more ticks)"
METHOD = (
    f"stationary block bootstrap (Politis & Romano 1994) over tick returns: mean block {BLOCK_TICKS} ticks, "
    f"{RESAMPLES} resamples, seed {SEED}, {LEVEL_PCT:g} % percentile intervals; n/a below {MIN_RETURNS} ticks"
)
_CELLS_PER_CHUNK = 2_000_000  # resamples x ticks held at once (16 MB of floats), whatever the span


def stationary_indices(ticks: int, *, resamples: int, block: float, rng: np.random.Generator) -> np.ndarray:
    """(resamples, ticks) indices into the series: the first tick of every row and, after it,
    each tick whose uniform draw is below 1 / ``block`` starts a new block at a drawn tick;
    the others continue the block (the next tick, wrapping around)."""
    starts_block = rng.random((resamples, ticks)) < 1.0 / block
    starts_block[:, 0] = True
    starts = rng.integers(0, ticks, size=(resamples, ticks))
    positions = np.arange(ticks)
    block_start = np.maximum.accumulate(np.where(starts_block, positions, 0), axis=1)
    return (np.take_along_axis(starts, block_start, axis=1) + positions - block_start) % ticks


def bootstrap_intervals(
    returns: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    block: float = BLOCK_TICKS,
    rng: np.random.Generator | None = None,
) -> dict[str, tuple[float, float] | None]:
    """The ``LEVEL_PCT`` intervals of ``return_pct``, ``sharpe`` (None when no resample has
    variance) and ``max_drawdown_pct`` of the curve whose tick returns are ``returns``."""
    rng = rng if rng is not None else np.random.default_rng(SEED)
    ticks = len(returns)
    total, ratio, drawdown = [], [], []
    chunk = max(1, _CELLS_PER_CHUNK // max(ticks, 1))
    for done in range(0, resamples, chunk):
        sample = returns[stationary_indices(ticks, resamples=min(chunk, resamples - done), block=block, rng=rng)]
        growth = np.cumprod(1.0 + sample, axis=1)
        total.append((growth[:, -1] - 1.0) * 100.0)
        peak = np.maximum(np.maximum.accumulate(growth, axis=1), 1.0)  # the curve starts at 1 before the first tick
        drawdown.append(np.max((1.0 - growth / peak) * 100.0, axis=1))
        std = np.std(sample, axis=1, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio.append(np.where(std > 0, np.mean(sample, axis=1) / std * math.sqrt(TICKS_PER_YEAR), np.nan))
    sharpes = np.concatenate(ratio)
    return {
        "return_pct": _interval(np.concatenate(total)),
        "sharpe": _interval(sharpes[~np.isnan(sharpes)]) if not np.all(np.isnan(sharpes)) else None,
        "max_drawdown_pct": _interval(np.concatenate(drawdown)),
    }


def _interval(values: np.ndarray) -> tuple[float, float]:
    tail = (100.0 - LEVEL_PCT) / 2
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
