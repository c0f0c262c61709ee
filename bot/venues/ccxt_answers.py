"""Pure readers of ccxt's unified structures (positions, orders, trades) for the live broker."""

from __future__ import annotations

from typing import Any

from bot.exchange_models import ExchangeOrder, ExchangePosition
from bot.models import Side


def positions_from(rows: list[dict[str, Any]], markets: dict[str, dict[str, Any]]) -> dict[str, ExchangePosition]:
    """Open positions by base coin; empty rows and unknown markets are skipped."""
    result = {}
    for row in rows:
        market = markets.get(row.get("symbol") or "")
        if market is None or row.get("side") not in ("long", "short"):
            continue
        amount = float(row.get("contracts") or 0) * float(market.get("contractSize") or 1)
        if amount <= 0:
            continue
        result[market["base"]] = ExchangePosition(
            coin=market["base"],
            side=Side(row["side"]),
            amount=amount,
            entry_price=float(row.get("entryPrice") or 0),
            unrealized_pnl_usd=float(row.get("unrealizedPnl") or 0),
            margin_usd=float(row.get("collateral") or row.get("initialMargin") or 0),
            liquidation_price=float(row["liquidationPrice"]) if row.get("liquidationPrice") else None,
        )
    return result


def orders_from(rows: list[dict[str, Any]], markets: dict[str, dict[str, Any]]) -> list[ExchangeOrder]:
    """Open orders; a trigger order is a take-profit when ccxt says so, else a stop-loss."""
    orders = []
    for order in rows:
        market = markets.get(order.get("symbol") or "")
        if market is None:
            continue
        kind = "take_profit" if order.get("takeProfitPrice") else "stop_loss" if order.get("triggerPrice") else str(order.get("type"))
        orders.append(
            ExchangeOrder(
                client_order_id=order.get("clientOrderId") or str(order.get("id")),
                coin=market["base"],
                side=order["side"],
                kind=kind,
                amount=float(order.get("amount") or 0),
                trigger_price=order.get("triggerPrice"),
                reduce_only=bool(order.get("reduceOnly")),
            )
        )
    return orders


def fees_of(trades: list[dict[str, Any]]) -> float:
    return sum(float((trade.get("fee") or {}).get("cost") or 0) for trade in trades)


def closing_trades(trades: list[dict[str, Any]], side: Side) -> tuple[float, float, float]:
    """Amount, volume-weighted price and fees of the trades that reduce a ``side`` position."""
    closing = [trade for trade in trades if trade.get("side") == ("sell" if side is Side.LONG else "buy")]
    amount = sum(float(trade["amount"]) for trade in closing)
    if amount <= 0:
        return 0.0, 0.0, 0.0
    price = sum(float(trade["amount"]) * float(trade["price"]) for trade in closing) / amount
    return amount, price, fees_of(closing)
