"""What the risk step remembers: the day rolls, the loss limit latches, stops and entries noted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import RiskSettings
from bot.models import (
    Fill,
    FillReason,
    MarketInfo,
    RiskMemory,
    Side,
)
from bot.tick.risk import remember

BTC = MarketInfo(symbol="BTC/USDT:USDT", amount_step=0.001, price_step=0.1, min_amount=0.001, min_notional_usd=100)
NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
DEFAULT_RISK = RiskSettings()
TODAY = NOW.date()


# -- memory ------------------------------------------------------------------------------


def _fill(reason, at, *, reduce_only=True):
    return Fill(
        coin="BTC",
        side=Side.LONG,
        amount=0.01,
        price=1,
        fee_usd=0,
        reduce_only=reduce_only,
        reason=reason,
        client_order_id="x",
        at=at,
    )


def test_memory_rolls_the_day_latches_the_loss_limit_and_notes_stops_and_entries():
    memory = remember(RiskMemory(), equity_usd=10_000, fills=[], now=NOW, settings=DEFAULT_RISK)
    assert memory.day == TODAY and memory.day_start_equity_usd == 10_000 and memory.halted_day is None
    fills = [
        _fill(FillReason.STOP_LOSS, NOW - timedelta(minutes=2)),
        _fill(FillReason.DECISION, NOW, reduce_only=False),
        _fill(FillReason.DECISION, NOW),
    ]
    memory = remember(memory, equity_usd=9_500, fills=fills, now=NOW, settings=DEFAULT_RISK)  # exactly 5 % down
    assert memory.halted_day == TODAY and memory.day_start_equity_usd == 10_000
    assert memory.stop_losses == {"BTC": NOW - timedelta(minutes=2)} and memory.entries == [NOW]
    later = remember(
        memory, equity_usd=10_000, fills=[], now=NOW + timedelta(hours=12, minutes=3), settings=DEFAULT_RISK
    )
    assert later.day == TODAY + timedelta(days=1) and later.day_start_equity_usd == 10_000
    assert later.halted_day == TODAY  # yesterday's halt no longer applies
    assert later.stop_losses == {} and later.entries == [NOW]  # cooldown over, entry still within 24 h
