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
The PSR itself, the moments it takes and the threshold live in ``bot.backtest.significance``
(the arena's leaderboard uses them too); they are re-exported here.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from bot.backtest.significance import REFERENCE, THRESHOLD, moments, probabilistic_sharpe

__all__ = ["REFERENCE", "THRESHOLD", "deflated_sharpe", "expected_max_sharpe", "moments", "probabilistic_sharpe"]
EULER_GAMMA = 0.5772156649015329
_NORMAL = NormalDist()


def expected_max_sharpe(*, trials: int, variance: float) -> float:
    """SR0: the best Sharpe expected from ``trials`` skill-less trials whose Sharpe ratios vary by ``variance``."""
    if trials < 2 or variance <= 0:
        return 0.0  # one trial: nothing was selected
    inv = _NORMAL.inv_cdf
    return math.sqrt(variance) * (
        (1 - EULER_GAMMA) * inv(1 - 1 / trials) + EULER_GAMMA * inv(1 - 1 / (trials * math.e))
    )


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
