"""`bot backtest` around ``bot.backtest.loop.run_backtest``: options, strategy, LLM guards, progress.

LLM guards: Claude's decisions go through the on-disk decision cache
(``bot.strategies.cache``). Before the FIRST request the run would send (the first cache
miss), the cost of the calls still ahead is estimated: every remaining decision tick
priced as one uncached call (prompt at 4 characters per token, all of it at the input
rate, ``backtest.output_tokens_per_decision`` answer tokens): an upper bound, as prompt
caching makes real calls cheaper. Above ``--max-cost`` the run stops there unless
``--yes``; a fully cached re-run never gets there and costs nothing. During the run, a
spend beyond ``--max-cost`` stops it too (the answers so far stay cached).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError

from bot.backtest.loop import BacktestResult, run_backtest, span_of
from bot.clock import TICK
from bot.config import PaperSettings, Settings, TradingSettings
from bot.errors import ConfigError, LlmUnavailable, did_you_mean
from bot.models import CoinFeatures, Decision, Portfolio, StrictModel
from bot.strategies.kinds import BASELINE, Kind, build, identity, kind_of, resolve
from bot.tick.protocols import PromptView, Strategy, WrappedStrategy
from bot.venues.history import HistoryMarket

if TYPE_CHECKING:
    from bot.strategies.cache import CachedStrategy


class BacktestRequest(StrictModel):
    """`bot backtest`'s options; None means: as configured."""

    coins: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    strategy: str = BASELINE  # a kind of bot.strategies.KINDS, checked by ``prepare``
    initial_balance_usd: float | None = None
    fee_pct: float | None = None
    slippage_pct: float | None = None
    decide_every: int = Field(1, ge=1)
    data_dir: Path | None = None
    max_cost_usd: float | None = None
    yes: bool = False
    blind: bool | None = None  # None: `backtest.blind`
    skip: bool = True  # False (--no-skip): every tick runs even where `backtest.skip_quiet_ticks` would skip


def configure(settings: Settings, request: BacktestRequest) -> Settings:
    """Settings with the command line's overrides, validated like config.toml."""
    paper = settings.paper.model_dump()
    for key, value in (
        ("initial_balance_usd", request.initial_balance_usd),
        ("taker_fee_pct", request.fee_pct),
        ("slippage_pct", request.slippage_pct),
    ):
        if value is not None:
            paper[key] = value
    trading = settings.trading.model_dump()
    if request.coins:
        trading["coins"] = request.coins
    backtest = settings.backtest
    if request.blind is not None:
        backtest = backtest.model_copy(update={"blind": request.blind})
    try:
        return settings.model_copy(
            update={"paper": PaperSettings(**paper), "trading": TradingSettings(**trading), "backtest": backtest}
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        option = {
            "initial_balance_usd": "--initial-balance",
            "taker_fee_pct": "--fee",
            "slippage_pct": "--slippage",
            "coins": "--coins",
        }
        name = option.get(str(error["loc"][0]), str(error["loc"][0]))
        raise ConfigError(
            f"{name}: {error['msg'].removeprefix('Value error, ')} (got {error.get('input')!r})"
        ) from None


def history_for(settings: Settings, request: BacktestRequest) -> HistoryMarket:
    market = HistoryMarket(
        settings.data_dir(request.data_dir), candles=settings.trading.candles, quote=settings.trading.quote
    )
    available = market.available_coins()
    for coin in settings.trading.coins:
        if coin not in available:
            raise ConfigError(
                f"--coins: no history for {coin} in {market.data_dir}{did_you_mean(coin, available)} "
                f"(available: {', '.join(available)})"
            )
    return market


@dataclass
class Prepared:
    """What `bot backtest` and `bot backtest --arena` both start from."""

    settings: Settings  # with the command line's overrides
    market: HistoryMarket
    start: datetime
    end: datetime
    calls: int  # the times the strategy is asked over the span (every `decide_every`-th tick)


def prepare(settings: Settings, request: BacktestRequest) -> Prepared:
    """The strategy's name checked, the command line's overrides, the history, the span."""
    kind_of(request.strategy, option="--strategy")
    settings = configure(settings, request)
    market = history_for(settings, request)
    start, end = span_of(market, settings.trading.coins, start=request.start, end=request.end)
    calls = math.ceil((int((end - start) / TICK) + 1) / request.decide_every)
    return Prepared(settings=settings, market=market, start=start, end=end, calls=calls)


@dataclass
class BacktestStrategy:
    """A strategy as a backtest runs it: a paid kind behind the decision cache and the cost gate."""

    strategy: Strategy
    gate: _CostGate | None = None
    cached: CachedStrategy | None = None

    def close(self) -> None:
        if self.cached is not None:
            self.cached.cache.close()


def backtest_strategy(
    settings: Settings,
    name: str,
    prepared: Prepared,
    request: BacktestRequest,
    *,
    notify: Callable[[str], None],
    bill_hits: bool = False,
    instance: int = 1,
) -> BacktestStrategy:
    """The kind ``name`` built from ``settings`` for a backtest (any kind of ``KINDS``); with
    `backtest.blind`, asked in the blind frame (outside the cache, which then keys blind prompts);
    an arena candidate's book ``instance`` > 1 has a decision-cache identity of its own (its own answers)."""
    kind = resolve(settings, name, option="--strategy")
    strategy = build(settings, name, option="--strategy")  # no clock: cached capabilities of any age
    chosen = (
        _paid_for_backtest(
            settings, kind, strategy, prepared, request, notify=notify, bill_hits=bill_hits, instance=instance
        )
        if kind.paid
        else BacktestStrategy(strategy)
    )
    if settings.backtest.blind:
        from bot.backtest.blind import BlindStrategy, blind_frame

        coins = settings.trading.coins
        frame = blind_frame(
            coins,
            seed=settings.backtest.blind_seed,
            start=prepared.start,
            price_steps={coin: prepared.market.info(coin).price_step for coin in coins},
        )
        chosen.strategy = BlindStrategy(chosen.strategy, frame=frame)
    return chosen


def backtest_command(
    settings: Settings,
    request: BacktestRequest,
    *,
    progress: bool = True,
    notify: Callable[[str], None] = print,
    wrap: Callable[[Strategy], Strategy] | None = None,
) -> BacktestResult:
    """Everything `bot backtest` does before rendering: overrides, span, strategy, the run.
    ``wrap``: around the strategy as the run asks it (`--compare` logs its decisions)."""
    import asyncio

    prepared = prepare(settings, request)
    settings, market, start, end = prepared.settings, prepared.market, prepared.start, prepared.end
    chosen = backtest_strategy(settings, request.strategy, prepared, request, notify=notify)
    strategy, gate = (wrap or (lambda inner: inner))(chosen.strategy), chosen.gate
    should_stop = gate.stop_reason if gate is not None else None
    warnings = (
        [cutoff_warning(settings.backtest.knowledge_cutoffs, settings.llm.model, start=start, end=end)]
        if gate is not None
        else []
    )
    intel = None
    if settings.intel.enabled:
        from bot.intel.archive import ArchiveIntel

        intel = ArchiveIntel(market.data_dir, coins=settings.trading.coins, settings=settings.intel)
    with ProgressBar("backtest", "ticks", enabled=progress, every=50) as on_tick:
        result = asyncio.run(
            run_backtest(
                settings,
                market=market,
                strategy=strategy,
                start=start,
                end=end,
                decide_every=request.decide_every,
                on_tick=on_tick,
                should_stop=should_stop,
                intel=intel,
                skip=request.skip and settings.backtest.skip_quiet_ticks,
            )
        )
    if intel is not None:
        result.intel_coverage = intel.coverage(start, end, TICK)
    result.warnings = [warning for warning in warnings if warning] + result.warnings
    if chosen.cached is not None:
        result.cache = {"hits": chosen.cached.hits, "misses": chosen.cached.misses}
    chosen.close()
    return result


def cutoff_warning(cutoffs: dict, model: str, *, start: datetime, end: datetime) -> str:
    """A loud line when the model may remember the prices it is shown ('' when it cannot)."""
    cutoff = cutoffs.get(model)
    if cutoff is None:
        return (
            f"LOOK-AHEAD UNKNOWN: no knowledge cutoff is configured for {model} (backtest.knowledge_cutoffs); "
            "it may remember the prices of this span, so treat the result as optimistic"
        )
    if start.date() > cutoff:
        return ""
    where = "the whole span" if end.date() <= cutoff else f"{start:%Y-%m-%d} to {cutoff:%Y-%m-%d} of this span"
    return (
        f"LOOK-AHEAD: {model} was trained on data up to {cutoff:%Y-%m-%d}: it may remember the prices of {where}. "
        "This result is not evidence that it can trade: backtest it on a span after its cutoff"
    )


class _CostGate(WrappedStrategy):
    """Sits between the cache and Claude, so it only sees the calls that cost money."""

    def __init__(
        self,
        inner: Strategy,
        *,
        estimate: Callable[[int], float],
        remaining: Callable[[], int],
        max_cost_usd: float | None,
        option: str = "--strategy claude",  # what chose the paid strategy: the refusal names it
    ) -> None:
        super().__init__(inner)
        self.option = option
        self.estimate, self.remaining, self.max_cost_usd = estimate, remaining, max_cost_usd
        self.spent_usd = 0.0
        self._checked = False
        self._refusal: str | None = None

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        if not self._checked and self.max_cost_usd is not None:
            calls = self.remaining()
            cost = self.estimate(calls)
            if cost > self.max_cost_usd:
                # raised, not returned: the cache must not remember a refusal as an answer;
                # the engine holds this tick and stop_reason() ends the run after it
                self._refusal = (
                    f"{self.option}: the {calls:,} uncached calls ahead are estimated at up to {cost:.4f} USD, "
                    f"above --max-cost {self.max_cost_usd:g} USD; raise --max-cost, shorten --from/--to, "
                    "use --decide-every N, or pass --yes"
                )
                raise LlmUnavailable(
                    self._refusal
                )  # a ConfigError in `decide` would end the run at once, before stop_reason
        self._checked = True
        try:
            return await super().decide(features=features, portfolio=portfolio, prompt=prompt)
        finally:
            self.spent_usd += self.trace.usage.cost_usd if self.trace is not None else 0.0

    def stop_reason(self) -> str | None:
        if self._refusal is not None:
            return self._refusal
        if self.max_cost_usd is not None and self.spent_usd > self.max_cost_usd:
            return (
                f"the LLM spend reached {self.spent_usd:.4f} USD, above --max-cost {self.max_cost_usd:g} USD "
                "(answers so far are cached: a re-run repeats them for free)"
            )
        return None


def _paid_for_backtest(
    settings: Settings,
    kind: Kind,
    strategy: Strategy,
    prepared: Prepared,
    request: BacktestRequest,
    *,
    notify: Callable[[str], None],
    bill_hits: bool,
    instance: int = 1,
) -> BacktestStrategy:
    """A paid kind behind the cost gate (which sees only the calls that cost money), behind
    the decision cache keyed by the kind's identity."""
    from bot.strategies.cache import CachedStrategy, DecisionCache

    calls = prepared.calls
    per_call = per_call_cost(settings, prepared.market, start=prepared.start)
    max_cost = (
        None
        if request.yes
        else (request.max_cost_usd if request.max_cost_usd is not None else settings.backtest.max_cost_usd)
    )
    notify(
        f"{kind.name.capitalize()} backtest: {calls:,} decisions with {settings.llm.model}; uncached calls estimated "
        f"at up to {per_call:.4f} USD each, {calls * per_call:.2f} USD for all"
    )
    cached: CachedStrategy | None = None
    gate = _CostGate(
        strategy,
        option=f"--strategy {kind.name}",
        estimate=lambda n: n * per_call,
        remaining=lambda: calls - cached.hits - cached.misses,
        max_cost_usd=max_cost,
    )
    cached = CachedStrategy(
        gate,
        cache=DecisionCache(settings.var_dir / "cache" / "decisions.sqlite"),
        identity=identity(kind, settings)
        + (f" blind:{settings.backtest.blind_seed}" if settings.backtest.blind else "")  # never a plain answer
        + (f" instance {instance}" if instance > 1 else ""),
        bill_hits=bill_hits,
    )
    return BacktestStrategy(cached, gate=gate, cached=cached)


def per_call_cost(settings: Settings, market: HistoryMarket, *, start: datetime) -> float:
    """One uncached call's upper-bound cost, from the prompt the first tick would send."""
    from bot.models import ReturnStats
    from bot.ops.budget import priced
    from bot.tick.indicators import compute_features
    from bot.tick.portfolio import portfolio_of
    from bot.tick.prompt import build_prompt

    snapshot = market.snapshot_at(settings.trading.coins, start)
    features = compute_features(snapshot)
    prices = {coin: coin_market.last_price for coin, coin_market in snapshot.coins.items()}
    initial = settings.paper.initial_balance_usd
    portfolio = portfolio_of(
        cash_usd=initial, positions={}, prices=prices, initial_equity_usd=initial, stats=ReturnStats()
    )
    prompt = build_prompt(settings, features, portfolio, now=start, tick=1)
    usage = priced(
        input_tokens=prompt.estimated_tokens
        + (settings.intel.max_tokens if settings.intel.enabled else 0),  # the context block at its cap
        output_tokens=settings.backtest.output_tokens_per_decision,
        cache_write_tokens=0,
        cache_read_tokens=0,
        price=settings.llm.price,
    )
    return usage.cost_usd


class ProgressBar:
    """A rich progress bar with its ETA on stderr (stdout stays clean for --json), for a
    backtest's ticks and a sweep's cells. Entering gives ``update(done, total, **fields)``
    (None when disabled); ``every`` skips redraws: redrawing every tick costs more than it."""

    def __init__(self, label: str, unit: str, *, enabled: bool, every: int = 1, **fields: object) -> None:
        self.label, self.unit, self.enabled, self.every, self.fields = label, unit, enabled, every, fields
        self._bar = None

    def __enter__(self) -> Callable[..., None] | None:
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = bar = Progress(
            TextColumn(self.label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        bar.start()
        task = bar.add_task(self.label, total=None, **self.fields)
        shown = 0

        def update(done: int, total: int, **fields: object) -> None:
            nonlocal shown
            if done in (1, total) or done - shown >= self.every:
                bar.update(task, completed=done, total=total, **fields)
                shown = done

        return update

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()
