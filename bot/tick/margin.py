"""Isolated-margin arithmetic shared by the risk step and the paper broker.

Binance-style isolated margin on a linear (USDT) perpetual, one position per coin:
the position is liquidated when its margin plus unrealized PnL falls to the
maintenance margin, ``MMR x Q x P - cum``, where the maintenance-margin rate MMR and the
maintenance amount ``cum`` are those of the leverage bracket (tier) the position's
notional falls in. Solving ``WB + Q (P - E) = MMR Q P - cum`` for a long gives Binance's
``LP = (WB + cum - side Q E) / (Q MMR - side Q)`` (side +1 long, -1 short).

The brackets (``MarketInfo.tiers``) come from the exchange live (ccxt
``fetch_leverage_tiers``) or from the bundled table in bot/data/markets.json.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.models import MarketInfo, Position, Side


class Bracket(NamedTuple):
    """One leverage bracket: up to ``cap_usd`` of notional, at most ``max_leverage``."""

    cap_usd: float
    maintenance_margin_rate: float
    maintenance_amount_usd: float  # Binance's ``cum``
    max_leverage: float


def with_maintenance_amounts(brackets: list[tuple[float, float, float]]) -> list[tuple[float, float, float, float]]:
    """(cap, MMR, max leverage) brackets with each one's maintenance amount added.

    The maintenance margin is continuous where brackets meet, so
    ``cum_n = cum_(n-1) + floor_n x (MMR_n - MMR_(n-1))`` with the floor the previous cap
    (Binance BTCUSDT: 50,000 x (0.5 % - 0.4 %) = 50, then 50 + 250,000 x 0.5 % = 1,300).
    """
    tiers, cum, floor, previous_rate = [], 0.0, 0.0, None
    for cap, rate, max_leverage in brackets:
        if previous_rate is not None:
            cum += floor * (rate - previous_rate)
        tiers.append((float(cap), float(rate), cum, float(max_leverage)))
        floor, previous_rate = float(cap), rate
    return tiers


def bracket_for(info: MarketInfo, notional_usd: float) -> Bracket:
    """The bracket a position of ``notional_usd`` falls in (the last one beyond every cap);
    a market without a table has one flat bracket at its ``maintenance_margin_rate``."""
    tiers = [Bracket(*tier) for tier in info.tiers]
    if not tiers:
        return Bracket(float("inf"), info.maintenance_margin_rate, 0.0, info.max_leverage)
    return next((tier for tier in tiers if notional_usd <= tier.cap_usd), tiers[-1])


def max_notional_at(info: MarketInfo, leverage: float) -> float:
    """The largest notional the brackets allow at ``leverage`` (inf when the last one does)."""
    cap = 0.0
    for tier in [Bracket(*tier) for tier in info.tiers]:
        if tier.max_leverage < leverage:
            return cap
        cap = tier.cap_usd
    return float("inf")


def liquidation_price(
    *,
    side: Side,
    amount: float,
    entry_price: float,
    margin_usd: float,
    maintenance_margin_rate: float,
    maintenance_amount_usd: float = 0.0,
) -> float | None:
    """The price at which the position is liquidated; None when it never is (a 1x long)."""
    if amount <= 0:
        return None
    direction = 1.0 if side is Side.LONG else -1.0
    price = (margin_usd + maintenance_amount_usd - direction * amount * entry_price) / (
        amount * maintenance_margin_rate - direction * amount
    )
    return price if price > 0 else None


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
    maintenance_margin_rate: float,
    maintenance_amount_usd: float,
) -> Position:
    """The position after adding ``amount`` at ``price`` in tick ``tick_id`` (paper and live
    brokers alike): the entry is averaged, the margin added, the new exit plan replaces the old one,
    and the bracket is the one risk planned for the combined notional."""
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
            "maintenance_margin_rate": maintenance_margin_rate,
            "maintenance_amount_usd": maintenance_amount_usd,
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
        maintenance_amount_usd=position.maintenance_amount_usd,
    )
    return position
