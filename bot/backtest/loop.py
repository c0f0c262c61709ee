"""Backtest: the live tick replayed over history.

``run_backtest`` calls the SAME ``engine.run_tick`` cron calls, tick after tick, with a
historical market (``HistoryMarket``), the paper broker, a simulated clock that
advances 3 minutes per tick and state kept in memory. There is no second code path for
signals or fills: whatever the paper broker does live (fills at the tick's price with
slippage and fee; stop-loss, take-profit, funding and liquidation when it settles) it
does here.

No look-ahead: at simulated time t the market shows only candles that had CLOSED by t
(``HistoryMarket``), so prompt, strategy and risk see what a live tick at t would have
seen. The only shortcut is speed: each coin's indicators are computed once over its
whole history (``PrecomputedFeatures``) and read up to t, which gives the values a live
tick computes from its 500-candle window.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.backtest.recorder import _MemoryStore, _Recorder
from bot.backtest.skip import skip_plan
from bot.clock import TICK, on_tick_grid
from bot.config import Settings
from bot.errors import ConfigError
from bot.models import (
    CoinFeatures,
    Decision,
    Fill,
    Portfolio,
    Side,
    StrictModel,
)
from bot.ops.state import BotState
from bot.tick.engine import TickContext, run_tick
from bot.tick.indicators import PrecomputedFeatures
from bot.tick.protocols import Arena, Intel, PromptView, Strategy, WrappedStrategy
from bot.venues.history import HistoryMarket
from bot.venues.paper import paper_broker

END_OF_BACKTEST = "end_of_backtest"  # exit reason of a position still open when the span ends


class Trade(StrictModel):
    """One round trip, entry to exit; PnL is net of both fees and of funding."""

    coin: str
    side: Side
    amount: float
    entry_at: datetime
    entry_price: float
    exit_at: datetime
    exit_price: float
    # decision, stop_loss, take_profit, liquidation ... or end_of_backtest (valued at the last price, no exit fee)
    exit_reason: str
    fees_usd: float
    funding_received_usd: float  # received (+) or paid (-) while open, the sign of every funding figure
    pnl_usd: float

    @property
    def hold_minutes(self) -> float:
        return (self.exit_at - self.entry_at).total_seconds() / 60.0


@dataclass
class BacktestResult:
    """What a backtest produced: the equity curve per tick, the trades, the costs."""

    settings: Settings
    coins: list[str]
    strategy: str
    start: datetime
    end: datetime
    decide_every: int
    times_ms: np.ndarray  # simulated time of each tick
    equity_usd: np.ndarray  # equity after each tick
    exposed: np.ndarray  # bool: a position was open after the tick
    benchmark_usd: np.ndarray  # equal-weight buy-and-hold of the same coins, same initial balance
    trades: list[Trade]
    fees_usd: float
    funding_received_usd: float
    llm_cost_usd: float
    outcomes: dict[str, int]
    messages: list[str] = field(default_factory=list)  # first failed/degraded tick messages, for the report
    warnings: list[str] = field(default_factory=list)
    cache: dict[str, int] = field(default_factory=dict)  # decision cache hits / misses (LLM strategies)
    intel_coverage: dict[str, float] = field(default_factory=dict)  # with [intel]: % of ticks the archive covered
    # funding settlements of open positions: charged (at their own rate), stale and unknown (not charged)
    funding_coverage: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)  # the risk step's refusals by code

    @property
    def initial_usd(self) -> float:
        return self.settings.paper.initial_balance_usd


class EveryNthTick(WrappedStrategy):
    """Asks ``inner`` every ``n``-th tick only; in between every coin holds (and ``trace``
    is None: nothing was asked, nothing paid).

    Positions opened earlier keep their stop-loss and take-profit in between: those are
    the broker's job (settled every tick), not the strategy's.
    """

    def __init__(self, inner: Strategy, n: int) -> None:
        super().__init__(inner)
        self.n = n
        self._calls = 0

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        due = self._calls % self.n == 0
        self._calls += 1
        if not due:
            self.trace = None
            return []
        return await super().decide(features=features, portfolio=portfolio, prompt=prompt)


def span_of(
    market: HistoryMarket, coins: list[str], *, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    """The simulated span, inside what the history can show with 500 closed candles."""
    first, last = market.span(coins)
    start = on_tick_grid(start) if start else first
    end = on_tick_grid(end) if end else last
    if start < first:
        raise ConfigError(
            f"--from {start:%Y-%m-%dT%H:%M}: the history needs 500 closed candles first; "
            f"the earliest start is {first:%Y-%m-%dT%H:%M}"
        )
    if start > last:
        raise ConfigError(
            f"--from {start:%Y-%m-%dT%H:%M}: the history ends at {last:%Y-%m-%dT%H:%M}; "
            "pass an earlier --from or --data-dir with more history"
        )
    if end > last:
        raise ConfigError(
            f"--to {end:%Y-%m-%dT%H:%M}: the history ends at {last:%Y-%m-%dT%H:%M}; "
            "pass an earlier --to or --data-dir with more history"
        )
    if end < start:
        raise ConfigError(f"--to {end:%Y-%m-%dT%H:%M} is before --from {start:%Y-%m-%dT%H:%M}")
    return start, end


async def run_backtest(
    settings: Settings,
    *,
    market: HistoryMarket,
    strategy: Strategy,
    start: datetime,
    end: datetime,
    decide_every: int = 1,
    on_tick: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], str | None] | None = None,
    intel: Intel | None = None,
    arena: Arena | None = None,
    skip: bool = False,
) -> BacktestResult:
    """Run ``engine.run_tick`` every 3 simulated minutes from ``start`` to ``end`` inclusive.

    ``should_stop`` is asked after every tick; a reason stops the run with a ConfigError
    carrying it (the LLM cost guard: nothing is lost, the decisions so far are cached).
    With ``skip`` and a strategy that can say where it might act (``may_act``: the rules),
    ticks where nothing can happen are booked without running (bot/backtest/skip.py).
    """
    coins = settings.trading.coins
    recorder = _Recorder(settings.paper.initial_balance_usd)
    ctx = TickContext(
        settings=settings,
        mode="backtest",
        dry_run=True,
        market=market,
        strategy=EveryNthTick(strategy, decide_every) if decide_every > 1 else strategy,
        broker=paper_broker(settings),
        store=_MemoryStore(),
        journal=recorder,
        features=PrecomputedFeatures({coin: market.candles(coin) for coin in coins}),
        intel=intel,  # an archive: each tick sees only what was published by its simulated time
        arena=arena,  # `bot backtest --arena`: the candidates' books beside the account (bot.arena.backtest)
    )
    total = int((end - start) / TICK) + 1
    plan = skip_plan(ctx, market, start=start, total=total) if skip and decide_every == 1 else None
    quiet_until = 0
    now = start
    for done in range(1, total + 1):
        k = done - 1
        if plan is None or k >= quiet_until or not plan.pass_quietly(k, ctx.store.state, recorder):
            await run_tick(ctx, now)
            if plan is not None:
                quiet_until = plan.quiet_until(k, ctx.store.state)
        if on_tick is not None:
            on_tick(done, total)
        reason = should_stop() if should_stop is not None else None
        if reason:
            raise ConfigError(f"stopped at {now:%Y-%m-%d %H:%M} UTC ({done:,} of {total:,} ticks): {reason}")
        now += TICK
    state = ctx.store.state
    assert state is not None  # run_tick saved at least one tick
    times = np.array(recorder.times_ms, dtype=np.int64)
    return BacktestResult(
        settings=settings,
        coins=list(coins),
        strategy=strategy.name,
        start=start,
        end=end,
        decide_every=decide_every,
        times_ms=times,
        equity_usd=np.array(recorder.equity),
        exposed=np.array(recorder.exposed, dtype=bool),
        benchmark_usd=buy_and_hold(market, coins, times, initial_usd=settings.paper.initial_balance_usd),
        trades=trades_from_fills(
            recorder.fills,
            funding=recorder.funding,
            state=state,
            end=end,
            last_prices=_last_prices(market, coins, times[-1]),
        ),
        fees_usd=state.fees_paid_usd,
        funding_received_usd=sum(received for _, _, received in recorder.funding),
        llm_cost_usd=recorder.cost_usd,
        outcomes=dict(recorder.outcomes),
        rejections=dict(sorted(recorder.rejections.items())),
        messages=recorder.messages,
        warnings=_funding_warnings(recorder),
        funding_coverage={
            "charged": len(recorder.funding),
            "stale": len(recorder.stale_funding),
            "unknown": len(recorder.unknown_funding),
        },
    )


def _funding_warnings(recorder: _Recorder) -> list[str]:
    """What the funding figure leaves out: settlements that passed uncharged, and why."""
    warnings = []
    if coins := recorder.unknown_funding:
        warnings.append(
            f"FUNDING UNKNOWN: {len(coins)} settlements of {', '.join(sorted(set(coins)))} had no funding rate and "
            "were not charged; add funding_8h/ to the data folder"
        )
    if coins := recorder.stale_funding:
        warnings.append(
            f"FUNDING STALE: {len(coins)} settlements of {', '.join(sorted(set(coins)))} had only an earlier "
            "settlement's rate (the funding history ends before them) and were not charged; download funding "
            "covering the span"
        )
    return warnings


def _closes_at(candles: np.ndarray, times_ms: np.ndarray) -> np.ndarray:
    """The close of the last 3m candle closed by each time (what a tick sees as the price)."""
    index = np.searchsorted(candles[:, 0], times_ms - 180_000, side="right") - 1
    return candles[index, 4]


def _last_prices(market: HistoryMarket, coins: list[str], now_ms: int) -> dict[str, float]:
    return {coin: float(_closes_at(market.candles(coin)["3m"], np.array([now_ms]))[0]) for coin in coins}


def buy_and_hold(market: HistoryMarket, coins: list[str], times_ms: np.ndarray, *, initial_usd: float) -> np.ndarray:
    """Equity of an equal-weight basket bought at the first tick's prices and held: no
    fees, funding or leverage (the plain price return the strategy has to beat)."""
    closes = np.array([_closes_at(market.candles(coin)["3m"], times_ms) for coin in coins])
    return initial_usd * (closes / closes[:, :1]).mean(axis=0)


@dataclass
class _Open:
    """A round trip in progress: entries (adds average in) and the exits so far."""

    first: Fill
    held: float = 0.0  # amount still open
    bought: float = 0.0  # amount entered in all
    entry_value: float = 0.0  # sum of amount x price over the entries
    exited: float = 0.0
    exit_value: float = 0.0
    fees: float = 0.0
    realized: float = 0.0


def trades_from_fills(
    fills: list[Fill],
    *,
    funding: list[tuple[str, datetime, float]],
    state: BotState,
    end: datetime,
    last_prices: dict[str, float],
) -> list[Trade]:
    """Round trips (flat -> position -> flat) from the fill log, in exit order.

    Adds average into the entry price, partial closes into the exit price; the exit
    reason is the last fill's. ``funding`` holds (coin, time, USD received) settlements: a
    trade carries those after its entry and up to its exit. A position still open at
    ``end`` is valued at the last price without an exit fee (``end_of_backtest``).
    """
    opened: dict[str, _Open] = {}
    trades: list[Trade] = []
    # per coin, settlement times in order and the running sum of what they paid: a trade's
    # funding is a difference of two sums found by bisection (a year holds ~6,500 settlements)
    settled: dict[str, tuple[list[datetime], list[float]]] = {}
    for coin, moment, usd in sorted(funding, key=lambda payment: payment[1]):
        times, sums = settled.setdefault(coin, ([], [0.0]))
        times.append(moment)
        sums.append(sums[-1] + usd)

    def trade(run: _Open, *, at: datetime, reason: str) -> Trade:
        times, sums = settled.get(run.first.coin, ([], [0.0]))
        received = sums[bisect_right(times, at)] - sums[bisect_right(times, run.first.at)]
        return Trade(
            coin=run.first.coin,
            side=run.first.side,
            amount=run.bought,
            entry_at=run.first.at,
            entry_price=run.entry_value / run.bought,
            exit_at=at,
            exit_price=run.exit_value / run.exited if run.exited else run.entry_value / run.bought,
            exit_reason=reason,
            fees_usd=run.fees,
            funding_received_usd=received,
            pnl_usd=run.realized - run.fees + received,
        )

    for fill in fills:
        run = opened.get(fill.coin)
        if not fill.reduce_only:
            run = opened.setdefault(fill.coin, _Open(first=fill))
            run.held += fill.amount
            run.bought += fill.amount
            run.entry_value += fill.amount * fill.price
            run.fees += fill.fee_usd
        elif run is not None:
            run.held -= fill.amount
            run.exited += fill.amount
            run.exit_value += fill.amount * fill.price
            run.fees += fill.fee_usd
            run.realized += fill.realized_pnl_usd
            if run.held <= run.bought * 1e-9:
                trades.append(trade(opened.pop(fill.coin), at=fill.at, reason=str(fill.reason or "decision")))
    for coin, run in opened.items():
        position = state.positions.get(coin)
        price = last_prices.get(coin, run.first.price)
        if position is not None:
            run.realized += position.unrealized_pnl_usd(price)
            run.exit_value += position.amount * price
            run.exited += position.amount
        trades.append(trade(run, at=end, reason=END_OF_BACKTEST))
    return trades
