"""What a tick is handed (``TickContext``: the parts plugged in) and the tick in progress
(``Pass``: its state, its report, and what each stage has left for the next)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import tick_id_for
from bot.config import Settings
from bot.models import CoinFeatures, Decision, Fill, OrderPlan, Outcome, Portfolio, Snapshot, TickReport
from bot.ops import backoff
from bot.ops.notify import Notifier
from bot.ops.state import BotState
from bot.tick.briefing import Briefing
from bot.tick.indicators import compute_features
from bot.tick.prompt import DeferredPrompt
from bot.tick.protocols import Arena, Auditor, Broker, Intel, Market, Recorder, Store, Strategy


@dataclass(slots=True)
class TickContext:
    settings: Settings
    mode: str  # paper | replay | live
    dry_run: bool
    market: Market
    strategy: Strategy
    broker: Broker
    store: Store
    journal: Recorder
    fallback: Strategy | None = None  # decides instead of `strategy` once the LLM's daily budget is spent
    on_error: Strategy | None = None  # decides while the LLM API refuses the request (`llm.on_error = "rules"`)
    audit: Auditor | None = None  # keeps each LLM exchange (prompt, raw answer, decisions)
    clock: Callable[[], float] = field(default=time.perf_counter)  # for durations only
    notifier: Notifier | None = None
    # the indicator stage; a backtest plugs in bot.tick.indicators.PrecomputedFeatures (same values, computed once)
    features: Callable[[Snapshot], dict[str, CoinFeatures]] = compute_features
    intel: Intel | None = None  # news and sentiment for the prompt, fetched while the market loads
    arena: Arena | None = None  # candidate strategies on their own paper books; `strategy` is then the active one


@dataclass(slots=True)
class Pass:
    """One tick in progress: its parts, its state, its report, and what each stage left."""

    ctx: TickContext
    state: BotState
    report: TickReport
    now: datetime
    timings: dict[str, float] = field(default_factory=dict)
    snapshot: Snapshot | None = None
    features: dict[str, CoinFeatures] = field(default_factory=dict)
    prices: dict[str, float] = field(default_factory=dict)
    portfolio: Portfolio | None = None
    prompt: DeferredPrompt | None = None
    intel_task: asyncio.Task[Briefing] | None = None  # started by the market stage, awaited by the intel stage
    briefing: Briefing | None = None
    arena_task: asyncio.Task[dict[str, str]] | None = None  # the candidates' passes, started before deciding
    context: str = ""  # the briefing as the prompt shows it
    decisions: list[Decision] = field(default_factory=list)
    plans: list[OrderPlan] = field(default_factory=list)
    executed: list[Fill] = field(default_factory=list)

    @classmethod
    def begin(cls, ctx: TickContext, state: BotState, now: datetime, *, tick_id: str | None = None) -> Pass:
        report = TickReport(
            tick_id=tick_id or tick_id_for(now),
            tick=state.tick + 1,
            mode=ctx.mode,
            dry_run=ctx.dry_run,
            as_of=now,
            strategy=ctx.strategy.name,
            outcome=Outcome.OK,
            paused=state.paused,
            new_positions_blocked=backoff.opening_block(state, now, ctx.settings.ops) or "",
        )
        return cls(ctx=ctx, state=state, report=report, now=now)

    def cancel_background(self) -> None:
        """A tick that ended before the intel (or arena) stage leaves no task behind."""
        for task in (self.intel_task, self.arena_task):
            if task is not None and not task.done():
                task.cancel()
            elif task is not None and not task.cancelled():
                task.exception()  # retrieved: no "exception was never retrieved" warning
        self.intel_task = self.arena_task = None
