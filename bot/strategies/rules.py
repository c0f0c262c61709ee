"""Rule-based baseline: trend + momentum, with ATR stops. Runs with no API key.

Entry long when the 4h trend is up (EMA20 > EMA50), the 3m trend agrees, MACD is above
its signal and RSI14 is between 50 and 70 (momentum, not exhaustion); shorts mirror it.
Entries against a crowded side (|funding| above ``MAX_FUNDING`` per 8 hours: an hourly or
4-hourly rate is compared at its 8-hour equivalent, ``funding_8h``) are skipped. The
stop-loss sits ``stop_atr`` 4h-ATR14s away and the take-profit where it earns ``reward_risk``
times what the stop loses, both net of the round trip's taker fees and slippage (the
``[paper]`` costs the risk step's ``min_reward_risk`` is measured with: 1.5 passes 1.5).
An open position is closed when the 3m trend and MACD both turn against it. With
``sentiment_filter`` (and `[intel]` on) no long opens at a Fear & Greed value of
``greed_above`` or more, no short at ``fear_below`` or less: the crowd is already all in
on that side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import PaperSettings, RulesSettings
from bot.features import COLUMNS
from bot.models import Action, CoinFeatures, Decision, Portfolio, Side
from bot.tick.protocols import PromptView
from bot.tick.risk_entry import take_profit_for

if TYPE_CHECKING:
    import numpy as np

MAX_FUNDING = 0.0005  # 0.05 % per 8h


def funding_8h(rate: float, interval_h: float) -> float:
    """A funding rate per ``interval_h`` hours as its 8-hour equivalent (the market's interval:
    Hyperliquid's hourly 0.01 % is 0.08 % per 8 hours), so one threshold reads every venue."""
    return rate * 8.0 / interval_h


class RulesStrategy:
    name = "rules"
    trace = None  # free: nothing to account

    def __init__(self, settings: RulesSettings, *, paper: PaperSettings | None = None) -> None:
        self.settings = settings
        self.paper = paper or PaperSettings()  # the fills' costs, as the risk step is given them

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        decisions = []
        briefing = prompt.briefing  # read without building the prompt's text
        sentiment = (
            briefing.sentiment.value if briefing and briefing.sentiment and self.settings.sentiment_filter else None
        )
        for coin, coin_features in features.items():
            position = portfolio.positions.get(coin)
            decision = self._manage(coin_features, position.side) if position else self._enter(coin_features, sentiment)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def may_act(self, rows_3m: np.ndarray, rows_4h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where ``_enter`` and ``_manage`` could decide anything, over indicator table rows
        (columns ``COLUMNS``; row i of each is what the tick i reads): (an entry on a flat
        coin, a close of a long, a close of a short). The same comparisons as below, without
        the filters that only ever refuse (funding, sentiment): a superset, so a backtest may
        skip every other tick (bot/backtest/skip.py) and decide exactly as the full pass."""
        column = {name: COLUMNS.index(name) for name in ("ema20", "ema50", "macd", "macd_signal", "rsi14")}
        ema20, ema50 = rows_3m[:, column["ema20"]], rows_3m[:, column["ema50"]]
        macd, signal, rsi = rows_3m[:, column["macd"]], rows_3m[:, column["macd_signal"]], rows_3m[:, column["rsi14"]]
        h4_up = rows_4h[:, column["ema20"]] > rows_4h[:, column["ema50"]]
        h4_down = rows_4h[:, column["ema20"]] < rows_4h[:, column["ema50"]]
        trend_up = (ema20 > ema50) & (macd > signal)
        trend_down = (ema20 < ema50) & (macd < signal)
        enter = (h4_up & trend_up & (rsi > 50) & (rsi < 70)) | (h4_down & trend_down & (rsi > 30) & (rsi < 50))
        return enter, trend_down, trend_up

    def _manage(self, f: CoinFeatures, side: Side) -> Decision | None:
        trend_down = f.ema20 < f.ema50 and f.macd < f.macd_signal
        trend_up = f.ema20 > f.ema50 and f.macd > f.macd_signal
        if (side is Side.LONG and trend_down) or (side is Side.SHORT and trend_up):
            return Decision(
                coin=f.coin,
                action=Action.CLOSE,
                confidence=0.7,
                reasoning=f"3m trend turned against the {side}: "
                f"EMA20 {'<' if trend_down else '>'} EMA50 and MACD crossed its signal",
            )
        return None

    def _enter(self, f: CoinFeatures, sentiment: int | None = None) -> Decision | None:
        long_setup = f.h4.ema20 > f.h4.ema50 and f.ema20 > f.ema50 and f.macd > f.macd_signal and 50 < f.rsi14 < 70
        short_setup = f.h4.ema20 < f.h4.ema50 and f.ema20 < f.ema50 and f.macd < f.macd_signal and 30 < f.rsi14 < 50
        if not (long_setup or short_setup):
            return None
        funding = funding_8h(f.funding_rate or 0.0, f.funding_interval_h)
        if (long_setup and funding > MAX_FUNDING) or (short_setup and funding < -MAX_FUNDING):
            return None
        if sentiment is not None and (
            (long_setup and sentiment >= self.settings.greed_above)
            or (short_setup and sentiment <= self.settings.fear_below)
        ):
            return None
        direction = 1.0 if long_setup else -1.0
        stop_loss = f.price - direction * self.settings.stop_atr * f.h4.atr14
        take_profit = take_profit_for(
            f.price,
            stop=stop_loss,
            reward_risk=self.settings.reward_risk,
            long=long_setup,
            taker_fee_pct=self.paper.taker_fee_pct,
            slippage_pct=self.paper.slippage_pct,
        )
        # Confidence grows with confirmations: price on the right side of EMA20, RSI7 agreeing.
        confirmations = (direction * (f.price - f.ema20) > 0) + (direction * (f.rsi7 - 50) > 0)
        trend = "up" if long_setup else "down"
        return Decision(
            coin=f.coin,
            action=Action.BUY if long_setup else Action.SELL,
            confidence=0.6 + 0.1 * confirmations,
            size_pct=self.settings.size_pct,
            leverage=self.settings.leverage,
            stop_loss=stop_loss,
            take_profit=take_profit,
            invalidation=f"4h EMA20 crosses {'below' if long_setup else 'above'} EMA50",
            reasoning=f"4h and 3m trends {trend}, MACD confirms, RSI14 {f.rsi14:.0f}",
        )
