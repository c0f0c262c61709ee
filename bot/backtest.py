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

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import numpy as np
from pydantic import Field, ValidationError

from bot.broker.paper import PaperBroker
from bot.config import PaperSettings, Settings, TradingSettings, did_you_mean
from bot.engine import TickContext, run_tick
from bot.errors import ConfigError
from bot.history import HistoryMarket
from bot.indicators import PrecomputedFeatures
from bot.models import CoinFeatures, Decision, Fill, Outcome, Portfolio, Side, StrictModel, TickReport
from bot.prompt import Prompt
from bot.state import BotState
from bot.strategies import Strategy

TICK = timedelta(minutes=3)
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
    exit_reason: str  # decision, stop_loss, take_profit, liquidation ... or end_of_backtest (valued at the last price, no exit fee)
    fees_usd: float
    funding_usd: float  # paid (+) or received (-) while open
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
    funding_usd: float
    llm_cost_usd: float
    outcomes: dict[str, int]
    messages: list[str] = field(default_factory=list)  # first failed/degraded tick messages, for the report
    warnings: list[str] = field(default_factory=list)
    cache: dict[str, int] = field(default_factory=dict)  # decision cache hits / misses (LLM strategies)

    @property
    def initial_usd(self) -> float:
        return self.settings.paper.initial_balance_usd


class _MemoryStore:
    """State kept in memory between ticks: the same object, never copied or written."""

    def __init__(self) -> None:
        self.state: BotState | None = None

    def load(self) -> BotState | None:
        return self.state

    def save(self, state: BotState) -> None:
        self.state = state


class _Recorder:
    """The journal of a backtest: keeps per tick only what the report needs."""

    _MESSAGES = 5

    def __init__(self, initial_usd: float) -> None:
        self.times_ms: list[int] = []
        self.equity: list[float] = []
        self.exposed: list[bool] = []
        self.fills: list[Fill] = []
        self.cost_usd = 0.0
        self.outcomes: Counter[str] = Counter()
        self.messages: list[str] = []
        self._last_equity = initial_usd

    def append(self, report: TickReport) -> None:
        self.times_ms.append(int(report.as_of.timestamp() * 1000))
        if report.account is not None:
            self._last_equity = report.account.equity_usd
        self.equity.append(self._last_equity)
        self.exposed.append(bool(report.positions))
        self.fills.extend(report.fills)
        self.cost_usd += report.usage.cost_usd
        self.outcomes[report.outcome.value] += 1
        if report.outcome is not Outcome.OK and report.message and len(self.messages) < self._MESSAGES:
            self.messages.append(f"{report.as_of:%Y-%m-%d %H:%M} {report.outcome}: {report.message}")


class EveryNthTick:
    """Asks ``inner`` every ``n``-th tick only; in between every coin holds.

    Positions opened earlier keep their stop-loss and take-profit in between: those are
    the broker's job (settled every tick), not the strategy's.
    """

    def __init__(self, inner: Strategy, n: int) -> None:
        self.inner, self.n, self.name = inner, n, inner.name
        self._calls = 0
        self.trace = None  # what the engine reads after a tick; the inner strategy's only on ticks it decided

    async def decide(self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: Prompt) -> list[Decision]:
        due = self._calls % self.n == 0
        self._calls += 1
        self.trace = None
        if not due:
            return []
        try:
            return await self.inner.decide(features=features, portfolio=portfolio, prompt=prompt)
        finally:
            self.trace = getattr(self.inner, "trace", None)


def span_of(market: HistoryMarket, coins: list[str], *, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The simulated span, inside what the history can show with 500 closed candles."""
    first, last = market.span(coins)
    start = _on_tick(start) if start else first
    end = _on_tick(end) if end else last
    if start < first:
        raise ConfigError(f"--from {start:%Y-%m-%dT%H:%M}: the history needs 500 closed candles first; the earliest start is {first:%Y-%m-%dT%H:%M}")
    if end > last:
        raise ConfigError(f"--to {end:%Y-%m-%dT%H:%M}: the history ends at {last:%Y-%m-%dT%H:%M}; pass an earlier --to or --data-dir with more history")
    if end < start:
        raise ConfigError(f"--to {end:%Y-%m-%dT%H:%M} is before --from {start:%Y-%m-%dT%H:%M}")
    return start, end


def _on_tick(moment: datetime) -> datetime:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 3, second=0, microsecond=0)


async def run_backtest(
    settings: Settings,
    *,
    market: HistoryMarket,
    strategy: Strategy,
    start: datetime,
    end: datetime,
    decide_every: int = 1,
    on_tick: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Run ``engine.run_tick`` every 3 simulated minutes from ``start`` to ``end`` inclusive."""
    coins = settings.trading.coins
    recorder = _Recorder(settings.paper.initial_balance_usd)
    ctx = TickContext(
        settings=settings,
        mode="backtest",
        dry_run=True,
        market=market,
        strategy=EveryNthTick(strategy, decide_every) if decide_every > 1 else strategy,
        broker=PaperBroker(settings.paper),
        store=_MemoryStore(),
        journal=recorder,
        features=PrecomputedFeatures({coin: market.candles(coin) for coin in coins}),
    )
    total = int((end - start) / TICK) + 1
    now = start
    for done in range(1, total + 1):
        await run_tick(ctx, now)
        if on_tick is not None:
            on_tick(done, total)
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
        trades=trades_from_fills(recorder.fills, state=state, end=end, last_prices=_last_prices(market, coins, times[-1])),
        fees_usd=state.fees_paid_usd,
        funding_usd=sum(_funding_of(fill) for fill in recorder.fills),
        llm_cost_usd=recorder.cost_usd,
        outcomes=dict(recorder.outcomes),
        messages=recorder.messages,
    )


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


def _funding_of(fill: Fill) -> float:
    """Funding paid (+) by a settlement fill; 0 for trades."""
    return -fill.realized_pnl_usd if fill.reason == "funding" else 0.0


def trades_from_fills(fills: list[Fill], *, state: BotState, end: datetime, last_prices: dict[str, float]) -> list[Trade]:
    """Round trips from the fill log, in exit order; positions still open at ``end``
    are valued at the last price without an exit fee (``end_of_backtest``)."""
    opened: dict[str, tuple[Fill, float]] = {}  # coin -> entry fill, funding so far
    trades: list[Trade] = []

    def close(entry: Fill, funding: float, *, at: datetime, price: float, reason: str, exit_fee: float, realized: float) -> Trade:
        fees = entry.fee_usd + exit_fee
        return Trade(
            coin=entry.coin,
            side=entry.side,
            amount=entry.amount,
            entry_at=entry.at,
            entry_price=entry.price,
            exit_at=at,
            exit_price=price,
            exit_reason=reason,
            fees_usd=fees,
            funding_usd=funding,
            pnl_usd=realized - fees - funding,
        )

    for fill in fills:
        if fill.reason == "funding":
            if fill.coin in opened:
                entry, funding = opened[fill.coin]
                opened[fill.coin] = (entry, funding + _funding_of(fill))
        elif not fill.reduce_only:
            opened[fill.coin] = (fill, 0.0)
        elif fill.coin in opened:
            entry, funding = opened.pop(fill.coin)
            trades.append(
                close(entry, funding, at=fill.at, price=fill.price, reason=fill.reason or "decision", exit_fee=fill.fee_usd, realized=fill.realized_pnl_usd)
            )
    for coin, (entry, funding) in opened.items():
        position = state.positions.get(coin)
        price = last_prices.get(coin, entry.price)
        realized = position.unrealized_pnl_usd(price) if position else 0.0
        trades.append(close(entry, funding, at=end, price=price, reason=END_OF_BACKTEST, exit_fee=0.0, realized=realized))
    return trades


# ----- the `bot backtest` command ------------------------------------------------------------


class StrategyName(StrEnum):
    RULES = "rules"
    CLAUDE = "claude"


class BacktestRequest(StrictModel):
    """`bot backtest`'s options; None means: as configured."""

    coins: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    strategy: StrategyName = StrategyName.RULES
    initial_balance_usd: float | None = None
    fee_pct: float | None = None
    slippage_pct: float | None = None
    decide_every: int = Field(1, ge=1)
    data_dir: Path | None = None
    max_cost_usd: float | None = None
    yes: bool = False


def configure(settings: Settings, request: BacktestRequest) -> Settings:
    """Settings with the command line's overrides, validated like config.toml."""
    paper = settings.paper.model_dump()
    for key, value in (("initial_balance_usd", request.initial_balance_usd), ("taker_fee_pct", request.fee_pct), ("slippage_pct", request.slippage_pct)):
        if value is not None:
            paper[key] = value
    trading = settings.trading.model_dump()
    if request.coins:
        trading["coins"] = request.coins
    try:
        return settings.model_copy(update={"paper": PaperSettings(**paper), "trading": TradingSettings(**trading)})
    except ValidationError as exc:
        error = exc.errors()[0]
        option = {"initial_balance_usd": "--initial-balance", "taker_fee_pct": "--fee", "slippage_pct": "--slippage", "coins": "--coins"}
        name = option.get(str(error["loc"][0]), str(error["loc"][0]))
        raise ConfigError(f"{name}: {error['msg'].removeprefix('Value error, ')} (got {error.get('input')!r})") from None


def history_for(settings: Settings, request: BacktestRequest) -> HistoryMarket:
    folder = request.data_dir or (settings.resolve(settings.paths.data_dir) if settings.paths.data_dir else None)
    market = HistoryMarket(folder, candles=settings.trading.candles, quote=settings.trading.quote)
    available = market.available_coins()
    for coin in settings.trading.coins:
        if coin not in available:
            raise ConfigError(f"--coins: no history for {coin} in {market.data_dir}{did_you_mean(coin, available)} (available: {', '.join(available)})")
    return market


def backtest_command(settings: Settings, request: BacktestRequest, *, progress: bool = True) -> BacktestResult:
    """Everything `bot backtest` does before rendering: overrides, span, strategy, the run."""
    import asyncio

    settings = configure(settings, request)
    market = history_for(settings, request)
    start, end = span_of(market, settings.trading.coins, start=request.start, end=request.end)
    strategy, warnings = _strategy(settings, request, start=start, end=end)
    with _progress(enabled=progress) as on_tick:
        result = asyncio.run(
            run_backtest(settings, market=market, strategy=strategy, start=start, end=end, decide_every=request.decide_every, on_tick=on_tick)
        )
    result.warnings = warnings + result.warnings
    return result


def _strategy(settings: Settings, request: BacktestRequest, *, start: datetime, end: datetime) -> tuple[Strategy, list[str]]:
    if request.strategy is StrategyName.RULES:
        from bot.strategies.rules import RulesStrategy

        return RulesStrategy(settings.rules), []
    raise ConfigError("--strategy claude: the Claude strategy is not part of this version yet; use --strategy rules")


class _progress:
    """A rich progress bar with ETA on stderr (stdout stays clean for --json)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn("backtest"), BarColumn(), MofNCompleteColumn(), TextColumn("ticks"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self._bar.start()
        task = self._bar.add_task("backtest", total=None)
        step = 0

        def on_tick(done: int, total: int) -> None:
            nonlocal step
            if done == 1 or done == total or done - step >= 50:  # redrawing every tick would cost more than the tick
                self._bar.update(task, completed=done, total=total)
                step = done

        return on_tick

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.stop()
