"""How much of a curve's return, Sharpe and max drawdown is luck: a stationary block bootstrap
over its tick returns, and the probabilistic Sharpe ratio of one curve against another's Sharpe.

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

The probabilistic Sharpe ratio, Bailey & López de Prado, "The Sharpe Ratio Efficient
Frontier", J. of Risk 15(2), 2012 (and eq. 9 of their 2014 deflated Sharpe ratio paper):

    PSR = Z( (SR - SR*) * sqrt(n - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2) )

the probability that the true Sharpe of a curve whose n returns have the per-observation
Sharpe SR, skewness g3 and kurtosis g4 (3 for normal returns) is above the benchmark SR*
(taken as known: in the arena, the incumbent's Sharpe over the same ticks). 0.95 is the
papers' threshold for "not luck". Below ``MIN_RETURNS`` (a day of ticks, the status's rule
for a Sharpe) neither the Sharpe nor its intervals are given.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from bot.tick.portfolio import SHARPE_MIN_RETURNS, TICKS_PER_YEAR

BLOCK_TICKS = 20  # mean block length: one hour of 3-minute ticks
RESAMPLES = 1_000
SEED = 0
LEVEL_PCT = 95.0
MIN_RETURNS = SHARPE_MIN_RETURNS  # below it the Sharpe and the intervals are "n/a (needs N more ticks)"
THRESHOLD = 0.95
REFERENCE = (
    "Bailey & López de Prado (2014), The Deflated Sharpe Ratio: Correcting for Selection Bias, "
    "Backtest Overfitting and Non-Normality, J. Portfolio Management 40(5)"
)
METHOD = (
    f"stationary block bootstrap (Politis & Romano 1994) over tick returns: mean block {BLOCK_TICKS} ticks, "
    f"{RESAMPLES} resamples, seed {SEED}, {LEVEL_PCT:g} % percentile intervals; n/a below {MIN_RETURNS} ticks"
)
_CELLS_PER_CHUNK = 2_000_000  # resamples x ticks held at once (16 MB of floats), whatever the span
_NORMAL = NormalDist()


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
        peak = np.maximum.accumulate(growth, axis=1)  # in place from here: the chunk's largest arrays
        np.maximum(peak, 1.0, out=peak)  # the curve starts at 1 before the first tick
        np.divide(growth, peak, out=peak)
        drawdown.append((1.0 - np.min(peak, axis=1)) * 100.0)
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


def probabilistic_sharpe(
    sharpe: float, *, benchmark: float, observations: int, skewness: float, kurtosis: float
) -> float | None:
    """PSR: the probability that the true per-observation Sharpe is above ``benchmark``."""
    if observations < 2:
        return None
    spread = 1 - skewness * sharpe + (kurtosis - 1) / 4 * sharpe**2
    if spread <= 0:
        return None
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread))


def moments(returns: np.ndarray) -> dict[str, float | None]:
    """Per-observation Sharpe (sample std, as the backtest report's) and the population
    skewness and kurtosis (not excess) the PSR takes as g3, g4; None without variance."""
    none: dict[str, float | None] = {"sharpe_per_tick": None, "skewness": None, "kurtosis": None}
    if len(returns) < 2:
        return none
    mean, std = float(np.mean(returns)), float(np.std(returns, ddof=1))
    central = returns - mean
    m2 = float(np.mean(central**2))
    if std == 0 or m2 == 0:
        return none
    skew = float(np.mean(central**3)) / m2**1.5
    kurt = float(np.mean(central**4)) / m2**2
    return {
        "sharpe_per_tick": mean / std,
        "skewness": skew if math.isfinite(skew) else None,
        "kurtosis": kurt if math.isfinite(kurt) else None,
    }
