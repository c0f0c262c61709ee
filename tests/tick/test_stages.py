"""The tick's stages: the drawdown is the largest fall from a peak."""

from __future__ import annotations

import pytest

from bot.ops.state import BotState


def test_max_drawdown_is_the_largest_fall_from_a_peak():
    from bot.tick.portfolio import record_equity

    state = BotState.fresh(mode="paper", initial_equity_usd=1000)
    for equity in (1100.0, 990.0, 1050.0, 1200.0, 1140.0):
        record_equity(state, equity)
    assert state.peak_equity_usd == 1200.0
    assert state.max_drawdown_pct == pytest.approx(10.0, abs=1e-12)  # 1100 -> 990; 1200 -> 1140 is only 5 %
