"""What the owner does between ticks: pause, resume, stop, close one position, the daily summary.

Each change takes the tick lock (waiting up to ``ops.lock_wait_seconds`` for a running
tick to finish), so a tick can never overwrite it with the state it loaded earlier.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from bot.config import Settings
from bot.errors import ConfigError, DeliveryError, did_you_mean
from bot.models import Outcome
from bot.ops import backoff
from bot.ops.journal import Journal
from bot.ops.notify import Event, EventKind, Level, claim, notifier_for
from bot.ops.state import BotState, PausedBy, StateStore, TickLock


@contextmanager
def locked_state(settings: Settings, *, replay: bool, now: datetime) -> Iterator[BotState]:
    """The state under the tick lock, saved on a clean exit; a fresh account if there is none yet."""
    var = settings.run_dir(replay=replay)
    with TickLock(var / "tick.lock").acquire(wait_seconds=settings.ops.lock_wait_seconds, started_at=now):
        store = StateStore(var / "state.json")
        state = store.load() or BotState.fresh(
            mode="replay" if replay else "paper", initial_equity_usd=settings.paper.initial_balance_usd
        )
        yield state
        store.save(state)


def pause_bot(settings: Settings, *, replay: bool, reason: str, now: datetime) -> BotState:
    with locked_state(settings, replay=replay, now=now) as state:
        when = state.last_run_at if replay and state.last_run_at else now  # replay: the simulated clock
        backoff.pause(state, by=PausedBy.USER, reason=reason or "paused by hand", now=when)
    return state


def stop_bot(settings: Settings, *, replay: bool, reason: str, now: datetime) -> BotState:
    """Pause, and close every open position at the next tick (until resumed)."""
    with locked_state(settings, replay=replay, now=now) as state:
        when = state.last_run_at if replay and state.last_run_at else now
        backoff.pause(state, by=PausedBy.USER, reason=reason or "stopped by hand", now=when)
        state.stop_requested = True
    return state


CLOSE_REASON_MAX = 200  # characters, as the API's ControlRequest.reason


def request_close(settings: Settings, *, replay: bool, coin: str, reason: str, now: datetime) -> BotState:
    """Ask the next tick to close ``coin``'s position (``bot close``, the API, the dashboard, Telegram).

    Recorded in state under the lock like a stop; the tick turns it into a CLOSE decision that
    takes the engine's normal path (risk step, broker: reduce-only on live) and journals the fill
    with reason ``manual``; the request is dropped once the coin is flat. A coin neither in
    ``trading.coins`` nor held, or one with no open position, is a ConfigError and nothing is
    written. A coin held but no longer configured can be closed: that is what such positions need.
    """
    name = coin.strip().upper()
    if not name:
        raise ConfigError("close: name the coin to close, e.g. `bot close BTC`")
    var = settings.run_dir(replay=replay)
    stored = StateStore(var / "state.json").load() if (var / "state.json").exists() else None
    held = sorted(stored.positions) if stored else []
    if name not in settings.trading.coins and name not in held:
        known = [*settings.trading.coins, *(c for c in held if c not in settings.trading.coins)]
        raise ConfigError(
            f"close: unknown coin {coin.strip()!r} (trading.coins: {', '.join(known)}){did_you_mean(name, known)}"
        )
    if name not in held:
        raise ConfigError(f"close: no open position in {name} (open: {', '.join(held) or 'none'}); nothing to close")
    text = " ".join(reason.split())[:CLOSE_REASON_MAX]  # one line, bounded: it reaches notifications and pages
    with locked_state(settings, replay=replay, now=now) as state:
        if name not in state.positions:  # closed by a tick that ran between the read above and the lock
            raise ConfigError(f"close: no open position in {name} any more (a tick just closed it); nothing to close")
        state.close_requested = {**state.close_requested, name: text}
    return state


def resume_bot(settings: Settings, *, replay: bool, now: datetime) -> tuple[BotState, str]:
    """Lift the pause and any backoff; also returns what was lifted, for the message."""
    with locked_state(settings, replay=replay, now=now) as state:
        lifted = []
        if state.paused:
            lifted.append(f"pause ({state.pause_reason})")
        if state.backoff_until:
            lifted.append(f"backoff after {state.consecutive_errors} failed tick(s)")
        backoff.resume(state)
    return state, " and ".join(lifted) or "nothing: the bot was not paused"


def daily_summary(state: BotState, journal: Journal, *, day: str) -> Event:
    """The UTC day's ticks, trades and PnL, from the journal read backwards to the day's start."""
    outcomes = {outcome: 0 for outcome in Outcome}
    trades = 0
    realized = fees = 0.0
    first_equity = None
    for record in journal.newest_first():
        if record.get("as_of", "")[:10] < day:
            first_equity = (record.get("account") or {}).get("equity_usd", first_equity)
            break
        if record.get("as_of", "")[:10] > day:
            continue
        outcomes[Outcome(record["outcome"])] += 1
        for fill in record.get("fills", []):
            trades += 1
            realized += fill.get("realized_pnl_usd", 0.0)
            fees += fill.get("fee_usd", 0.0)
    start = first_equity or state.initial_equity_usd
    change_pct = (state.last_equity_usd / start - 1.0) * 100.0
    total_pct = (state.last_equity_usd / state.initial_equity_usd - 1.0) * 100.0
    ticks = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items() if count) or "none"
    lines = [
        f"equity {state.last_equity_usd:,.2f} USDT: {change_pct:+.2f}% today, {total_pct:+.2f}% in total (max "
        f"drawdown {state.max_drawdown_pct:.2f}%)",
        f"ticks: {ticks}; fills: {trades}, realized PnL {realized:+.2f} USDT, fees {fees:.2f} USDT",
        f"open positions: {', '.join(f'{p.side} {p.coin}' for p in state.positions.values()) or 'none'}",
        f"LLM spend: {state.llm.spent(day).cost_usd:.2f} USD",
    ]
    if state.paused:
        lines.append(f"PAUSED by {(state.paused_by or PausedBy.USER).who}: {state.pause_reason}")
    return Event(
        key=f"summary:{day}",
        kind=EventKind.DAILY_SUMMARY,
        level=Level.INFO,
        title=f"bot {state.mode}: daily summary {day}",
        body="\n".join(lines),
    )


def send_summary(settings: Settings, *, replay: bool, now: datetime, day: str | None = None) -> tuple[Event, bool]:
    """Build and send the summary once per day; the bool says whether it was sent now.
    The day defaults to today: the simulated one in replay. A summary no URL accepted is
    not marked sent (DeliveryError), so the next run sends it."""
    if not settings.notify.urls:
        raise ConfigError("no notification URLs: set notify.urls (or BOT_NOTIFY__URLS in .env) to use notify-summary")
    var = settings.run_dir(replay=replay)
    if not (var / "state.json").exists():
        raise ConfigError(f"no state in {var} yet: run `bot tick{' --dry-run --replay' if replay else ''}` first")
    with locked_state(settings, replay=replay, now=now) as state:
        today = state.last_run_at if replay and state.last_run_at else now
        event = daily_summary(state, Journal(var / "journal.jsonl"), day=day or today.date().isoformat())
        fresh = claim([event], state)
    if fresh and not notifier_for(settings).send(fresh):
        with locked_state(settings, replay=replay, now=now) as state:
            state.notified = [key for key in state.notified if key != event.key]
        raise DeliveryError(
            f"the summary for {event.key.removeprefix('summary:')} was not delivered: every URL in notify.urls failed "
            f"(see `notify_failed` in {settings.log_file(replay=replay)}); it is not marked sent, run the command again"
        )
    return event, bool(fresh)
