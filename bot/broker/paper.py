"""Paper broker: a simulated USDT-margined perpetual account, no exchange involved.

Fill model: a market order fills in full, at once, at the tick's last price moved
against the order by ``paper.slippage_pct`` (a buy fills higher, a sell lower). Each
fill pays the taker fee, ``paper.taker_fee_pct`` of its notional, from cash. An entry
locks notional / leverage as isolated margin; a close releases it and books the PnL
(before fees) into cash.
"""

from __future__ import annotations

from datetime import datetime

from bot.broker import Book
from bot.config import PaperSettings
from bot.models import Fill, OrderPlan, Position, Side, Snapshot


class PaperBroker:
    def __init__(self, settings: PaperSettings) -> None:
        self.fee_rate = settings.taker_fee_pct / 100.0
        self.slippage = settings.slippage_pct / 100.0

    def fill_price(self, price: float, *, buying: bool) -> float:
        return price * (1.0 + self.slippage) if buying else price * (1.0 - self.slippage)

    async def settle(self, *, book: Book, snapshot: Snapshot, now: datetime) -> list[Fill]:
        return []  # stop-loss / take-profit triggers between ticks arrive with the risk-manager issue

    async def execute(self, plans: list[OrderPlan], *, book: Book, prices: dict[str, float], now: datetime) -> list[Fill]:
        return [self._fill(plan, book=book, price=prices.get(plan.coin, plan.reference_price), now=now) for plan in plans]

    def _fill(self, plan: OrderPlan, *, book: Book, price: float, now: datetime) -> Fill:
        # Opening a long or closing a short buys; the other two sell.
        buying = (plan.side is Side.LONG) != plan.reduce_only
        fill_price = self.fill_price(price, buying=buying)
        fee = plan.amount * fill_price * self.fee_rate
        realized = 0.0
        if plan.reduce_only:
            position = book.positions.pop(plan.coin)
            realized = position.unrealized_pnl_usd(fill_price)
        else:
            book.positions[plan.coin] = Position(
                coin=plan.coin,
                symbol=plan.symbol,
                side=plan.side,
                amount=plan.amount,
                entry_price=fill_price,
                leverage=plan.leverage,
                margin_usd=plan.amount * fill_price / plan.leverage,
                opened_at=now,
                stop_loss=plan.stop_loss,
                take_profit=plan.take_profit,
                invalidation=plan.invalidation,
            )
        book.cash_usd += realized - fee
        book.fees_paid_usd += fee
        book.realized_pnl_usd += realized
        return Fill(
            coin=plan.coin,
            side=plan.side,
            amount=plan.amount,
            price=fill_price,
            fee_usd=fee,
            realized_pnl_usd=realized,
            reduce_only=plan.reduce_only,
            reason="decision",
            client_order_id=plan.client_order_id,
            at=now,
        )
