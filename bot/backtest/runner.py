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

import json
import math
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import Field, ValidationError

from bot.backtest.loop import TICK, BacktestResult, run_backtest, span_of
from bot.config import PaperSettings, Settings, TradingSettings
from bot.errors import ConfigError, LlmUnavailable, did_you_mean
from bot.models import CoinFeatures, Decision, Portfolio, StrictModel
from bot.tick.protocols import PromptView, Strategy, WrappedStrategy
from bot.venues.history import HistoryMarket


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
    try:
        return settings.model_copy(update={"paper": PaperSettings(**paper), "trading": TradingSettings(**trading)})
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
    folder = request.data_dir or (settings.resolve(settings.paths.data_dir) if settings.paths.data_dir else None)
    market = HistoryMarket(folder, candles=settings.trading.candles, quote=settings.trading.quote)
    available = market.available_coins()
    for coin in settings.trading.coins:
        if coin not in available:
            raise ConfigError(
                f"--coins: no history for {coin} in {market.data_dir}{did_you_mean(coin, available)} "
                f"(available: {', '.join(available)})"
            )
    return market


def backtest_command(
    settings: Settings, request: BacktestRequest, *, progress: bool = True, notify: Callable[[str], None] = print
) -> BacktestResult:
    """Everything `bot backtest` does before rendering: overrides, span, strategy, the run."""
    import asyncio

    settings = configure(settings, request)
    market = history_for(settings, request)
    start, end = span_of(market, settings.trading.coins, start=request.start, end=request.end)
    calls = math.ceil((int((end - start) / TICK) + 1) / request.decide_every)
    if request.strategy is StrategyName.RULES:
        from bot.strategies.rules import RulesStrategy

        strategy: Strategy = RulesStrategy(settings.rules)
        warnings, should_stop, cached = [], None, None
    else:
        cached, gate = claude_for_backtest(settings, request, market=market, start=start, calls=calls, notify=notify)
        strategy, should_stop = cached, gate.stop_reason
        warnings = [cutoff_warning(settings.backtest.knowledge_cutoffs, settings.llm.model, start=start, end=end)]
    intel = None
    if settings.intel.enabled:
        from bot.intel.archive import ArchiveIntel

        intel = ArchiveIntel(market.data_dir, coins=settings.trading.coins, settings=settings.intel)
    with _Progress(enabled=progress) as on_tick:
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
            )
        )
    if intel is not None:
        result.intel_coverage = intel.coverage(start, end, TICK)
    result.warnings = [warning for warning in warnings if warning] + result.warnings
    if cached is not None:
        result.cache = {"hits": cached.hits, "misses": cached.misses}
        cached.cache.close()
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
    ) -> None:
        super().__init__(inner)
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
                    f"--strategy claude: the {calls:,} uncached calls ahead are estimated at up to {cost:.4f} USD, "
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


def claude_for_backtest(
    settings: Settings,
    request: BacktestRequest,
    *,
    market: HistoryMarket,
    start: datetime,
    calls: int,
    notify: Callable[[str], None],
    bill_hits: bool = False,
):
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
    if not key:
        raise ConfigError(
            "--strategy claude needs ANTHROPIC_API_KEY in the environment or in .env beside config.toml "
            "(or use --strategy rules)"
        )
    from bot.strategies.cache import CachedStrategy, DecisionCache
    from bot.strategies.claude import ClaudeStrategy, tool_schema

    llm = settings.llm
    per_call = per_call_cost(settings, market, start=start)
    max_cost = (
        None
        if request.yes
        else (request.max_cost_usd if request.max_cost_usd is not None else settings.backtest.max_cost_usd)
    )
    notify(
        f"Claude backtest: {calls:,} decisions with {llm.model}; uncached calls estimated at up to "
        f"{per_call:.4f} USD each, {calls * per_call:.2f} USD for all"
    )
    # capabilities: whatever var/cache holds, whatever its age (a missing model is looked up once)
    claude = ClaudeStrategy(
        llm, max_leverage=settings.risk.max_leverage, api_key=key, cache_dir=settings.var_dir / "cache"
    )
    # what shapes an answer besides the prompt: the model, its limits, the tool it must call
    identity = json.dumps(
        {
            "model": llm.model,
            "max_tokens": llm.max_tokens,
            "max_leverage": settings.risk.max_leverage,
            "tool": tool_schema(),
            "effort": llm.effort,
            "thinking": llm.thinking,
            "output": llm.output,
        },
        sort_keys=True,
    )
    cached: CachedStrategy | None = None
    gate = _CostGate(
        claude,
        estimate=lambda n: n * per_call,
        remaining=lambda: calls - cached.hits - cached.misses,
        max_cost_usd=max_cost,
    )
    cached = CachedStrategy(
        gate,
        cache=DecisionCache(settings.var_dir / "cache" / "decisions.sqlite"),
        identity=identity,
        bill_hits=bill_hits,
    )
    return cached, gate


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


class _Progress:
    """A rich progress bar with ETA on stderr (stdout stays clean for --json)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar = None

    def __enter__(self) -> Callable[[int, int], None] | None:
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

        self._bar = Progress(
            TextColumn("backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ticks"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        task = self._bar.add_task("backtest", total=None)
        shown = 0

        def on_tick(done: int, total: int) -> None:
            nonlocal shown
            if done in (1, total) or done - shown >= 50:  # redrawing every tick would cost more than the tick
                self._bar.update(task, completed=done, total=total)
                shown = done

        return on_tick

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()
