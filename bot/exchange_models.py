"""What the live broker keeps of the exchange between ticks: the orders it wrote ahead
before sending them, and the account as the exchange last showed it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from bot.models import OrderTerms, Position, Side, StrictModel


class IntentKind(StrEnum):
    ENTRY = "entry"  # market order opening a position
    STOP_LOSS = "stop_loss"  # reduce-only trigger order
    TAKE_PROFIT = "take_profit"  # reduce-only trigger order
    CLOSE = "close"  # reduce-only market order for a CLOSE decision
    EXIT = "exit"  # reduce-only market order closing a position no stop could protect
    FEE = "fee"  # not an order: a booked fill whose fee the exchange's trades did not tell yet


class OrderIntent(OrderTerms):
    """An order the live broker saved to state BEFORE sending it (write-ahead).

    It stays in ``BotState.pending_intents`` until its outcome is recorded; after a crash
    the next tick looks it up on the exchange by ``client_order_id`` and finishes or drops it.
    An entry's terms (``OrderTerms``: its exit plan, its bracket) apply once it fills.
    """

    kind: IntentKind
    client_order_id: str
    coin: str
    symbol: str
    side: Side  # the position side it opens, or closes / protects when reduce-only
    amount: float
    reference_price: float
    leverage: float = 1.0
    trigger_price: float | None = None  # stop-loss / take-profit orders
    created_at: datetime
    order_id: str | None = None  # the exchange's id of the order (a FEE intent reads its trades by it)

    @property
    def reduce_only(self) -> bool:
        return self.kind is not IntentKind.ENTRY

    @property
    def conditional(self) -> bool:
        return self.kind in (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT)


class ExchangePosition(StrictModel):
    coin: str
    side: Side
    amount: float
    entry_price: float
    unrealized_pnl_usd: float = 0.0
    margin_usd: float = 0.0
    liquidation_price: float | None = None


class ExchangeOrder(StrictModel):
    client_order_id: str
    coin: str
    side: str  # buy | sell
    kind: str  # stop_loss | take_profit | market | limit ...
    amount: float
    trigger_price: float | None = None
    reduce_only: bool = False


class ExchangeView(StrictModel):
    """The exchange's account as the live broker last saw it (what `bot status` shows)."""

    as_of: datetime
    cash_usd: float
    equity_usd: float
    positions: list[ExchangePosition] = Field(default_factory=list)
    open_orders: list[ExchangeOrder] = Field(default_factory=list)

    def disagreements(self, positions: dict[str, Position]) -> list[str]:
        """Where the bot's positions and the exchange differ: each line says what is off."""
        seen = {position.coin: position for position in self.positions}
        orders = {order.client_order_id for order in self.open_orders}
        lines = []
        for coin, position in positions.items():
            live = seen.get(coin)
            if live is None:
                lines.append(f"{coin}: the bot holds a {position.side} {position.amount:g} the exchange does not show")
                continue
            if live.side != position.side or abs(live.amount - position.amount) > 1e-9 * max(1.0, position.amount):
                lines.append(
                    f"{coin}: the bot holds {position.side} {position.amount:g}, the exchange {live.side} "
                    f"{live.amount:g}"
                )
            if position.stop_loss is not None and position.stop_order_id not in orders:
                lines.append(f"{coin}: no open stop-loss order on the exchange")
        for coin, live in seen.items():
            if coin not in positions:
                lines.append(f"{coin}: the exchange shows a {live.side} {live.amount:g} the bot does not hold")
        return lines
