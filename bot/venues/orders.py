"""The live broker's order desk: one ccxt exchange session, the write-ahead ``send``, lookups
and cancels by client order id, booking fills into the state (the arithmetic in booking.py),
and reading what the exchange holds. ``Protection`` (protection.py) and ``CcxtBroker``
(ccxt_broker.py) are handed a desk and call only what it defines here.

The desk also keeps what one tick shares between them: its clock and prices (``begin``), the
client ids sent this tick, a count of orders sent or cancelled, and the corrections."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from bot.clock import tick_id_for
from bot.config import Settings
from bot.errors import ConfigError
from bot.exchange_models import (
    IntentKind,
    OrderIntent,
)
from bot.models import Correction, CorrectionKind, Fill, FillReason, Position, Side
from bot.ops.state import BookedFill, BotState
from bot.venues.booking import book_close, book_entry
from bot.venues.ccxt_answers import checked_order, fees_of, order_with_id, trades_from
from bot.venues.ccxt_lean import lean_ccxt
from bot.venues.exchange import create_exchange, describe, is_duplicate_id, is_transient, with_retry
from bot.venues.profiles import profile_for

log = structlog.get_logger("bot.venues.ccxt_broker")

# An order answered before it is done (Binance NEW with nothing filled, Bybit New / PartiallyFilled)
# is read back by client id at most this many times, pausing READ_PAUSE_S x the read's number first.
READ_BACKS = 3
READ_PAUSE_S = 0.2
_NOT_DONE = ("open", "canceling")

KEYS_REJECTED = (
    "the exchange rejected the API keys ({error}): check EXCHANGE_API_KEY and EXCHANGE_SECRET "
    "(environment or .env) and that the key may trade futures from this IP"
)


class SimulatedCrash(BaseException):
    """Raised by a test's checkpoint hook: like a kill, nothing after it runs."""


def no_checkpoint(name: str) -> None:
    return None


class OrderDesk:
    """Sending, looking up, cancelling and recording orders; the state it changes is the ``book`` handed in."""

    def __init__(
        self,
        settings: Settings,
        *,
        save: Callable[[BotState], None],
        checkpoint: Callable[[str], None] = no_checkpoint,
    ) -> None:
        self.settings = settings
        self.profile = profile_for(settings.exchange.id)
        self.save = save  # the book to disk (write-ahead)
        self._checkpoint = checkpoint  # tests crash the broker at named points through this
        self.exchange: Any = None
        self.now: datetime | None = None
        self.tick_id = ""
        self.prices: dict[str, float] = {}
        self.changes = 0  # orders sent or cancelled: what was read before may be stale
        # Client ids sent this tick: a reduce-only leg never reuses one, even of an order that
        # is done (a stop re-placed by reconciliation, then cancelled by a flip): a later lookup
        # by that id must find exactly one order.
        self.sent: set[str] = set()
        # An earlier run of this tick reconciled (killed, or run before in its minute): it may have sent
        # this tick's entries, so an entry's id is looked up before it is sent (``Protection.open``).
        self.rerun = False
        self.corrections: list[Correction] = []

    # -- plumbing ------------------------------------------------------------------------------
    async def aclose(self) -> None:
        if self.exchange is not None:
            await self.exchange.close()
            self.exchange = None

    def begin(self, now: datetime, prices: dict[str, float]) -> None:
        tick_id = tick_id_for(now)
        if tick_id != self.tick_id:
            self.sent.clear()
        self.now, self.tick_id, self.prices = now, tick_id, dict(prices)

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        ccxt = lean_ccxt()

        try:
            return await with_retry(function, *args, retries=self.settings.exchange.retries, **kwargs)
        except ccxt.AuthenticationError as exc:
            raise ConfigError(KEYS_REJECTED.format(error=type(exc).__name__)) from None

    async def ready(self) -> Any:
        if self.exchange is None:
            exchange = create_exchange(self.settings, credentials=True)
            try:
                await self.call(exchange.load_markets)
            except BaseException:
                await exchange.close()
                raise
            self.exchange = exchange
        return self.exchange

    def note(self, kind: CorrectionKind, coin: str, message: str, *, alert: bool = False) -> None:
        correction = Correction(kind=kind, coin=coin, message=message, alert=alert)
        self.corrections.append(correction)
        (log.error if alert else log.warning)("live_correction", kind=kind, coin=coin, message=message)

    def symbol(self, coin: str) -> str:
        quote = self.settings.trading.quote
        return f"{coin}/{quote}:{quote}"

    # -- sending and recording ------------------------------------------------------------------
    async def send(
        self, intent: OrderIntent, book: BotState, point: str, *, reject_quietly: bool = True
    ) -> dict | None:
        """Save the intent, send it, return the exchange's order; None if rejected (intent dropped).

        A transient error is retried, but only after looking the client id up: if the first
        try reached the exchange, its order is returned instead of sending a second one.
        """
        ccxt = lean_ccxt()

        book.pending_intents = [
            *(i for i in book.pending_intents if i.client_order_id != intent.client_order_id),
            intent,
        ]
        self.save(book)  # write-ahead: on disk before the exchange can act on it
        self._checkpoint(f"{point}_saved")
        attempts = self.settings.exchange.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                order = await self._create(intent)
                break
            except ccxt.BaseError as exc:
                # "duplicate client id" (Binance -4116, Bybit 110072, Hyperliquid "Duplicate cloid"): an
                # order under this id is there already; when the lookup finds it, it is this intent's
                found = await self.lookup(intent) if is_duplicate_id(exc) else None
                if found is not None:
                    order = found
                    break
                if isinstance(exc, ccxt.InsufficientFunds | ccxt.InvalidOrder | ccxt.BadRequest | ccxt.BadSymbol):
                    if not reject_quietly:
                        raise
                    self.forget(intent, book)
                    self.save(book)
                    self.note(
                        CorrectionKind.REJECTED,
                        intent.coin,
                        f"{intent.kind} {intent.client_order_id} rejected: {describe(exc)}",
                        alert=True,
                    )
                    return None
                if isinstance(exc, ccxt.AuthenticationError):
                    raise ConfigError(KEYS_REJECTED.format(error=type(exc).__name__)) from None
                if not is_transient(exc) or attempt == attempts:
                    raise
                await asyncio.sleep(0.25 * 2 ** (attempt - 1))
                order = await self.lookup(intent)
                if order is not None:
                    break
        self._checkpoint(f"{point}_sent")
        return order if intent.conditional else await self.outcome(intent, order)

    async def outcome(self, intent: OrderIntent, order: dict) -> dict:
        """A market order's final answer, not its first one: the venues answer before the order
        is done (Binance USD-M ``NEW`` with ``executedQty`` 0, Bybit ``New`` / ``PartiallyFilled``).
        Read back by client id at most ``READ_BACKS`` times; still working, its rest is cancelled
        (a market order that has not filled by then is not the decision any more) and it is read
        once more: an order that filled meanwhile answers filled, the cancel finds nothing. If it
        is still not done, this raises: the intent stays pending and ``settle`` reads it next tick."""
        ccxt = lean_ccxt()

        for n in range(READ_BACKS):
            if order.get("status") not in _NOT_DONE:
                return order
            await asyncio.sleep(READ_PAUSE_S * (n + 1))
            order = await self.lookup(intent) or order
        if order.get("status") in _NOT_DONE:
            await self.cancel(intent.coin, intent.client_order_id, conditional=False)
            order = await self.lookup(intent) or order
        if order.get("status") in _NOT_DONE:
            raise ccxt.ExchangeError(
                f"{intent.kind} {intent.client_order_id} still working after {READ_BACKS} reads and a cancel"
            )
        return order

    async def _create(self, intent: OrderIntent) -> dict:
        exchange = self.exchange
        self.changes += 1
        self.sent.add(intent.client_order_id)
        buying = (intent.side is Side.LONG) != intent.reduce_only
        params: dict[str, Any] = {"clientOrderId": intent.client_order_id}
        if intent.reduce_only:
            params["reduceOnly"] = True
        if intent.kind is IntentKind.STOP_LOSS:
            params["stopLossPrice"] = exchange.price_to_precision(intent.symbol, intent.trigger_price)
        elif intent.kind is IntentKind.TAKE_PROFIT:
            params["takeProfitPrice"] = exchange.price_to_precision(intent.symbol, intent.trigger_price)
        amount = float(exchange.amount_to_precision(intent.symbol, intent.amount))
        # Hyperliquid has no true market order: an IOC limit at the reference price +- ccxt's slippage cap
        price = (intent.trigger_price or intent.reference_price) if self.profile.market_price else None
        order = await exchange.create_order(intent.symbol, "market", "buy" if buying else "sell", amount, price, params)
        if self.profile.ack_only and order.get("status") is None and order.get("id") is not None:
            order = await self.lookup(intent) or order  # Bybit answers ids only: read the order back
        if order.get("status") == "waitingForTrigger":  # Hyperliquid's tp/sl answer, no id (ccxt create_orders)
            order = await self.lookup(intent) or order
        return checked_order(
            self._completed(intent, order), intent.client_order_id
        )  # malformed: transient, looked up before any resend

    async def lookup(self, intent: OrderIntent) -> dict | None:
        return await self.lookup_id(intent.symbol, intent.client_order_id, conditional=intent.conditional)

    async def lookup_id(self, symbol: str, cid: str, *, conditional: bool) -> dict | None:
        """The exchange's order with client id ``cid``, None if it never got there."""
        ccxt = lean_ccxt()

        params = self.profile.id_params(cid, conditional=conditional)
        if self.profile.lookup_in_open_orders:  # no orderId sent at all, empty or not
            params = {k: v for k, v in params.items() if k != "acknowledged"}
            return await self.call(
                self.exchange.fetch_open_orders, symbol, None, None, params, check=lambda rows: order_with_id(rows, cid)
            )
        try:
            return await self.call(
                self.exchange.fetch_order, None, symbol, params, check=lambda order: checked_order(order, cid)
            )
        except ccxt.OrderNotFound:
            return None

    async def cancel(self, coin: str, cid: str, *, conditional: bool) -> None:
        ccxt = lean_ccxt()

        self.changes += 1
        with contextlib.suppress(ccxt.OrderNotFound):  # already filled, cancelled or expired
            await self.call(
                self.exchange.cancel_order,
                None,
                self.symbol(coin),
                self.profile.id_params(cid, conditional=conditional),
            )

    def forget(self, intent: OrderIntent, book: BotState) -> None:
        book.pending_intents = [i for i in book.pending_intents if i.client_order_id != intent.client_order_id]

    def drop(self, intent: OrderIntent, book: BotState, why: str) -> None:
        """Forget an intent the exchange did not act on, saying why (a correction)."""
        self.forget(intent, book)
        self.note(CorrectionKind.DROPPED_INTENT, intent.coin, f"{intent.kind} {intent.client_order_id} dropped: {why}")

    async def record_entry(self, intent: OrderIntent, order: dict, book: BotState) -> Fill | None:
        """Book an entry's fill (None, the intent dropped, when it filled nothing)."""
        amount = float(order.get("filled") or 0)
        if amount <= 0:
            self.drop(intent, book, f"ended {order.get('status')} unfilled")
            self.save(book)
            return None
        price, fee = await self._price_and_fee(intent, order)
        fill = book_entry(
            book,
            intent,
            amount=amount,
            price=price,
            fee_usd=fee or 0.0,
            client_order_id=intent.client_order_id,
            opened_at=intent.created_at,
            at=self.now,
            step=self._step(intent.symbol),
        )
        self.forget(intent, book)
        self._owe_fee(intent, order, book, fee, amount=amount, price=price)
        book.booked_fills.append(BookedFill(fill=fill))  # saved with the book it changed: the journal gets it
        self.save(book)  # even after a kill
        return fill

    async def record_close(
        self, intent: OrderIntent, order: dict, book: BotState, *, reason: FillReason
    ) -> Fill | None:
        """Book a reduce-only order's fill (all of the position when the answer does not say;
        None, the intent dropped, when it says it filled nothing)."""
        position = book.positions[intent.coin]
        said = order.get("filled")
        if said is not None and float(said) <= 0:
            self.drop(intent, book, f"ended {order.get('status')} unfilled")
            self.save(book)
            return None
        amount = min(float(said or position.amount), position.amount)
        price, fee = await self._price_and_fee(intent, order)
        fill = self.book_close(
            position,
            book,
            amount=amount,
            price=price,
            fee_usd=fee or 0.0,
            reason=reason,
            client_order_id=intent.client_order_id,
        )
        self.forget(intent, book)
        self._owe_fee(intent, order, book, fee, amount=amount, price=price)
        self.save(book)
        return fill

    def _owe_fee(
        self, intent: OrderIntent, order: dict, book: BotState, fee: float | None, *, amount: float, price: float
    ) -> None:
        """A fill booked before its fee could be read (its trades did not answer): a FEE intent
        reads it from the order's trades at the next ``settle``, protection never waits for it."""
        if fee is not None:
            return
        owed = intent.model_copy(
            update={"kind": IntentKind.FEE, "amount": amount, "reference_price": price, "order_id": str(order["id"])}
        )
        book.pending_intents = [*book.pending_intents, owed]
        self.note(CorrectionKind.BALANCE, intent.coin, f"fee of {intent.client_order_id} unread: booked when it can be")

    async def settle_fee(self, intent: OrderIntent, book: BotState) -> None:
        """Book the fee a FEE intent owes, from its order's trades; they still fail: it waits."""
        ccxt = lean_ccxt()

        try:
            trades = await self._trades(intent.symbol, intent.order_id)
        except ccxt.BaseError as exc:
            log.warning("fee_unread", coin=intent.coin, order=intent.client_order_id, error=describe(exc))
            return
        fee = fees_of(trades)
        book.cash_usd -= fee
        book.fees_paid_usd += fee
        self.forget(intent, book)
        self.note(CorrectionKind.BALANCE, intent.coin, f"fee {fee:.6g} of {intent.client_order_id} read: booked")
        self.save(book)

    def book_close(
        self,
        position: Position,
        book: BotState,
        *,
        amount: float,
        price: float,
        fee_usd: float,
        reason: FillReason,
        client_order_id: str,
    ) -> Fill:
        """Book a close of ``position`` (not saved yet: the caller saves the book it changed)."""
        fill = book_close(
            book,
            position.coin,
            amount=amount,
            price=price,
            fee_usd=fee_usd,
            reason=reason,
            client_order_id=client_order_id or "",
            at=self.now,
            step=self._step(position.symbol),
        )
        book.booked_fills.append(BookedFill(fill=fill))  # saved with the book it changed: the journal gets it
        return fill

    def _step(self, symbol: str) -> float:
        """The market's amount step, so sums of amounts stay on it (0 when it says none)."""
        return float((self.exchange.markets[symbol].get("precision") or {}).get("amount") or 0)

    async def _price_and_fee(self, intent: OrderIntent, order: dict) -> tuple[float, float | None]:
        """The order's average fill price and fee: from the answer when it says them, else from the
        order's own trades (an order answer rarely carries the fee; Hyperliquid's order status
        carries no average either: its ``price`` is the slippage cap, not the fill). The trades
        failing to answer never stops the booking (the fill must be protected first): the price
        is then the answer's (else the reference price) and the fee None, owed (``_owe_fee``)."""
        ccxt = lean_ccxt()

        average, fee = order.get("average"), (order.get("fee") or {}).get("cost")
        if fee is not None and average is not None:
            return float(average), float(fee)
        answered = None if self.profile.market_price else order.get("price")  # Hyperliquid's is the slippage cap
        fallback = float(average or answered or intent.reference_price)
        try:
            trades = await self._trades(intent.symbol, order.get("id"))
        except ccxt.BaseError as exc:
            log.warning("trades_unread", coin=intent.coin, order=intent.client_order_id, error=describe(exc))
            return fallback, float(fee) if fee is not None else None
        amount = sum(float(trade["amount"]) for trade in trades)
        if average is None and amount > 0:
            average = sum(float(trade["amount"]) * float(trade["price"]) for trade in trades) / amount
        return float(average or fallback), float(fee) if fee is not None else fees_of(trades)

    async def _trades(self, symbol: str, order_id: Any) -> list[dict]:
        """The trades of one order (none when the exchange lists no trades or the order has no id)."""
        if not (self.exchange.has.get("fetchMyTrades") and order_id):
            return []
        answer = await self.call(
            self.exchange.fetch_my_trades, symbol, None, None, {"orderId": order_id}, check=trades_from
        )
        return [trade for trade in answer if str(trade.get("order")) == str(order_id)]  # Hyperliquid answers every fill

    def _completed(self, intent: OrderIntent, order: dict) -> dict:
        """Hyperliquid answers an order with ``{filled: {totalSz, avgPx, oid}}`` or ``{resting: {oid}}``:
        no status, no client id. A filled IOC order is done, a resting trigger open; anything else
        stays as answered, so ``checked_order`` refuses it and the send looks the id up before any resend."""
        if order.get("status") is not None or not self.profile.market_price:
            return order
        if order.get("id") is not None and float(order.get("filled") or 0) > 0 and not intent.conditional:
            return {**order, "status": "closed", "clientOrderId": intent.client_order_id}
        if order.get("id") is not None and intent.conditional and (order.get("info") or {}).get("resting"):
            return {**order, "status": "open", "clientOrderId": intent.client_order_id}
        return order


def reason_of(intent: OrderIntent) -> FillReason:
    return FillReason.STOP_FAILED if intent.kind is IntentKind.EXIT else FillReason.DECISION
