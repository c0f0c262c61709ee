"""Pure arithmetic over the journal's ticks: the equity curve with its drawdown and the
buy-and-hold basket, the health verdict. No I/O: ``bot.serve.deps`` hands in the data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import TICK
from bot.models import Outcome
from bot.ops.state import BotState
from bot.serve.schemas import EquityCurve, EquityPoint, Health

CADENCE_SECONDS = int(TICK.total_seconds())  # cron's */3
STALE_AFTER_SECONDS = 2 * CADENCE_SECONDS  # one missed run is tolerated, two are not


@dataclass(frozen=True, slots=True)
class TickPoint:
    """What the server keeps of one journal line for the curve and the counters."""

    tick: int
    as_of: datetime
    outcome: str
    equity_usd: float | None  # None when the tick failed before valuing the book
    prices: dict[str, float] = field(default_factory=dict)


def equity_curve(ticks: list[TickPoint], *, initial_equity_usd: float, max_points: int) -> EquityCurve:
    """Equity per valued tick, its fall below the running peak, and an equal-weight basket
    of the coins priced at the first tick that has prices, bought with that tick's equity
    (each coin then valued at its last known price). Thinned evenly to ``max_points``."""
    valued = [tick for tick in ticks if tick.equity_usd is not None]
    rows: list[tuple[float, float | None]] = []  # (drawdown %, basket value) per valued tick
    peak = initial_equity_usd
    worst = 0.0
    basket: dict[str, float] = {}
    capital = 0.0
    last_prices: dict[str, float] = {}
    for tick in valued:
        last_prices.update(tick.prices)
        if not basket and tick.prices:
            basket, capital = dict(tick.prices), tick.equity_usd
        peak = max(peak, tick.equity_usd)
        drawdown = (1.0 - tick.equity_usd / peak) * 100.0 if peak > 0 else 0.0
        worst = max(worst, drawdown)
        rows.append(
            (
                drawdown,
                capital * sum(last_prices[coin] / price for coin, price in basket.items()) / len(basket)
                if basket
                else None,
            )
        )
    points = [
        EquityPoint(
            as_of=valued[i].as_of,
            tick=valued[i].tick,
            equity_usd=valued[i].equity_usd,
            drawdown_pct=rows[i][0],
            buy_hold_usd=rows[i][1],
        )
        for i in _kept(len(valued), max_points)
    ]  # models only for the points shown: a long journal has tens of thousands of ticks
    return EquityCurve(
        points=points,
        total_ticks=len(valued),
        initial_equity_usd=initial_equity_usd,
        max_drawdown_pct=worst,
        buy_hold_coins=sorted(basket),
    )


def _kept(count: int, most: int) -> list[int]:
    """Indices of every ``step``-th point, the last one always included."""
    if count <= most:
        return list(range(count))
    kept = list(range(0, count, math.ceil(count / most)))
    return kept if kept[-1] == count - 1 else [*kept[: most - 1], count - 1]


def health_of(state: BotState | None, *, problem: str, age_seconds: float | None, tick_running: bool) -> Health:
    """200 or 503 for an uptime check: a recorded tick, recent (``age_seconds`` is wall time
    since it was recorded), not failed. Paused is healthy: the bot is doing what it was told.
    Public, so it says nothing an outsider could use: no pid, no path, no error text (a
    ``problem`` reading the state only turns it to "state unreadable"; `bot status` says why)."""
    if state is None:
        return Health(ok=False, status="state unreadable" if problem else "no ticks yet", tick_running=tick_running)
    seen = dict(
        mode=state.mode,
        last_tick_at=state.last_tick_at,
        last_outcome=state.last_outcome,
        consecutive_errors=state.consecutive_errors,
        paused=state.paused,
        tick_running=tick_running,
        last_tick_age_seconds=age_seconds,
    )
    if state.last_tick_at is None or age_seconds is None:
        return Health(ok=False, status="no ticks yet", **seen)
    if age_seconds > STALE_AFTER_SECONDS:
        return Health(
            ok=False,
            status="stale",
            message=f"no tick for {age_seconds:.0f} s (cron runs one every {CADENCE_SECONDS} s)",
            **seen,
        )
    if state.last_outcome is Outcome.FAILED or state.consecutive_errors:
        return Health(ok=False, status="failed", message=f"{state.consecutive_errors} failed ticks in a row", **seen)
    return Health(ok=True, status="paused" if state.paused else "ok", **seen)
