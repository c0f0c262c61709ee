"""`bot status`: one model built from local files only, rendered by the CLI (rich, JSON)
and by `bot serve` (the API, the dashboard); and the journal's rows for `bot journal`.

Reads state.json and the journal's running totals beside it (journal.index.json: no
journal scan, no network, no ccxt/pandas), so it answers in well under a second however
long the bot has run. The JSON form is
``StatusReport.model_dump_json``: its field names are a stable, documented interface
(README "bot status --json"); new fields may be added, existing ones keep their meaning.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from bot.clock import TICK, on_tick_grid
from bot.config import Settings
from bot.exchange_models import ExchangeView
from bot.models import Action, Decision, Outcome, RiskVerdict, Side, StrictModel
from bot.ops.backoff import backoff_seconds, opening_block
from bot.ops.budget import cache_hit_ratio, utc_day
from bot.ops.state import BotState, PausedBy
from bot.tick.portfolio import SHARPE_MIN_RETURNS, sharpe_ratio

STATUS_SCHEMA = 1


class StatusPosition(StrictModel):
    coin: str
    side: Side
    amount: float
    entry_price: float
    mark_price: float  # the last tick's price
    leverage: float
    margin_usd: float
    unrealized_pnl_usd: float
    opened_at: datetime
    stop_loss: float | None
    take_profit: float | None
    liquidation_price: float | None = None
    invalidation: str
    managed_only: bool = False  # its coin is not in `trading.coins`: exits and CLOSE only, no entries


class StatusReport(StrictModel):
    schema_version: int = STATUS_SCHEMA
    generated_at: datetime
    state_file: str
    mode: str
    ticks: int
    paused: bool
    paused_by: PausedBy | None
    pause_reason: str
    stop_requested: bool = False  # `bot serve`'s stop: every open position closes at the next tick
    close_requested: dict[str, str] = Field(default_factory=dict)  # `bot close COIN`: coin -> reason, until flat
    paused_at: datetime | None
    new_positions_blocked: str  # why a tick now would refuse openings; "" when it would not
    trading_windows: list[str]
    last_tick_at: datetime | None
    last_tick_id: str | None
    last_outcome: Outcome | None
    last_duration_ms: float | None
    last_message: str
    last_skipped_at: datetime | None
    next_tick_at: datetime | None
    consecutive_errors: int
    max_consecutive_errors: int
    backoff_until: datetime | None
    backoff_seconds: int  # length of the current backoff window, 0 when none
    quote: str = "USDT"  # the account's currency: the venue's settle currency (`trading.quote`; Hyperliquid USDC)
    initial_equity_usd: float
    equity_usd: float
    cash_usd: float
    unrealized_pnl_usd: float
    return_pct: float
    peak_equity_usd: float
    max_drawdown_pct: float
    sharpe: float | None
    sharpe_needs_ticks: int = 0  # ticks of returns still missing before Sharpe is given
    fees_paid_usd: float
    realized_pnl_usd: float
    funding_usd: float = 0.0  # net funding received (+) or paid (-)
    positions: list[StatusPosition] = Field(default_factory=list)
    last_decisions: list[Decision] = Field(default_factory=list)
    last_verdicts: list[RiskVerdict] = Field(default_factory=list)  # the risk step's verdict on each (no plans)
    last_context: str = ""  # the news and sentiment block the last prompt held ("" without [intel])
    llm_spend_today_usd: float
    llm_calls_today: int
    llm_budget_usd: float  # llm.max_usd_per_day
    llm_last_error: str  # the last LLM failure (a refused key shows here); "" after a successful call
    llm_model: str = ""  # the model of the last Claude call, its lifecycle and scheduled retirement
    llm_model_lifecycle: str = ""  # active | deprecated (a retired model stops the tick with exit 2)
    llm_model_retires_at: datetime | None = None
    llm_profile_of: str = ""  # the provider whose profile gave the model's capabilities (no Models API there)
    llm_last_refusal: str = ""  # "<day> <category>" of the last answer Claude refused
    # the API refusing the request itself (a 4xx), since when, and who decides meanwhile (`llm.on_error`); "" if not
    llm_request_refused: str = ""
    llm_instructions: str = ""  # the first line of the owner's `llm.instructions`, and their size; "" without any
    llm_thinking_tokens_today: int = 0  # part of the output tokens, billed as output
    llm_cache_hit_ratio_today: float | None = None  # prompt tokens read from the cache / all prompt tokens
    llm_cache_saved_usd_today: float = 0.0  # what the cache saved today against sending the same tokens uncached
    exchange: ExchangeView | None = None  # live: the exchange's account as last reconciled
    pending_orders: list[str] = Field(default_factory=list)  # live: client ids saved but not yet settled
    disagreements: list[str] = Field(default_factory=list)  # live: where state and the exchange differ
    arena_active: str = ""  # the [arena] candidate running the account ("" without an arena), since when, pinned
    arena_since: datetime | None = None
    arena_pinned: bool = False
    journal_records: int | None = None  # readable records in the journal and its parts (None: not counted yet)
    journal_unreadable: int = 0  # lines of the journal that are not a record: counted, never dropped silently
    journal_unreadable_lines: list[str] = Field(default_factory=list)  # the first 20 of them, by file, line, byte
    journal_set_aside: list[str] = Field(default_factory=list)  # side files holding torn last lines, set aside


def build_status(state: BotState, *, settings: Settings, state_file: Path, now: datetime) -> StatusReport:
    today = state.llm.spent(utc_day(now))
    positions = []
    for position in state.positions.values():
        mark = state.last_prices.get(position.coin, position.entry_price)
        positions.append(
            StatusPosition(
                **position.model_dump(include=set(StatusPosition.model_fields) - {"mark_price", "unrealized_pnl_usd"}),
                mark_price=mark,
                unrealized_pnl_usd=position.unrealized_pnl_usd(mark),
                managed_only=position.coin not in settings.trading.coins,
            )
        )
    backing_off = state.backoff_until is not None and state.backoff_until > now
    return StatusReport(
        **state.model_dump(include=_FROM_STATE),
        generated_at=now,
        state_file=str(state_file),
        ticks=state.tick,
        new_positions_blocked=opening_block(state, now, settings.ops) or "",
        trading_windows=list(settings.ops.trading_windows),
        next_tick_at=_next_tick(state, now),
        max_consecutive_errors=settings.ops.max_consecutive_errors,
        backoff_until=state.backoff_until if backing_off else None,
        backoff_seconds=backoff_seconds(state.consecutive_errors, settings.ops) if backing_off else 0,
        quote=settings.trading.quote,
        equity_usd=state.last_equity_usd,
        unrealized_pnl_usd=sum(position.unrealized_pnl_usd for position in positions),
        return_pct=(state.last_equity_usd / state.initial_equity_usd - 1.0) * 100.0,
        sharpe=sharpe_ratio(state.return_stats),
        sharpe_needs_ticks=max(0, SHARPE_MIN_RETURNS - state.return_stats.count),
        positions=positions,
        last_decisions=state.last_decisions,
        last_verdicts=state.last_verdicts,
        llm_spend_today_usd=today.cost_usd,
        llm_calls_today=today.calls,
        llm_budget_usd=settings.llm.max_usd_per_day,
        llm_last_error=state.llm.last_error,
        llm_model=state.llm.model,
        llm_model_lifecycle=state.llm.lifecycle,
        llm_model_retires_at=state.llm.retires_at,
        llm_profile_of=state.llm.profile_of,
        llm_last_refusal=state.llm.last_refusal,
        llm_request_refused=_request_refused(state, settings),
        llm_instructions=_instructions(settings.llm.instructions),
        llm_thinking_tokens_today=today.thinking_tokens,
        llm_cache_hit_ratio_today=cache_hit_ratio(today),
        llm_cache_saved_usd_today=today.cache_saved_usd,
        exchange=state.exchange,
        pending_orders=[intent.client_order_id for intent in state.pending_intents],
        disagreements=state.exchange.disagreements(state.positions) if state.exchange else [],
        **_arena(settings, state_file),
        **_journal(state_file),
    )


def _journal(state_file: Path) -> dict[str, Any]:
    """The journal's running totals (journal.index.json), written by every append."""
    from bot.ops.journal_index import read_totals

    totals = read_totals(state_file.parent / "journal.jsonl")
    if totals is None:
        return {}
    return {
        "journal_records": totals.records,
        "journal_unreadable": totals.bad_count,
        "journal_unreadable_lines": [str(bad) for bad in totals.bad],
        "journal_set_aside": totals.set_aside,
    }


def _instructions(text: str) -> str:
    if not text:
        return ""
    first = text.splitlines()[0].strip()
    shown = f"{first[:100]}..." if len(first) > 100 else first
    return f"{shown} ({len(text.splitlines())} lines, ~{-(-len(text) // 4)} tokens)"


def _request_refused(state: BotState, settings: Settings) -> str:
    llm = state.llm
    if not llm.request_errors or llm.request_error_since is None:
        return ""
    who = (
        "the rules decide (llm.on_error = rules)"
        if settings.llm.on_error == "rules"
        else "every coin holds, failed ticks (llm.on_error = hold)"
    )
    return f"since {llm.request_error_since:%Y-%m-%d %H:%M} UTC, {llm.request_errors} tick(s) in a row: {who}"


def _arena(settings: Settings, state_file: Path) -> dict[str, Any]:
    """Who runs the account when [arena] has candidates: var/arena/arena.json, else `arena.active`."""
    if not settings.arena.candidates:
        return {}
    from bot.ops.arena_state import ArenaStore

    record = ArenaStore(state_file.parent / "arena" / "arena.json").load()
    if record is None or settings.arena.candidate(record.active) is None:
        return {"arena_active": settings.arena.initial}
    return {"arena_active": record.active, "arena_since": record.since, "arena_pinned": record.pinned}


# Status fields that are the state's own, under the same name.
_FROM_STATE = {
    "mode",
    "paused",
    "paused_by",
    "stop_requested",
    "close_requested",
    "pause_reason",
    "paused_at",
    "last_tick_at",
    "last_tick_id",
    "last_outcome",
    "last_duration_ms",
    "last_message",
    "last_skipped_at",
    "consecutive_errors",
    "initial_equity_usd",
    "cash_usd",
    "peak_equity_usd",
    "max_drawdown_pct",
    "fees_paid_usd",
    "realized_pnl_usd",
    "funding_usd",
    "last_context",
}


def status_time(state: BotState, wall_now: datetime, *, replay: bool) -> datetime:
    """The status's "now": the wall clock, or in replay the simulated clock where the next
    replay tick would run."""
    if replay and state.last_run_at:
        return state.last_run_at + TICK
    return wall_now


def _next_tick(state: BotState, now: datetime) -> datetime | None:
    """Replay: 3 simulated minutes after the last tick. Live: the next */3 cron minute,
    or the first one after the backoff window."""
    if state.mode == "replay":
        return state.last_tick_at + TICK if state.last_tick_at else None
    start = max(now, state.backoff_until) if state.backoff_until else now
    return on_tick_grid(start) + TICK


def journal_rows(records: Iterable[dict[str, Any]], *, count: int, trades: bool) -> list[dict[str, Any]]:
    """The last ``count`` ticks or fills of journal ``records`` (newest first, as
    ``Journal.newest_first`` yields them), oldest first, as flat rows (the --json form)."""
    rows: list[dict[str, Any]] = []
    for record in records:
        if len(rows) >= count:
            break
        if not trades:
            account = record.get("account") or {}
            rows.append(
                {
                    "tick_id": record.get("tick_id"),
                    "tick": record.get("tick"),
                    "as_of": record.get("as_of"),
                    "outcome": record.get("outcome"),
                    "coins_loaded": len(record.get("coins_loaded", [])),
                    "decisions": sum(1 for d in record.get("decisions", []) if d.get("action") != Action.HOLD),
                    "fills": len(record.get("fills", [])),
                    "equity_usd": account.get("equity_usd"),
                    "return_pct": record.get("return_pct"),
                    "duration_ms": (record.get("duration_ms") or {}).get("total"),
                    "message": record.get("message", ""),
                }
            )
            continue
        for fill in reversed(record.get("fills", [])):
            if len(rows) >= count:
                break
            rows.append(
                {
                    "at": fill.get("at"),
                    "tick_id": record.get("tick_id"),
                    "coin": fill.get("coin"),
                    "side": fill.get("side"),
                    "action": "close" if fill.get("reduce_only") else "open",
                    "amount": fill.get("amount"),
                    "price": fill.get("price"),
                    "fee_usd": fill.get("fee_usd"),
                    "realized_pnl_usd": fill.get("realized_pnl_usd", 0.0),
                    "reason": fill.get("reason", ""),
                    "client_order_id": fill.get("client_order_id"),
                }
            )
    return rows[::-1]
