"""One tick: market -> settle -> indicators -> prompt -> strategy -> risk -> broker -> state.

``run_tick`` is the only orchestrator. ``bot tick``, ``bot tick --replay`` and the
backtest call it with different parts plugged into ``TickContext``; nothing under it
reads the wall clock: ``now`` is handed in.

Error policy: no market data -> the tick fails and nothing trades; a coin that failed
to load is skipped; a strategy failure (for Claude: any failure to get a usable answer)
means HOLD for everyone; once the LLM's daily budget is spent, ``fallback`` decides
until the UTC day ends (said once); a broker failure is
logged and the tick goes on with whatever the broker booked; a bug in any stage is a
failed tick, not a crash. Every tick, failed or not, is saved to state and appended to
the journal; an error the user must fix (config, state file) is raised instead and
nothing is recorded.

Operations (``bot.ops``): inside the backoff window after failed ticks the run is
skipped before any market call; paused or outside the trading windows, BUY/SELL
decisions are refused before the risk step (verdict "rejected", reason saying why) while
CLOSE decisions and the broker's protective exits run as usual. After the tick the
failure counter, backoff and self-pause are updated and the owner is notified.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from bot import ops, risk
from bot.broker import Broker
from bot.config import Settings
from bot.budget import utc_day
from bot.errors import BotError, LlmUnavailable, MarketDataError
from bot.indicators import compute_features
from bot.market import Market
from bot.models import Action, CoinFeatures, Decision, Outcome, Portfolio, RiskCode, RiskVerdict, Snapshot, TickReport, Verdict, tick_id_for
from bot.notify import Notifier, claim, tick_events
from bot.portfolio import portfolio_of, sharpe_ratio
from bot.prompt import DeferredPrompt, build_prompt
from bot.state import BotState
from bot.strategies import Strategy, Trace

log = structlog.get_logger(__name__)

# Verdicts that mean the account stopped opening positions: logged as warnings so the
# operator (and notifications) hear about them.
_HALTS = {RiskCode.DAILY_LOSS_LIMIT, RiskCode.MAX_DRAWDOWN}


class Store(Protocol):
    def load(self) -> BotState | None: ...
    def save(self, state: BotState) -> None: ...


class Recorder(Protocol):
    def append(self, report: TickReport) -> None: ...


class Auditor(Protocol):
    def write(self, tick_id: str, record: dict[str, Any]) -> None: ...


@dataclass
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
    audit: Auditor | None = None  # keeps each LLM exchange (prompt, raw answer, decisions)
    clock: Callable[[], float] = field(default=time.perf_counter)  # for durations only
    notifier: Notifier | None = None
    # the indicator stage; a backtest plugs in bot.indicators.PrecomputedFeatures (same values, computed once)
    features: Callable[[Snapshot], dict[str, CoinFeatures]] = compute_features


async def run_tick(ctx: TickContext, now: datetime) -> TickReport:
    settings = ctx.settings
    state = ctx.store.load() or BotState.fresh(mode=ctx.mode, initial_equity_usd=settings.paper.initial_balance_usd)
    tick_id = tick_id_for(now)
    structlog.contextvars.bind_contextvars(tick_id=tick_id)
    timings: dict[str, float] = {}
    started = mark = ctx.clock()

    def lap(stage: str) -> None:
        nonlocal mark
        current = ctx.clock()
        timings[stage] = current - mark
        mark = current

    skipped = ops.skip_reason(state, now)
    if skipped:
        structlog.contextvars.unbind_contextvars("tick_id")
        return ops.skip_run(ctx.store, state, now, reason=skipped, mode=ctx.mode, strategy=ctx.strategy.name, dry_run=ctx.dry_run)
    report = TickReport(
        tick_id=tick_id, tick=state.tick + 1, mode=ctx.mode, dry_run=ctx.dry_run, as_of=now, strategy=ctx.strategy.name, outcome=Outcome.OK
    )
    report.paused = state.paused
    report.new_positions_blocked = ops.opening_block(state, now, settings.ops) or ""
    recorded = True
    try:
        try:
            snapshot = await ctx.market.snapshot(settings.trading.coins, now)
        except MarketDataError as exc:
            report.outcome = Outcome.FAILED
            report.message = f"no market data: {exc}"
            return report
        lap("market")
        report.coins_loaded = list(snapshot.coins)
        report.errors = dict(snapshot.errors)
        if not snapshot.coins:
            report.outcome = Outcome.FAILED
            report.message = "no market data: every coin failed"
            return report
        if snapshot.errors:
            report.outcome = Outcome.DEGRADED

        state.funding_payments = []
        try:
            report.fills = await ctx.broker.settle(book=state, snapshot=snapshot, now=now)
        except BotError:
            raise
        except Exception as exc:
            log.error("settlement_failed", error=f"{type(exc).__name__}: {exc}")
            if ctx.mode == "live":  # the live book may be wrong (unresolved orders): trade nothing on it
                report.outcome = Outcome.FAILED
                report.message = f"could not reconcile with the exchange: {type(exc).__name__}: {exc}"
                return report
            _degrade(report, f"settlement failed: {type(exc).__name__}: {exc}")  # paper: like an execution failure
        finally:
            _take_corrections(ctx.broker, report)
        report.funding = list(state.funding_payments)
        for fill in report.fills:
            log.info("position_exit", coin=fill.coin, reason=fill.reason, price=fill.price, realized_pnl_usd=round(fill.realized_pnl_usd, 2))
        lap("settle")

        features = ctx.features(snapshot)
        lap("indicators")
        prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
        for coin, position in state.positions.items():
            prices.setdefault(coin, position.entry_price)  # a coin that failed to load is valued at its entry
        portfolio = portfolio_of(
            cash_usd=state.cash_usd, positions=state.positions, prices=prices, initial_equity_usd=state.initial_equity_usd, stats=state.return_stats
        )
        state.risk = risk.remember(state.risk, equity_usd=portfolio.account.equity_usd, fills=report.fills, now=now, settings=settings.risk)
        # Built when the strategy first reads it (the rules never do); its time then counts under "decide".
        prompt = DeferredPrompt(lambda: build_prompt(settings, features, portfolio, now=now, tick=report.tick))
        lap("prompt")

        strategy = _strategy_for_today(ctx, state, report, now)
        report.strategy = strategy.name
        try:
            decisions = await strategy.decide(features=features, portfolio=portfolio, prompt=prompt)
        except LlmUnavailable as exc:  # the LLM gave no usable answer: hold every coin
            log.error("llm_unavailable", strategy=strategy.name, error=str(exc))
            decisions = []
            _degrade(report, f"{strategy.name} unavailable, holding every coin: {exc}")
            state.llm.last_error = str(exc)
        except Exception as exc:  # any strategy failure means HOLD, never a crash
            log.error("strategy_failed", strategy=strategy.name, error=f"{type(exc).__name__}: {exc}")
            decisions = []
            _degrade(report, f"strategy failed, holding: {type(exc).__name__}: {exc}")
        else:
            if hasattr(strategy, "trace"):
                state.llm.last_error = ""
        _account_llm(ctx, state, report, getattr(strategy, "trace", None), now)
        report.decisions = decisions
        report.prompt_chars = prompt.chars if prompt.built else 0
        lap("decide")

        markets = {coin: market.info for coin, market in snapshot.coins.items()}
        decisions, refused = _refuse_openings(decisions, report.new_positions_blocked)
        report.verdicts = refused + risk.review(
            decisions,
            portfolio=portfolio,
            markets=markets,
            settings=settings.risk,
            memory=state.risk,
            peak_equity_usd=state.peak_equity_usd,
            atr_usd={coin: coin_features.h4.atr14 for coin, coin_features in features.items()},
            now=now,
            tick_id=tick_id,
        )
        for verdict in report.verdicts:
            emit = log.warning if _HALTS.intersection(verdict.codes) else log.info
            emit("risk_verdict", coin=verdict.coin, action=verdict.action, verdict=verdict.verdict, codes=verdict.codes, reason=verdict.reason)
        lap("risk")

        plans = [verdict.plan for verdict in report.verdicts if verdict.plan]
        executed = []
        try:
            executed = await ctx.broker.execute(plans, book=state, prices=prices, now=now)
        except Exception as exc:  # an execution failure alerts and never crashes the tick
            log.error("execution_failed", error=f"{type(exc).__name__}: {exc}")
            _degrade(report, f"execution failed: {type(exc).__name__}: {exc}")
        report.fills = [*report.fills, *executed]
        _take_corrections(ctx.broker, report)
        lap("execute")

        after = portfolio
        if executed or not _same_book(state, portfolio):
            after = portfolio_of(
                cash_usd=state.cash_usd, positions=state.positions, prices=prices, initial_equity_usd=state.initial_equity_usd, stats=state.return_stats
            )
        state.risk = risk.remember(state.risk, equity_usd=after.account.equity_usd, fills=executed, now=now, settings=settings.risk)
        _record_equity(state, after.account.equity_usd)
        state.last_prices = prices
        report.account = after.account
        report.positions = list(state.positions.values())
        report.return_pct = after.return_pct
        state.last_decisions = decisions
        return report
    except BotError:
        recorded = False  # the user must fix something (config, state): this was not a tick
        raise
    except Exception as exc:  # a bug in a stage: record a failed tick instead of crashing cron
        log.exception("tick_crashed")
        report.outcome = Outcome.FAILED
        report.message = f"internal error: {type(exc).__name__}: {exc}"
        return report
    finally:
        timings["total"] = ctx.clock() - started
        report.duration_ms = {stage: round(seconds * 1000, 1) for stage, seconds in timings.items()}
        report.sharpe = sharpe_ratio(state.return_stats)
        if recorded:
            _finish(ctx, state, report, now)
        structlog.contextvars.unbind_contextvars("tick_id")


def _same_book(state: BotState, portfolio: Portfolio) -> bool:
    """Nothing booked since ``portfolio`` was valued: same cash, the same position objects
    (brokers replace a position they change), so the valuation still holds."""
    held = portfolio.positions
    return (
        state.cash_usd == portfolio.account.cash_usd
        and len(state.positions) == len(held)
        and all(held.get(coin) is position for coin, position in state.positions.items())
    )


def _take_corrections(broker: Broker, report: TickReport) -> None:
    """The live broker's corrections and alerts go to the journal; an alert degrades the tick."""
    corrections = getattr(broker, "corrections", None)
    if not corrections:
        return
    for correction in corrections:
        report.corrections.append(correction)
        if correction.alert:
            _degrade(report, f"{correction.coin + ': ' if correction.coin else ''}{correction.message}")
    corrections.clear()


def _refuse_openings(decisions: list[Decision], blocked: str) -> tuple[list[Decision], list[RiskVerdict]]:
    """Paused or outside the windows: BUY/SELL never reach the risk step; CLOSE and HOLD do."""
    if not blocked:
        return decisions, []
    opening = {Action.BUY, Action.SELL}
    refused = [
        RiskVerdict(coin=d.coin, action=d.action, verdict=Verdict.REJECTED, codes=[RiskCode.BLOCKED], reason=f"no new positions: {blocked}")
        for d in decisions
        if d.action in opening
    ]
    return [d for d in decisions if d.action not in opening], refused


def _degrade(report: TickReport, message: str) -> None:
    if report.outcome is Outcome.OK:
        report.outcome = Outcome.DEGRADED
    _note(report, message)


def _note(report: TickReport, message: str) -> None:
    report.message = f"{report.message}; {message}" if report.message else message


def _strategy_for_today(ctx: TickContext, state: BotState, report: TickReport, now: datetime) -> Strategy:
    """The configured strategy, or the fallback once today's LLM budget is spent (said once a day)."""
    day, limit = utc_day(now), ctx.settings.llm.max_usd_per_day
    if ctx.fallback is None or not state.llm.exhausted(day, max_usd=limit):
        return ctx.strategy
    if state.llm.budget_notice_day != day:
        state.llm.budget_notice_day = day
        spent = state.llm.spent(day).cost_usd
        notice = (
            f"LLM budget reached: {spent:.4f} USD spent on {day}, llm.max_usd_per_day = {limit:g}; "
            f"{ctx.fallback.name} decides until 00:00 UTC"
        )
        log.warning("llm_budget_reached", spent_usd=round(spent, 4), max_usd_per_day=limit, fallback=ctx.fallback.name)
        _note(report, notice)
    return ctx.fallback


def _account_llm(ctx: TickContext, state: BotState, report: TickReport, trace: Trace | None, now: datetime) -> None:
    """Tokens and dollars into the report and today's spend; the exchange into the audit trail."""
    if trace is None:
        return
    report.usage = trace.usage
    report.invalid = dict(trace.invalid)
    for coin, reason in trace.invalid.items():
        log.warning("decision_invalid", coin=coin, reason=reason)
    state.llm.add(utc_day(now), trace.usage)
    if ctx.audit is not None and trace.audit is not None:
        try:
            ctx.audit.write(report.tick_id, trace.audit)
        except OSError as exc:  # losing the audit must not lose the tick
            log.error("audit_not_written", error=str(exc))
            _degrade(report, f"LLM audit record not written: {exc}")


def _record_equity(state: BotState, equity: float) -> None:
    if state.last_equity_usd > 0:
        state.return_stats = state.return_stats.add(equity / state.last_equity_usd - 1.0)
    state.last_equity_usd = equity
    state.peak_equity_usd = max(state.peak_equity_usd, equity)
    drawdown_pct = (1.0 - equity / state.peak_equity_usd) * 100.0 if state.peak_equity_usd > 0 else 0.0
    state.max_drawdown_pct = max(state.max_drawdown_pct, drawdown_pct)


def _finish(ctx: TickContext, state: BotState, report: TickReport, now: datetime) -> None:
    state.tick = report.tick
    state.mode = ctx.mode
    state.last_tick_at = now
    state.last_tick_id = report.tick_id
    state.last_outcome = report.outcome
    state.last_duration_ms = report.duration_ms.get("total")
    state.last_message = report.message
    ops_events = ops.record_outcome(state, outcome=report.outcome, message=report.message, now=now, ops=ctx.settings.ops)
    notify = ctx.settings.notify
    fresh = []
    if ctx.notifier:
        try:
            fresh = claim(tick_events(report, ops_events, state, min_trade_usd=notify.min_trade_usd), state)
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
