"""The arena's test helpers: the replay's first tick on the bundled sample and a ``TickReport``
built from an equity, for the leaderboard and the rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import Account, Outcome, TickReport, Usage

FIRST = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)  # the replay's first tick on the bundled sample


# ----- the leaderboard, by hand -------------------------------------------------------------


def _report(minute: int, equity: float, *, fills=(), funding=(), cost_usd: float = 0.0, prices=None) -> TickReport:
    at = FIRST + timedelta(minutes=3 * minute)
    account = Account(
        cash_usd=equity, equity_usd=equity, margin_used_usd=0.0, unrealized_pnl_usd=0.0, available_usd=equity
    )
    return TickReport(
        tick_id=str(minute),
        tick=minute,
        mode="paper",
        dry_run=True,
        as_of=at,
        strategy="x",
        outcome=Outcome.OK,
        account=account,
        fills=list(fills),
        funding=list(funding),
        usage=Usage(calls=1 if cost_usd else 0, cost_usd=cost_usd),
        prices=prices or {},
    )
