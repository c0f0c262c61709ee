"""The stages of one tick, in the order ``bot.tick.engine.STAGES`` runs them.

Each stage reads what the stages before it left on the ``Pass`` and adds its own part;
none of them catches its own failures: the engine's ``ON_ERROR`` says what a failure
means. The arithmetic lives in the pure modules beside this one (indicators, portfolio,
risk, prompt); these functions only wire it to the tick's parts and its report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import structlog

from bot.errors import LlmRequestError, LlmUnavailable, MarketDataError
from bot.models import (
    Fill,
    Outcome,
    Portfolio,
    RiskCode,
    TickReport,
)
from bot.ops.budget import utc_day
from bot.ops.state import CLOSED_TRADES_KEPT, BookedFill, BotState
from bot.tick import risk
from bot.tick.context import Pass
from bot.tick.filters import manual_fills, refuse_openings, requested_closes, still_requested
from bot.tick.memory import closed_trades
from bot.tick.portfolio import portfolio_of, record_equity
from bot.tick.prompt import DeferredPrompt, PromptParts, context_block
from bot.tick.protocols import Broker, Strategy, Trace

log = structlog.get_logger(__name__)

# Verdicts that mean the account stopped opening positions: logged as warnings so the
# operator (and notifications) hear about them.
_HALTS = {RiskCode.DAILY_LOSS_LIMIT, RiskCode.MAX_DRAWDOWN}


async def load_market(run: Pass) -> None:
    """The configured coins and the coins held outside them (managed, never opened)."""
    coins = run.ctx.settings.trading.coins
    if run.ctx.intel is not None:  # news and sentiment load while the market does; `gather_intel` collects them
        run.intel_task = asyncio.ensure_future(run.ctx.intel.briefing(coins, run.now))
    held = [coin for coin in run.state.positions if coin not in coins]
    snapshot = await run.ctx.market.snapshot([*coins, *held] if held else coins, run.now)
    run.report.coins_loaded = list(snapshot.coins)
    run.prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
    run.report.prices = dict(run.prices)
    if snapshot.errors:
        run.report.errors = dict(snapshot.errors)
    if not snapshot.coins:
        raise MarketDataError("every coin failed")
    if snapshot.errors:
        run.report.outcome = Outcome.DEGRADED
    run.snapshot = snapshot


def carry_booked(run: Pass) -> None:
    """Before the stages: fills an earlier run booked into the state that the journal's last
    line does not hold (it was killed between the two) go into this tick's report."""
    state = run.state
    if not state.booked_fills:
        return
    journaled = run.ctx.journal.last_fills()
    state.booked_fills = [booked for booked in state.booked_fills if booked.fill not in journaled]
    run.report.fills = [booked.fill for booked in state.booked_fills]
    if run.report.fills:
        log.warning("fills_recovered", count=len(run.report.fills))
        _note(
            run.report, f"{len(run.report.fills)} fill(s) booked by a run killed before its journal line: recorded now"
        )


def book_fills(state: BotState, fills: list[Fill]) -> list[Fill]:
    """Keep ``fills`` in the state until the journal holds them; return those the risk memory
    has not counted yet, marked counted (the mark and the memory are saved together)."""
    if not fills and not state.booked_fills:
        return []  # most ticks
    for fill in fills:
        if not any(booked.fill == fill for booked in state.booked_fills):
            state.booked_fills.append(BookedFill(fill=fill))
    fresh = [booked for booked in state.booked_fills if not booked.counted]
    for booked in fresh:
        booked.counted = True
    return [booked.fill for booked in fresh]


async def settle(run: Pass) -> None:
    state, report = run.state, run.report
    if state.funding_payments:  # guarded: a pydantic write costs (see `engine._finish`)
        state.funding_payments = []
    before = dict(state.positions)  # brokers replace a position they change
    settled: list[Fill] = []
    try:
        settled = await run.ctx.broker.settle(book=state, snapshot=run.snapshot, now=run.now)
    finally:
        if settled:
            report.fills = [*report.fills, *settled]
            _remember_trades(run, before, settled)
        take_corrections(run.ctx.broker, report)
        if state.funding_payments:
            report.funding = list(state.funding_payments)
    for fill in settled:
        log.info(
            "position_exit",
            coin=fill.coin,
            reason=fill.reason,
            price=fill.price,
            realized_pnl_usd=round(fill.realized_pnl_usd, 2),
        )


def compute_indicators(run: Pass) -> None:
    run.features = run.ctx.features(run.snapshot)


async def gather_intel(run: Pass) -> None:
    """The briefing started with the market, cut to what was published by the tick's time;
    this stage's duration is what intel added to the tick's wall time."""
    if run.intel_task is None:
        return
    task, run.intel_task = run.intel_task, None
    run.state.last_context = ""
    settings = run.ctx.settings.intel
    try:
        briefing = (await asyncio.wait_for(task, timeout=settings.timeout_s + 1.0)).before(run.now)
    except TimeoutError:
        raise TimeoutError(f"the sources took over {settings.timeout_s + 1.0:g} s") from None
    run.report.sources_skipped.update(briefing.skipped)
    run.briefing = briefing
    run.context = run.state.last_context = context_block(briefing, now=run.now, max_tokens=settings.max_tokens)


def value_book(run: Pass) -> None:
    """The portfolio at this tick's prices; the risk memory sees the exits settled above."""
    state, settings = run.state, run.ctx.settings
    for coin, position in state.positions.items():
        if coin not in run.prices:  # failed to load: its last known price, said to be stale
            run.prices[coin] = state.last_prices.get(coin, position.entry_price)
            degrade(
                run.report,
                f"{coin} valued at its last known price {run.prices[coin]:.6g} (stale: no market data this tick)",
            )
    run.portfolio = _valued(state, run.prices)
    fills = book_fills(state, run.report.fills)
    _remember_risk(state, equity_usd=run.portfolio.account.equity_usd, fills=fills, now=run.now, settings=settings.risk)
    # Built when the strategy first reads it (the rules never do); its time then counts under "decide".
    features, portfolio, now, tick, context, briefing = (
        run.features,
        run.portfolio,
        run.now,
        run.report.tick,
        run.context,
        run.briefing,
    )
    trades = state.closed_trades  # replaced, never changed in place, when a trade closes
    run.prompt = DeferredPrompt.of(
        PromptParts(
            settings, features, portfolio, now=now, tick=tick, context=context, trades=trades, briefing=briefing
        )
    )


async def decide(run: Pass) -> None:
    state, report = run.state, run.report
    strategy = _strategy_for_today(run)
    report.strategy = strategy.name
    try:
        run.decisions = await strategy.decide(features=run.features, portfolio=run.portfolio, prompt=run.prompt)
    except LlmRequestError as exc:  # a bug or a configuration, not an outage: ON_ERROR fails the tick, or ...
        state.llm.last_error = str(exc)
        if not state.llm.request_errors:
            state.llm.request_error_since = run.now
        state.llm.request_errors += 1
        if run.ctx.on_error is None:
            raise
        # ... `llm.on_error = "rules"`: the rules decide while it lasts, said in every tick's summary
        instead = run.ctx.on_error
        run.decisions = await instead.decide(features=run.features, portfolio=run.portfolio, prompt=run.prompt)
        degrade(
            report, f"{strategy.name} request refused, {instead.name} decide (llm.on_error = {instead.name}): {exc}"
        )
    except LlmUnavailable as exc:
        state.llm.last_error = str(exc)
        raise
    else:
        if strategy.trace is not None:  # a paid strategy answered
            state.llm.last_error = ""
            if state.llm.request_errors:
                state.llm.request_errors, state.llm.request_error_since = 0, None
    finally:
        _account_llm(run, strategy.trace)
        if run.decisions:
            report.decisions = run.decisions
        if run.prompt.built:
            report.prompt_chars = run.prompt.chars


def start_arena(run: Pass) -> None:
    """The candidates' passes start here and run while the account's strategy decides."""
    if run.ctx.arena is not None:
        run.arena_task = asyncio.ensure_future(
            run.ctx.arena.play(
                snapshot=run.snapshot,
                features=run.features,
                briefing=run.briefing,
                mode=run.ctx.mode,
                now=run.now,
                clock=run.ctx.clock,
            )
        )


def finish_arena(run: Pass) -> Awaitable[None] | None:
    """A candidate that failed held alone: named in `sources_skipped`; then the rotation rule.
    Without an arena nothing to await (no coroutine on every backtest tick)."""
    return _collect_arena(run) if run.arena_task is not None else None


async def _collect_arena(run: Pass) -> None:
    task, run.arena_task = run.arena_task, None
    failed = await task
    run.report.sources_skipped.update({f"arena:{name}": why for name, why in failed.items()})
    if note := run.ctx.arena.rotate(run.now):
        _note(run.report, note)


def review_risk(run: Pass) -> None:
    settings, state, report = run.ctx.settings, run.state, run.report
    if state.stop_requested or state.close_requested:
        run.decisions = report.decisions = requested_closes(run.decisions, state)
    if not run.decisions:
        return  # nothing to review: no verdicts, no plans
    decisions, refused = refuse_openings(run.decisions, report.new_positions_blocked, settings.trading.coins)
    report.verdicts = refused + risk.review(
        decisions,
        portfolio=run.portfolio,
        markets={coin: market.info for coin, market in run.snapshot.coins.items()},
        settings=settings.risk,
        memory=state.risk,
        peak_equity_usd=state.peak_equity_usd,
        atr_usd={coin: coin_features.h4.atr14 for coin, coin_features in run.features.items()},
        now=run.now,
        tick_id=report.tick_id,
        taker_fee_pct=settings.paper.taker_fee_pct,
        slippage_pct=settings.paper.slippage_pct,
    )
    for verdict in report.verdicts:
        emit = log.warning if _HALTS.intersection(verdict.codes) else log.info
        emit(
            "risk_verdict",
            coin=verdict.coin,
            action=verdict.action,
            verdict=verdict.verdict,
            codes=verdict.codes,
            reason=verdict.reason,
        )
    run.plans = [verdict.plan for verdict in report.verdicts if verdict.plan]


async def execute(run: Pass) -> None:
    before = dict(run.state.positions)
    try:
        run.executed = await run.ctx.broker.execute(run.plans, book=run.state, prices=run.prices, now=run.now)
    finally:
        run.executed = manual_fills(run.executed, run.state)
        if run.executed:
            run.report.fills = [*run.report.fills, *run.executed]
            _remember_trades(run, before, run.executed)
        take_corrections(run.ctx.broker, run.report)
        reasons = {decision.coin: decision.reasoning for decision in run.decisions}
        for coin, position in run.state.positions.items() if reasons else ():
            opened = before.get(coin) is None or before[coin].side != position.side
            if opened and coin in reasons:
                run.state.entry_reasons[coin] = reasons[coin]


def _remember_trades(run: Pass, before: dict, fills: list[Fill]) -> None:
    """Positions these fills closed go to the trade memory (``bot.tick.memory``)."""
    state = run.state
    trades = closed_trades(
        before, state.positions, fills, reasons=state.entry_reasons, fee_rate=run.ctx.settings.paper.taker_fee_pct / 100
    )
    for trade in trades:
        state.entry_reasons.pop(trade.coin, None)
    if trades:
        state.closed_trades = [*state.closed_trades, *trades][-CLOSED_TRADES_KEPT:]


def record_book(run: Pass) -> None:
    """The account after execution, the equity statistics, what the next tick starts from."""
    state, report = run.state, run.report
    after = run.portfolio
    if run.executed or not _same_book(state, after):
        after = _valued(state, run.prices)
    fills = book_fills(state, run.executed)
    if (
        fills or after is not run.portfolio
    ):  # else the memory is what `value_book` left: same equity, same time, no fill
        _remember_risk(
            state, equity_usd=after.account.equity_usd, fills=fills, now=run.now, settings=run.ctx.settings.risk
        )
    record_equity(state, after.account.equity_usd)
    state.last_prices = run.prices
    if state.close_requested:
        state.close_requested = still_requested(state)
    report.account = after.account
    if state.positions:
        report.positions = list(state.positions.values())
    report.return_pct = after.return_pct
    report.prices = dict(run.prices)
    if run.decisions or state.last_decisions:  # guarded: a pydantic write costs (see `engine._finish`)
        state.last_decisions = run.decisions
        state.last_verdicts = [verdict.model_copy(update={"plan": None}) for verdict in report.verdicts]


def _remember_risk(state: BotState, **tick: object) -> None:
    """The risk memory after this tick's events, written back only when it changed (a
    pydantic write costs: see `engine._finish`)."""
    memory = risk.remember(state.risk, **tick)
    if memory is not state.risk:
        state.risk = memory


def degrade(report: TickReport, message: str) -> None:
    if report.outcome is Outcome.OK:
        report.outcome = Outcome.DEGRADED
    _note(report, message)


def take_corrections(broker: Broker, report: TickReport) -> None:
    """The live broker's corrections and alerts go to the journal; an alert degrades the tick."""
    if not broker.corrections:
        return
    for correction in broker.corrections:
        report.corrections.append(correction)
        if correction.alert:
            degrade(report, f"{correction.coin + ': ' if correction.coin else ''}{correction.message}")
    broker.corrections.clear()


def _valued(state: BotState, prices: dict[str, float]) -> Portfolio:
    return portfolio_of(
        cash_usd=state.cash_usd,
        positions=state.positions,
        prices=prices,
        initial_equity_usd=state.initial_equity_usd,
        stats=state.return_stats,
    )


def _same_book(state: BotState, portfolio: Portfolio) -> bool:
    """Nothing booked since ``portfolio`` was valued: same cash, the same position objects
    (brokers replace a position they change), so the valuation still holds."""
    held = portfolio.positions
    return (
        state.cash_usd == portfolio.account.cash_usd
        and len(state.positions) == len(held)
        and all(held.get(coin) is position for coin, position in state.positions.items())
    )


def _note(report: TickReport, message: str) -> None:
    report.message = f"{report.message}; {message}" if report.message else message


def _strategy_for_today(run: Pass) -> Strategy:
    """The configured strategy, or the fallback once today's LLM budget is spent (said once a day)."""
    ctx, state = run.ctx, run.state
    day, limit = utc_day(run.now), ctx.settings.llm.max_usd_per_day
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
        _note(run.report, notice)
    return ctx.fallback


def _account_llm(run: Pass, trace: Trace | None) -> None:
    """Tokens and dollars into the report and today's spend; the exchange into the audit trail."""
    if trace is None:
        return
    report, audit = run.report, run.ctx.audit
    report.usage = trace.usage
    report.model = trace.model if trace.usage.calls else ""
    report.invalid = dict(trace.invalid)
    for coin, reason in trace.invalid.items():
        log.warning("decision_invalid", coin=coin, reason=reason)
    ledger = run.state.llm
    ledger.add(utc_day(run.now), trace.usage)
    if trace.lifecycle:
        ledger.note_model(trace)
    if trace.refusal:
        ledger.last_refusal = f"{utc_day(run.now)} {trace.refusal}"
        log.warning("llm_refused", category=trace.refusal, model=trace.model)
    if audit is not None and trace.audit is not None:
        try:
            audit.write(report.tick_id, trace.audit)
        except OSError as exc:  # losing the audit must not lose the tick
            log.error("audit_not_written", error=str(exc))
            degrade(report, f"LLM audit record not written: {exc}")
