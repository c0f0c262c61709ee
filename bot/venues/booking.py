"""Booking a fill into a book: the arithmetic the paper and the live broker share.

Pure functions of the book (``Book``: cash, fees, realized PnL, positions) and a fill the
caller has priced (the paper broker from the tick's price and its slippage, the live broker
from the exchange's answer); no exchange, no clock. One position per coin, isolated margin:

- An entry opens a position, or adds to the one held on its side: the amounts add, the
  entry price is their amount-weighted mean, the fill's margin (notional / leverage) adds,
  and the order's terms (``OrderTerms``: exit plan, bracket) replace the old ones
  (``margin.add_to``). Its fee leaves cash at once.
- A close of ``amount`` takes that share of the position (at most all of it), releases the
  same share of its margin, and books ``direction x (price - entry) x amount`` (before fees)
  into cash and realized PnL; its fee leaves cash. A liquidation loses that share of the
  margin (the bankruptcy price) and the caller charges no fee.
- A flip (long to short or back) is two fills: a close of the whole position, then an entry
  on the other side. Neither broker books an entry against a position on the other side
  (``opposite``): it would net out the position it was meant to replace.

A venue's amount step (``step``, 0 for none) keeps sums of amounts on its grid: 0.028 + 0.025
is 0.053, not 0.053000000000000005.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import tick_id_for
from bot.exchange_models import OrderIntent
from bot.models import Fill, FillReason, OrderPlan, Position, Side
from bot.tick.margin import add_to, with_liquidation
from bot.tick.precision import round_to_step
from bot.tick.protocols import Book

__all__ = ["book_close", "book_entry", "close_share", "fee_usd", "opposite", "realized_pnl_usd"]


def fee_usd(*, amount: float, price: float, rate: float) -> float:
    """A taker fee: ``rate`` of the fill's notional."""
    return amount * price * rate


def opposite(held: Position | None, side: Side) -> bool:
    """An entry on ``side`` would meet a position held the other way (a flip whose close is missing)."""
    return held is not None and held.side is not side


def close_share(position: Position, amount: float) -> float:
    """The part of ``position`` a close of ``amount`` takes: 1 for all of it, never more."""
    return min(1.0, amount / position.amount)


def realized_pnl_usd(position: Position, *, amount: float, price: float, liquidation: bool = False) -> float:
    """The PnL a close of ``amount`` at ``price`` books, before fees. A liquidation is booked at
    the bankruptcy price: its share of the margin, all lost."""
    if liquidation:
        return -position.margin_usd * close_share(position, amount)
    direction = 1.0 if position.side is Side.LONG else -1.0
    return direction * (price - position.entry_price) * min(amount, position.amount)


def book_entry(
    book: Book,
    order: OrderPlan | OrderIntent,
    *,
    amount: float,
    price: float,
    fee_usd: float,
    client_order_id: str,
    opened_at: datetime,
    at: datetime,
    step: float = 0.0,
    settled_until: datetime | None = None,
) -> Fill:
    """Open or add to ``order``'s coin with ``amount`` filled at ``price`` (``order`` is an
    ``OrderPlan`` or an entry ``OrderIntent``); the fee leaves cash. ``opened_at`` is when the
    order was decided (its tick id guards a re-run), ``at`` when the fill is booked."""
    margin = amount * price / order.leverage
    held = book.positions.get(order.coin)
    if held is None:
        position = Position(
            coin=order.coin,
            symbol=order.symbol,
            side=order.side,
            amount=amount,
            entry_price=price,
            leverage=order.leverage,
            margin_usd=margin,
            opened_at=opened_at,
            entry_tick_id=tick_id_for(opened_at),
            settled_until=settled_until,
            **order.order_terms(),
        )
    else:  # an add
        position = add_to(
            held, amount=amount, price=price, margin_usd=margin, tick_id=tick_id_for(opened_at), **order.order_terms()
        )
        position.amount = _stepped(position.amount, step)
    book.positions[order.coin] = with_liquidation(position)
    book.cash_usd -= fee_usd
    book.fees_paid_usd += fee_usd
    return Fill(
        coin=order.coin,
        side=order.side,
        amount=amount,
        price=price,
        fee_usd=fee_usd,
        client_order_id=client_order_id,
        at=at,
    )


def book_close(
    book: Book,
    coin: str,
    *,
    amount: float,
    price: float,
    fee_usd: float,
    reason: FillReason,
    client_order_id: str,
    at: datetime,
    step: float = 0.0,
) -> Fill:
    """Close ``amount`` of the position in ``coin`` at ``price``: its PnL and fee into cash, the
    rest of the position (if any) keeping its entry price and the rest of its margin."""
    position = book.positions[coin]
    share = close_share(position, amount)
    realized = realized_pnl_usd(position, amount=amount, price=price, liquidation=reason is FillReason.LIQUIDATION)
    if share >= 1.0 - 1e-12:
        del book.positions[coin]
    else:
        book.positions[coin] = position.model_copy(
            update={"amount": _stepped(position.amount - amount, step), "margin_usd": position.margin_usd * (1 - share)}
        )
    book.cash_usd += realized - fee_usd
    book.fees_paid_usd += fee_usd
    book.realized_pnl_usd += realized
    return Fill(
        coin=coin,
        side=position.side,
        amount=amount,
        price=price,
        fee_usd=fee_usd,
        realized_pnl_usd=realized,
        reduce_only=True,
        reason=reason,
        client_order_id=client_order_id,
        at=at,
    )


def _stepped(amount: float, step: float) -> float:
    return round_to_step(amount, step) if step > 0 else amount
