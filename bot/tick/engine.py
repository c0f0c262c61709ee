"""One tick: market -> settle -> features -> value the book -> decide -> risk -> execute -> record.

``run_tick`` is the only orchestrator. ``bot tick``, ``bot tick --replay`` and the
backtest call it with different parts plugged into ``TickContext``; nothing under it
reads the wall clock: ``now`` is handed in. The stages themselves live in
``bot.tick.stages``; this module runs them in order, times each the same way, and
applies ``ON_ERROR``, the one statement of what a failure in each stage means.

Operations (``bot.ops``): inside the backoff window after failed ticks the run is
skipped before any market call; paused or outside the trading windows, BUY/SELL
decisions are refused before the risk step while CLOSE decisions and the broker's
protective exits run as usual. After the tick the failure counter, backoff and
self-pause are updated and the owner is notified. Every tick, failed or not, is saved to
state and appended to the journal; an error the user must fix (config, state file)
reaches the CLI instead and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog

from bot.clock import tick_id_for
from bot.errors import BotError, LlmRequestError, LlmUnavailable, MarketDataError
from bot.models import Outcome, TickReport
from bot.ops import backoff
from bot.ops.notify import claim, tick_events
from bot.ops.state import BotState
from bot.tick import risk, stages
from bot.tick.context import Pass, TickContext
from bot.tick.portfolio import sharpe_ratio

log = structlog.get_logger(__name__)


async def run_tick(ctx: TickContext, now: datetime) -> TickReport:
    """The pass, stage by stage; ``ON_ERROR`` says what a failure in each one means."""
    state = ctx.store.load() or BotState.fresh(mode=ctx.mode, initial_equity_usd=ctx.settings.paper.initial_balance_usd)
    tick_id = tick_id_for(now)
    structlog.contextvars.bind_contextvars(tick_id=tick_id)
    try:
        if skipped := backoff.skip_reason(state, now):
            return backoff.skip_run(
                ctx.store, state, now, reason=skipped, mode=ctx.mode, strategy=ctx.strategy.name, dry_run=ctx.dry_run
            )
        run = Pass.begin(ctx, state, now, tick_id=tick_id)
        stages.carry_booked(run)
        clock = ctx.clock
        started = clock()
        try:
            for name, stage in STAGES:  # each timed the same way; a failure goes to ON_ERROR
                start = clock()
                try:
                    result = stage(run)
                    if result is not None:  # an async stage's coroutine
                        await result
                except Exception as exc:
                    _on_error(run, name, exc)
                finally:
                    run.timings[name] = clock() - start
        except _TickOver:
            pass  # a stage whose failure fails the tick: the outcome and message are set
        except BotError:
            raise  # the user must fix something (config, state): this was not a tick, nothing is recorded
        finally:
            run.cancel_background()
        run.timings["total"] = ctx.clock() - started
        _finish(run)
        return run.report
    finally:
        structlog.contextvars.unbind_contextvars("tick_id")


STAGES: list[tuple[str, Callable[[Pass], Awaitable[None] | None]]] = [
    ("market", stages.load_market),  # closed candles, open interest, funding for the coins
    ("settle", stages.settle),  # stops, take-profits, liquidations, funding since the last tick (live: reconcile)
    ("indicators", stages.compute_indicators),
    ("intel", stages.gather_intel),  # news and sentiment, fetched since the market stage began (bot/intel)
    ("value", stages.value_book),  # the portfolio at this tick's prices, the risk memory, the (deferred) prompt
    ("arena", stages.start_arena),  # the candidates trade this tick on their own paper books (bot/arena), concurrently
    ("decide", stages.decide),
    ("risk", stages.review_risk),  # approve, resize or reject every decision
    ("execute", stages.execute),
    ("record", stages.record_book),  # account after, equity statistics, last prices and decisions
    ("rotate", stages.finish_arena),  # the candidates' passes collected; the rotation rule, once a day
]


class OnError(StrEnum):
    FAIL = "fail"  # the tick fails here: nothing after this stage runs (the tick is still recorded)
    DEGRADE = "degrade"  # log, say so in the report, go on with what the stage left
    RAISE = "raise"  # a user error (config, state): reaches the CLI, the tick is not recorded
    SKIP = "skip"  # go on without what the stage adds; named in the report's `sources_skipped`, the outcome unchanged


@dataclass(frozen=True)
class Rule:
    catches: type[BaseException]
    then: OnError
    says: str = ""  # the report's message; {error} is the exception as "Type: text" (or its text alone when `plain`)
    event: str = ""  # the log event, if any
    plain: bool = False
    modes: frozenset[str] = frozenset()  # only in these modes (empty: every mode)


# What a failure in each stage means, first matching rule wins. A failing coin is not an
# error here: the market leaves it out of the snapshot and the tick goes on degraded. Any
# stage not listed, or an exception no rule catches, is a bug: a BotError reaches the CLI,
# anything else fails the tick as an internal error ("tick_crashed", traceback in the log).
ON_ERROR: dict[str, list[Rule]] = {
    "market": [Rule(MarketDataError, OnError.FAIL, "no market data: {error}", plain=True)],
    "settle": [
        Rule(BotError, OnError.RAISE),
        # the live book may be wrong (unresolved orders): trade nothing on it
        Rule(
            Exception,
            OnError.FAIL,
            "could not reconcile with the exchange: {error}",
            "settlement_failed",
            modes=frozenset({"live"}),
        ),
        Rule(
            Exception, OnError.DEGRADE, "settlement failed: {error}", "settlement_failed"
        ),  # paper: like an execution failure
    ],
    # any strategy failure means HOLD for every coin (the decisions stay empty), never a crash
    "decide": [
        Rule(BotError, OnError.RAISE),  # e.g. a retired model: the user must change llm.model
        # the API refused the request itself (4xx): a bug or a configuration, the same next tick; counted as a
        # failed tick (backoff, self-pause, the alert). With `llm.on_error = "rules"` the stage lets the rules decide.
        Rule(
            LlmRequestError,
            OnError.FAIL,
            "{strategy} request refused, holding every coin (llm.on_error = hold): {error}",
            "llm_request_error",
            plain=True,
        ),
        Rule(
            LlmUnavailable,
            OnError.DEGRADE,
            "{strategy} unavailable, holding every coin: {error}",
            "llm_unavailable",
            plain=True,
        ),
        Rule(Exception, OnError.DEGRADE, "strategy failed, holding: {error}", "strategy_failed"),
    ],
    # news and sentiment are extras: without them the model decides on the market alone, the tick is not degraded
    "intel": [Rule(Exception, OnError.SKIP, "no news or sentiment this tick: {error}", "intel_failed")],
    # the arena never fails the account's tick, not even arena.json unwritable (the account's fills are booked by now)
    "rotate": [Rule(Exception, OnError.DEGRADE, "arena: {error}", "arena_failed")],
    # an execution failure alerts and never crashes: the tick goes on with what the broker booked
    "execute": [Rule(Exception, OnError.DEGRADE, "execution failed: {error}", "execution_failed")],
}


class _TickOver(Exception):
    """A stage failed the tick; raised past the remaining stages."""


def _on_error(run: Pass, name: str, exc: Exception) -> None:
    rule = next(
        (r for r in ON_ERROR.get(name, []) if isinstance(exc, r.catches) and (not r.modes or run.ctx.mode in r.modes)),
        Rule(BotError, OnError.RAISE) if isinstance(exc, BotError) else None,
    )
    if rule is None:  # a bug in a stage: record a failed tick instead of crashing cron
        log.exception("tick_crashed")
        run.report.outcome = Outcome.FAILED
        run.report.message = f"internal error: {type(exc).__name__}: {exc}"
        raise _TickOver from exc
    if rule.then is OnError.RAISE:
        raise exc
    error = str(exc) if rule.plain else f"{type(exc).__name__}: {exc}"
    if rule.event:
        log.error(rule.event, stage=name, strategy=run.report.strategy, error=error)
    message = rule.says.format(error=error, strategy=run.report.strategy)
    if rule.then is OnError.SKIP:
        run.report.sources_skipped[name] = message
        return
    if rule.then is OnError.FAIL:
        run.report.outcome = Outcome.FAILED
        run.report.message = message
        raise _TickOver from exc
    stages.degrade(run.report, message)


def _finish(run: Pass) -> None:
    """Save state, append the journal line, notify: for every tick that ran, failed or not."""
    ctx, state, report, now = run.ctx, run.state, run.report, run.now
    report.duration_ms = {stage: round(seconds * 1000, 1) for stage, seconds in run.timings.items()}
    report.sharpe = sharpe_ratio(state.return_stats)
    state.tick = report.tick
    # `if x != y: x = y`: writing a pydantic field costs ~0.4 us (BaseModel.__setattr__),
    # comparing ~0.07 us; on a backtest's thousands of ticks these rarely change (here,
    # in `stages.py`, in `backoff.py`).
    if state.mode != ctx.mode:
        state.mode = ctx.mode
    state.last_tick_at = now
    state.last_tick_id = report.tick_id
    if state.last_outcome is not report.outcome:
        state.last_outcome = report.outcome
    state.last_duration_ms = report.duration_ms.get("total")
    if state.last_message != report.message:
        state.last_message = report.message
    # A stage that failed after the broker booked a fill (or a kill before this run) did not
    # report or count it: the journal line and the risk memory get every booked fill.
    if missing := [booked.fill for booked in state.booked_fills if booked.fill not in report.fills]:
        report.fills += missing
    if uncounted := stages.book_fills(state, report.fills):
        state.risk = risk.remember(
            state.risk, equity_usd=state.last_equity_usd, fills=uncounted, now=now, settings=ctx.settings.risk
        )
    ops_events = backoff.record_outcome(
        state, outcome=report.outcome, message=report.message, now=now, ops=ctx.settings.ops
    )
    fresh = []
    if ctx.notifier:
        try:
            fresh = claim(
                tick_events(report, ops_events, state, min_trade_usd=ctx.settings.notify.min_trade_usd), state
            )
        except Exception:  # notifications never fail a tick, not even a bug in composing them
            log.exception("notify_failed")
    ctx.store.save(state)  # the notification keys are saved before sending: never twice
    ctx.journal.append(report)
    if fresh:
        ctx.notifier.send(fresh)
    log.info(
        "tick_done",
        outcome=report.outcome,
        coins=len(report.coins_loaded),
        decisions=len(report.decisions),
        fills=len(report.fills),
        equity_usd=round(report.account.equity_usd, 2) if report.account else None,
        duration_ms=report.duration_ms.get("total"),
    )
