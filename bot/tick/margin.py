"""Isolated-margin arithmetic shared by the risk step and the paper broker.

Binance-style isolated margin on a linear (USDT) perpetual, one position per coin:
the position is liquidated when its margin plus unrealized PnL falls to the
maintenance margin, ``maintenance_margin_rate`` x notional at the current price.
Solving ``margin + Q (P - E) = mmr Q P`` for a long (``margin + Q (E - P)`` for a short)
gives the prices below. Binance also subtracts a per-tier "maintenance amount"; tier 1
has none, so the bot's positions (well inside tier 1) are priced exactly.
"""

from __future__ import annotations

from bot.models import Position, Side


def liquidation_price(*, side: Side, amount: float, entry_price: float, margin_usd: float, maintenance_margin_rate: float) -> float | None:
    """The price at which the position is liquidated; None when it never is (a 1x long)."""
    if amount <= 0:
        return None
    if side is Side.LONG:
        price = (amount * entry_price - margin_usd) / (amount * (1.0 - maintenance_margin_rate))
        return price if price > 0 else None
    return (amount * entry_price + margin_usd) / (amount * (1.0 + maintenance_margin_rate))


def bankruptcy_price(*, side: Side, amount: float, entry_price: float, margin_usd: float) -> float:
    """The price at which the loss equals the whole margin: where a liquidation is booked."""
    per_unit = margin_usd / amount
    return entry_price - per_unit if side is Side.LONG else entry_price + per_unit


def add_to(
    position: Position,
    *,
    amount: float,
    price: float,
    margin_usd: float,
    stop_loss: float | None,
    take_profit: float | None,
    invalidation: str,
    tick_id: str,
) -> Position:
    """The position after adding ``amount`` at ``price`` in tick ``tick_id`` (paper and live
    brokers alike): the entry is averaged, the margin added, the new exit plan replaces the old one."""
    total = position.amount + amount
    return position.model_copy(
        update={
            "amount": total,
            "entry_price": (position.amount * position.entry_price + amount * price) / total,
            "margin_usd": position.margin_usd + margin_usd,
            "stop_loss": stop_loss or position.stop_loss,
            "take_profit": take_profit or position.take_profit,
            "invalidation": invalidation or position.invalidation,
            "entry_tick_id": tick_id,
        }
    )


def with_liquidation(position: Position) -> Position:
    """``position`` with its isolated-margin liquidation price set from its own fields."""
    position.liquidation_price = liquidation_price(
        side=position.side,
        amount=position.amount,
        entry_price=position.entry_price,
        margin_usd=position.margin_usd,
        maintenance_margin_rate=position.maintenance_margin_rate,
    )
    return position
