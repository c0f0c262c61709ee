"""Is the best cell luck? The deflated Sharpe ratio of Bailey & López de Prado (2014).

D. H. Bailey and M. López de Prado, "The Deflated Sharpe Ratio: Correcting for Selection
Bias, Backtest Overfitting and Non-Normality", The Journal of Portfolio Management 40(5),
2014, pp. 94-107 (SSRN 2460551).

Picking the best of N backtests picks the luckiest too: even with no skill at all, the
best of N Sharpe ratios is expected to be about (eq. 8 of the paper)

    SR0 = sqrt(V[SR_n]) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))

(g the Euler-Mascheroni constant, Z the standard normal CDF, V the variance of the
trials' Sharpe ratios). The DSR is the probabilistic Sharpe ratio of the best cell
against that benchmark (eq. 9):

    DSR = Z( (SR - SR0) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2) )

with SR, SR0 per observation (not annualised), T the number of returns, g3 the
skewness and g4 the kurtosis (3 for normal returns) of the best cell's returns. It is
the probability that the best cell's true Sharpe is above zero after the selection; the
paper's threshold for "not luck" is 0.95. N here counts every cell tried, an upper bound
on the independent trials (cells that differ little are correlated), so the correction is
conservative, as the paper advises when the clustering of trials is not estimated.
"""

from __future__ import annotations

import math
from statistics import NormalDist

EULER_GAMMA = 0.5772156649015329
THRESHOLD = 0.95
REFERENCE = (
    "Bailey & López de Prado (2014), The Deflated Sharpe Ratio: Correcting for Selection Bias, "
    "Backtest Overfitting and Non-Normality, J. Portfolio Management 40(5)"
)
_NORMAL = NormalDist()


def expected_max_sharpe(*, trials: int, variance: float) -> float:
    """SR0: the best Sharpe expected from ``trials`` skill-less trials whose Sharpe ratios vary by ``variance``."""
    if trials < 2 or variance <= 0:
        return 0.0  # one trial: nothing was selected
    inv = _NORMAL.inv_cdf
    return math.sqrt(variance) * (
        (1 - EULER_GAMMA) * inv(1 - 1 / trials) + EULER_GAMMA * inv(1 - 1 / (trials * math.e))
    )


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


def deflated_sharpe(
    sharpe: float, *, trial_sharpes: list[float], observations: int, skewness: float, kurtosis: float
) -> float | None:
    """DSR of the best trial (per-observation ``sharpe``) selected among ``trial_sharpes`` (all trials, it included)."""
    n = len(trial_sharpes)
    mean = sum(trial_sharpes) / n if n else 0.0
    variance = sum((value - mean) ** 2 for value in trial_sharpes) / (n - 1) if n > 1 else 0.0
    benchmark = expected_max_sharpe(trials=n, variance=variance)
    return probabilistic_sharpe(
        sharpe, benchmark=benchmark, observations=observations, skewness=skewness, kurtosis=kurtosis
    )


def moments(returns) -> dict[str, float | None]:
    """Per-observation Sharpe (sample std, as the backtest report's) and the population
    skewness and kurtosis (not excess: 3 for normal returns) that eq. 9 takes as g3, g4;
    None without variance (the sweep and the arena's leaderboard both use it)."""
    import numpy as np

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
