"""Rules for running unattended: backoff after failed ticks, self-pause, trading windows.

Functions of the state, the tick's ``now`` and ``OpsSettings``; the engine and the CLI
call them. Nothing here reads a clock; only ``skip_run`` writes, through the store it is
handed (it lives here, not in the engine, so a skipped cron run imports nothing heavy).

- Backoff: the n-th failed tick in a row sets ``backoff_until = now +
  recovery_backoff_seconds x 2^(n-1)``, capped at ``max_backoff_seconds``. A run before
  then is skipped at once (no market data, no orders: exit code 6).
- Self-pause: the ``max_consecutive_errors``-th failure in a row pauses the bot, as
  ``bot pause`` would; only ``bot resume`` lifts it.
- Paused or outside the trading windows: the tick still runs and manages what is open
  (settlement, stop-loss / take-profit / liquidation, CLOSE decisions), but decisions
  that would open or add to a position are refused before the risk step.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.clock import tick_id_for
from bot.config import OpsSettings
from bot.models import Outcome, TickReport
from bot.ops.state import BotState, PausedBy

log = logging.getLogger(__name__)  # stdlib, not structlog: a skipped run stays light (same handlers)


class _Store(Protocol):
    def save(self, state: BotState) -> None: ...


class OpsEvent(StrEnum):
    TICK_FAILED = "tick_failed"
    EMERGENCY_PAUSE = "emergency_pause"


def backoff_seconds(failures: int, ops: OpsSettings) -> int:
    if failures <= 0:
        return 0
    return min(ops.recovery_backoff_seconds * 2 ** min(failures - 1, 30), ops.max_backoff_seconds)


def skip_reason(state: BotState, now: datetime) -> str | None:
    """Why this run must not tick at all (inside the backoff window), else None."""
    if state.backoff_until is None or now >= state.backoff_until:
        return None
    last = f" (last: {state.last_message})" if state.last_message else ""
    return (
        f"backing off after {state.consecutive_errors} failed tick(s) in a row until "
        f"{state.backoff_until:%Y-%m-%d %H:%M:%S} UTC{last}; `bot resume` retries at the next run"
    )


def opening_block(state: BotState, now: datetime, ops: OpsSettings) -> str | None:
    """Why new positions may not open this tick (paused, outside the windows), else None."""
    if state.paused:
        return f"paused by {(state.paused_by or PausedBy.USER).who}: {state.pause_reason or 'no reason given'}"
    windows = ops.windows()
    if windows and not any(window.contains(now.weekday(), now.hour) for window in windows):
        return f"outside the trading windows ({', '.join(ops.trading_windows)} UTC)"
    return None


def pause(state: BotState, *, by: PausedBy, reason: str, now: datetime) -> None:
    state.paused = True
    state.paused_by = by
    state.pause_reason = reason
    state.paused_at = now


def resume(state: BotState) -> None:
    """Lift a pause and any backoff: the owner has looked, the next run trades again."""
    state.paused = False
    state.paused_by = None
    state.pause_reason = ""
    state.paused_at = None
    state.stop_requested = False
    state.consecutive_errors = 0
    state.backoff_until = None


def record_outcome(
    state: BotState, *, outcome: Outcome, message: str, now: datetime, ops: OpsSettings
) -> list[OpsEvent]:
    """Update the failure counter, backoff and self-pause after a tick; the events to notify."""
    if outcome is not Outcome.FAILED:
        if state.consecutive_errors or state.backoff_until is not None:  # most ticks: nothing to reset
            state.consecutive_errors = 0
            state.backoff_until = None
        return []
    failures = state.consecutive_errors + 1
    state.consecutive_errors = failures
    wait = backoff_seconds(failures, ops)
    state.backoff_until = now + timedelta(seconds=wait) if wait else None
    events = [OpsEvent.TICK_FAILED]
    if failures >= ops.max_consecutive_errors and not state.paused:
        pause(state, by=PausedBy.AUTO, reason=f"{failures} failed ticks in a row, last: {message}", now=now)
        events.append(OpsEvent.EMERGENCY_PAUSE)
    return events


def skip_run(
    store: _Store, state: BotState, now: datetime, *, reason: str, mode: str, strategy: str, dry_run: bool
) -> TickReport:
    """A run inside the backoff window: no market call, no journal line; state notes the skip."""
    state.last_skipped_at = now
    store.save(state)
    log.info("tick_skipped: %s", reason)  # the CLI prints the reason once, on stdout; the log file keeps it
    return TickReport(
        tick_id=tick_id_for(now),
        tick=state.tick,
        mode=mode,
        dry_run=dry_run,
        as_of=now,
        strategy=strategy,
        outcome=Outcome.SKIPPED,
        message=reason,
        paused=state.paused,
    )
