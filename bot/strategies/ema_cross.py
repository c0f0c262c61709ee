"""EMA20/EMA50 cross, long or flat: the reference rule of the cross-check.

Not offered by `bot tick` or `bot backtest`: this strategy exists so the engine's fills
and accounting can be checked against a library nobody here wrote (backtesting.py,
tests/test_crosscheck.py and bench/crosscheck.py) on a rule both can express exactly.
Long while the 3m EMA20 is above the EMA50, flat otherwise; one position per coin.
"""

from __future__ import annotations

from bot.models import Action, CoinFeatures, Decision, Portfolio
from bot.tick.protocols import PromptView

# The rule has no exit besides the cross; the stop is there because every entry must
# carry one, and sits where an unlevered long can never reach it.
_STOP_FRACTION = 0.01


class EmaCrossStrategy:
    name = "ema_cross"
    trace = None  # free: nothing to account

    def __init__(self, *, size_pct: float = 50.0, leverage: float = 1.0) -> None:
        self.size_pct, self.leverage = size_pct, leverage

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        decisions = []
        for coin, f in features.items():
            up, held = f.ema20 > f.ema50, coin in portfolio.positions
            if up and not held:
                decisions.append(
                    Decision(
                        coin=coin,
                        action=Action.BUY,
                        confidence=1.0,
                        size_pct=self.size_pct,
                        leverage=self.leverage,
                        stop_loss=f.price * _STOP_FRACTION,
                        reasoning="EMA20 above EMA50",
                    )
                )
            elif not up and held:
                decisions.append(
                    Decision(coin=coin, action=Action.CLOSE, confidence=1.0, reasoning="EMA20 at or below EMA50")
                )
        return decisions
