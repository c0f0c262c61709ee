"""Skipping the ticks of a backtest where provably nothing can happen, with the same tick.

Most ticks of a rules backtest change nothing: no signal, no stop-loss, take-profit or
liquidation level inside the new candle, no funding settlement, no UTC day boundary. A
strategy that can say where it might act (``may_act`` over its indicator table rows: the
rules) lets the loop find the next tick where anything could happen and run ``run_tick``
only there. A quiet tick in between is booked as the full pass books it (``pass_quietly``):
the equity at the candle's close from the same positions, the same equity statistics, an
OK journal line with no fill. Every condition here is a superset of what the tick reacts
to: a tick in doubt runs. ``tests/backtest/test_skip.py`` holds the reports identical.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from bot.clock import TICK, tick_id_for
from bot.config import Settings
from bot.models import Outcome, Side
from bot.ops.state import BotState
from bot.tick.engine import TickContext
from bot.tick.indicators import PrecomputedFeatures
from bot.tick.portfolio import record_equity
from bot.tick.risk_memory import memory_unchanged
from bot.venues.history import HistoryMarket

_3M, _4H = 180_000, 14_400_000
MAX_GAP = 400  # ticks skipped in a row at most: the next tick's 500 candles still reach back to the last settled


class SkipPlan:
    """Per coin and tick of the span: the candle the tick settles, where the strategy could
    act, whether the tick is plain (its one new candle present, the same UTC day)."""

    def __init__(
        self,
        settings: Settings,
        *,
        market: HistoryMarket,
        features: PrecomputedFeatures,
        may_act,
        start: datetime,
        total: int,
    ) -> None:
        self.settings = settings
        self.start = start
        start_ms = int(start.timestamp() * 1000)
        self.times_ms = start_ms + np.arange(total, dtype=np.int64) * _3M
        days = (self.times_ms // 86_400_000).astype(np.int64)
        plain = np.ones(total, dtype=bool)
        plain[1:] = days[1:] == days[:-1]
        plain[0] = False
        self.coins = list(settings.trading.coins)
        self.open, self.high, self.low, self.close = {}, {}, {}, {}
        self.enter, self.close_long, self.close_short, self.funding_step = {}, {}, {}, {}
        for coin in self.coins:
            candles, h4 = market.candles(coin)["3m"], market.candles(coin)["4h"]
            index = np.searchsorted(candles[:, 0], self.times_ms - _3M, side="right") - 1
            index_4h = np.searchsorted(h4[:, 0], self.times_ms - _4H, side="right") - 1
            plain &= (index >= 0) & (index_4h >= 0)
            index, index_4h = np.maximum(index, 0), np.maximum(index_4h, 0)
            plain &= candles[index, 0] == self.times_ms - _3M  # the tick's one new candle is there
            rows = candles[index]
            self.open[coin], self.high[coin], self.low[coin] = rows[:, 1], rows[:, 2], rows[:, 3]
            self.close[coin] = rows[:, 4].tolist()
            table_3m, table_4h = features.tables(coin)
            self.enter[coin], self.close_long[coin], self.close_short[coin] = may_act(
                table_3m[index], table_4h[index_4h]
            )
            self.funding_step[coin] = round(market.info(coin).funding_interval_h * 3_600_000)
        self.plain = plain

    def quiet_until(self, k: int, state: BotState) -> int:
        """The first tick after ``k`` that must run (``k`` just ran and left ``state``)."""
        if (
            state.consecutive_errors
            or state.backoff_until is not None
            or state.paused
            or state.close_requested
            or state.stop_requested
            or state.last_outcome is not Outcome.OK
        ):
            return k + 1
        stop = min(k + 1 + MAX_GAP, len(self.times_ms))
        span = slice(k + 1, stop)
        events = ~self.plain[span]
        times = self.times_ms[span]
        for coin in self.coins:
            position = state.positions.get(coin)
            if position is None:
                events |= self.enter[coin][span]
                continue
            long = position.side is Side.LONG
            events |= (self.close_long if long else self.close_short)[coin][span]
            events |= _reaches(position, self.open[coin][span], self.high[coin][span], self.low[coin][span], long)
            step = self.funding_step[coin]  # a settlement near the tick's candle: the tick runs
            events |= (times + _3M) // step != (times - 2 * _3M) // step
        hits = np.flatnonzero(events)
        return k + 1 + int(hits[0]) if len(hits) else stop

    def pass_quietly(self, k: int, state: BotState, recorder) -> bool:
        """Book tick ``k`` as the full pass would, or False (nothing booked) when the risk
        memory would change at it (a daily-loss halt, an entry or stop-out forgotten) or a
        fill booked before is not in the journal yet: then the tick runs."""
        now = self.start + k * TICK
        prices = {coin: self.close[coin][k] for coin in self.coins}
        positions = state.positions
        unrealized = sum(p.unrealized_pnl_usd(prices.get(coin, p.entry_price)) for coin, p in positions.items())
        equity = state.cash_usd + unrealized
        risk = self.settings.risk
        cooldown = timedelta(minutes=risk.stop_loss_cooldown_min)
        if not memory_unchanged(
            state.risk, equity_usd=equity, fills=[], now=now, today=now.date(), cooldown=cooldown, settings=risk
        ):
            return False
        if state.booked_fills:  # the last tick's fills: the next tick drops those its journal line holds
            journaled = recorder.last_fills()
            if any(booked.fill not in journaled for booked in state.booked_fills):
                return False
            state.booked_fills = []
        record_equity(state, equity)
        state.last_prices = prices
        if state.last_decisions:
            state.last_decisions, state.last_verdicts = [], []
        state.tick += 1
        state.last_tick_at = now
        state.last_tick_id = tick_id_for(now)
        recorder.quiet(int(self.times_ms[k]), equity, bool(positions))
        return True


def skip_plan(ctx: TickContext, market: HistoryMarket, *, start: datetime, total: int) -> SkipPlan | None:
    """The skip plan, when every part of the tick is known to it: a strategy with ``may_act``,
    no intel archive (news and sentiment are read every tick), no arena."""
    may_act = getattr(ctx.strategy, "may_act", None)
    if may_act is None or ctx.intel is not None or ctx.arena is not None:
        return None
    return SkipPlan(ctx.settings, market=market, features=ctx.features, may_act=may_act, start=start, total=total)


def _reaches(position, open_: np.ndarray, high: np.ndarray, low: np.ndarray, long: bool) -> np.ndarray:
    """Candles whose range reaches any of the position's exit levels (a gap open included)."""
    hit = np.zeros(len(open_), dtype=bool)
    for level in (position.stop_loss, position.liquidation_price):
        if level is not None:
            hit |= (np.minimum(low, open_) <= level) if long else (np.maximum(high, open_) >= level)
    if position.take_profit is not None:
        take = position.take_profit
        hit |= (np.maximum(high, open_) >= take) if long else (np.minimum(low, open_) <= take)
    return hit
