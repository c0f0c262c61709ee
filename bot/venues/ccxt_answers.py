"""Readers of ccxt's unified structures (positions, orders, trades, balance) for the live
broker, and the edge where each answer is checked before it can change the book.

ccxt makes an empty or half-filled structure of an answer it could not read (a truncated
200 gives no positions, an order with id and status None, a balance of 0). Each reader
here refuses what a decision would need and is missing: it raises ccxt's ``BadResponse``,
which the broker's calls treat as a transient error of that call (asked again within the
tick's retries, then the tick fails), never as an empty truth.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

from bot.exchange_models import ExchangeOrder, ExchangePosition
from bot.models import Side
from bot.venues.ccxt_lean import lean_ccxt
from bot.venues.profiles import is_bot_order

ORDER_STATUSES = {"open", "closed", "canceled", "canceling", "expired", "rejected"}


def _malformed(what: str) -> NoReturn:
    ccxt = lean_ccxt()

    raise ccxt.BadResponse(f"malformed answer: {what}")


def _number(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        _malformed(f"{what} is {value!r}, not a number")
    if not math.isfinite(number):
        _malformed(f"{what} is {value!r}")
    return number


def _rows(rows: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        _malformed(f"{what} is {type(rows).__name__}, not a list of objects")
    return rows


def positions_from(rows: Any, markets: dict[str, dict[str, Any]]) -> dict[str, ExchangePosition]:
    """Open positions by base coin; flat rows and unknown markets are skipped, a row of a
    known market without its size, side or entry price is malformed."""
    result = {}
    for row in _rows(rows, "positions"):
        market = markets.get(row.get("symbol") or "")
        if market is None:
            continue
        contracts = _number(row.get("contracts"), f"{market['base']} position size")
        amount = abs(contracts) * float(market.get("contractSize") or 1)
        if amount <= 0:
            continue
        if row.get("side") not in ("long", "short"):
            _malformed(f"{market['base']} position of {amount:g} has side {row.get('side')!r}")
        result[market["base"]] = ExchangePosition(
            coin=market["base"],
            side=Side(row["side"]),
            amount=amount,
            entry_price=_number(row.get("entryPrice"), f"{market['base']} entry price"),
            unrealized_pnl_usd=float(row.get("unrealizedPnl") or 0),
            # the margin the position holds; ccxt's collateral is the cross wallet on Binance and adds the
            # unrealized PnL on Bybit and Hyperliquid (ccxt's recorded answers: tests/fixtures/ccxt_recorded)
            margin_usd=float(row.get("initialMargin") or row.get("collateral") or 0),
            liquidation_price=float(row["liquidationPrice"]) if row.get("liquidationPrice") else None,
        )
    return result


def orders_from(rows: Any, markets: dict[str, dict[str, Any]]) -> list[ExchangeOrder]:
    """Open orders; a trigger order is a take-profit when ccxt says so, else a stop-loss."""
    orders = []
    for order in _rows(rows, "open orders"):
        market = markets.get(order.get("symbol") or "")
        if market is None:
            continue
        cid = order.get("clientOrderId") or order.get("id")
        if cid is None or order.get("side") not in ("buy", "sell"):
            _malformed(f"a {market['base']} open order with id {cid!r} and side {order.get('side')!r}")
        kind = (
            "take_profit"
            if order.get("takeProfitPrice")
            else "stop_loss"
            if order.get("triggerPrice")
            else str(order.get("type"))
        )
        orders.append(
            ExchangeOrder(
                client_order_id=str(cid),
                coin=market["base"],
                side=order["side"],
                kind=kind,
                # the bot's own orders must say their size; the owner's (a closePosition stop) may not
                amount=_number(order.get("amount"), f"{market['base']} open order {cid} amount")
                if is_bot_order(str(cid))
                else float(order.get("amount") or 0),
                trigger_price=order.get("triggerPrice"),
                reduce_only=bool(order.get("reduceOnly")),
            )
        )
    return orders


def checked_order(order: Any, client_order_id: str) -> dict[str, Any]:
    """An order answer (placed or looked up) the broker may act on: the order it asked for,
    with an id, a known status and a number for what filled."""
    if not isinstance(order, dict):
        _malformed(f"order {client_order_id} is {type(order).__name__}")
    if order.get("id") is None or order.get("status") not in ORDER_STATUSES:
        _malformed(f"order {client_order_id} with id {order.get('id')!r} and status {order.get('status')!r}")
    if order.get("clientOrderId") not in (None, client_order_id):
        _malformed(f"asked for order {client_order_id}, got {order.get('clientOrderId')}")
    _number(order.get("filled") or 0, f"order {client_order_id} filled amount")
    return order


def trades_from(trades: Any) -> list[dict[str, Any]]:
    for trade in _rows(trades, "trades"):
        if trade.get("side") not in ("buy", "sell"):
            _malformed(f"trade {trade.get('id')!r} has side {trade.get('side')!r}")
        _number(trade.get("amount"), f"trade {trade.get('id')} amount")
        _number(trade.get("price"), f"trade {trade.get('id')} price")
    return trades


def equity_of(balance: Any, quote: str) -> float:
    """The account's equity in ``quote`` (wallet balance plus unrealized PnL)."""
    total = (balance.get(quote) or {}).get("total") if isinstance(balance, dict) else None
    if total is None:
        _malformed(f"the balance holds no {quote} total")
    return _number(total, f"{quote} balance")


def fees_of(trades: list[dict[str, Any]]) -> float:
    return sum(float((trade.get("fee") or {}).get("cost") or 0) for trade in trades)


def closing_trades(trades: list[dict[str, Any]], side: Side) -> tuple[float, float, float]:
    """Amount, volume-weighted price and fees of the trades that reduce a ``side`` position.

    Bybit lists each funding settlement among the executions (``execType`` "Funding", the position's
    size at the mark price; ccxt's recorded bybit fetchMyTrades): it moves no position, so it is no fill."""
    closing = [
        trade
        for trade in trades
        if trade.get("side") == ("sell" if side is Side.LONG else "buy")
        and (trade.get("info") or {}).get("execType") != "Funding"
    ]
    amount = sum(float(trade["amount"]) for trade in closing)
    if amount <= 0:
        return 0.0, 0.0, 0.0
    price = sum(float(trade["amount"]) * float(trade["price"]) for trade in closing) / amount
    return amount, price, fees_of(closing)


def order_with_id(rows: Any, cid: str) -> dict | None:
    """The order with client id ``cid`` in an open-orders answer (None when it lists none)."""
    if not isinstance(rows, list):
        return checked_order(rows, cid)  # refused as malformed
    mine = [row for row in rows if isinstance(row, dict) and row.get("clientOrderId") == cid]
    return checked_order(mine[0], cid) if mine else None
