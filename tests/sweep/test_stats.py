"""The deflated Sharpe ratio and the probabilistic Sharpe ratio against worked examples."""

from __future__ import annotations

import math

import pytest

from bot.sweep.stats import deflated_sharpe, expected_max_sharpe, probabilistic_sharpe

# ----- the deflated Sharpe ratio ------------------------------------------------------------


def test_the_deflated_sharpe_ratio_matches_the_papers_worked_example():
    """Bailey & López de Prado (2014), section 5's example: annual Sharpe 2.5 over 5 years of
    daily returns (T = 1,250, 250 a year), N = 100 trials whose annual Sharpes vary by 1/2,
    skewness -3, kurtosis 10. The paper reports SR0 = 0.1132 (per day) and DSR = 0.9004.

    By hand (standard normal quantiles from tables): V = 0.5 / 250 = 0.002,
    Z^-1(0.99) = 2.32635, Z^-1(1 - 1/(100 e)) = Z^-1(0.996321) = 2.68021;
    SR0 = sqrt(0.002) x (0.42278 x 2.32635 + 0.57722 x 2.68021) = 0.044721 x 2.53060 = 0.113172.
    SR = 2.5 / sqrt(250) = 0.158114; z = (0.158114 - 0.113172) x sqrt(1249)
    / sqrt(1 + 3 x 0.158114 + 9/4 x 0.025000) = 1.58830 / 1.23717 = 1.28382; Z(z) = 0.90040.
    """
    sr0 = expected_max_sharpe(trials=100, variance=0.5 / 250)
    assert sr0 == pytest.approx(0.113172, abs=2e-6)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(250), benchmark=sr0, observations=1250, skewness=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.90040, abs=2e-5)  # the paper's 0.9004
    # the same through the trials themselves: 100 Sharpes of +-a with sample variance 0.002
    a = math.sqrt(0.002 * 99 / 100)
    trials = [a] * 50 + [-a] * 50
    assert deflated_sharpe(
        2.5 / math.sqrt(250), trial_sharpes=trials, observations=1250, skewness=-3.0, kurtosis=10.0
    ) == pytest.approx(dsr, rel=1e-12)


def test_one_trial_is_no_selection_and_the_psr_of_a_normal_series_is_its_t_statistic():
    """With N = 1 the benchmark is 0 and the DSR is the PSR against 0: for normal returns
    (skew 0, kurtosis 3) and SR = 0.1 over T = 101: z = 0.1 x 10 / sqrt(1 + 0.005) = 0.997509,
    Z(z) = 0.84074 (tables: 0.83891 + 0.7509 x 0.00243)."""
    assert expected_max_sharpe(trials=1, variance=0.3) == 0.0
    assert deflated_sharpe(0.1, trial_sharpes=[0.1], observations=101, skewness=0.0, kurtosis=3.0) == pytest.approx(
        0.84074, abs=1e-5
    )
    assert probabilistic_sharpe(0.1, benchmark=0.0, observations=1, skewness=0.0, kurtosis=3.0) is None
