"""Live broker: real orders through ccxt, built so that a tick killed at any point and run
again never places a second order for the same decision, and no position is left without
a stop-loss.

Write-ahead intents: every order is first saved to state (``BotState.pending_intents``,
persisted through ``save``) with a deterministic client order id (tick id + coin + leg),
then sent, then recorded and removed from the pending list (saved again). Binance keeps
client ids unique only among OPEN orders, so a filled market order's id can be reused:
the bot never relies on the exchange to refuse a duplicate, it looks the id up first.

``settle`` (first thing every live tick) reconciles with the exchange: balance, positions,
open orders (regular and trigger), and each pending intent looked up by its client id.
What it does in each case is listed in README.md ("Live trading"); every change is a
``Correction`` that goes to the log and the journal.

Protection: after an entry fills, a reduce-only stop-loss and take-profit are placed with
ccxt's unified parameters (``stopLossPrice`` / ``takeProfitPrice``, ``reduceOnly``,
``clientOrderId``). The stop-loss is tried ``live.stop_attempts`` times; if it still
cannot be placed the position is closed at market and the owner alerted. Binance futures
has no OCO: when one of the pair fills, the next reconciliation cancels the other.

Errors, classified from ccxt's hierarchy: insufficient margin, invalid order, below the
minimum, bad request -> the order is rejected with its reason, never retried; network,
timeout, exchange busy -> bounded retries, looking the client id up before each resend;
anything else -> an alert, the tick is degraded, the intent stays pending for the next
reconciliation; rejected keys -> one line, exit 2.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.exchange_models import (
    ExchangeOrder,
    ExchangePosition,
    ExchangeView,
    IntentKind,
    OrderIntent,
)
from bot.models import CorrectionKind, Fill, FillReason, OrderPlan, Position, Snapshot
from bot.ops.state import BotState
from bot.tick.risk import client_order_id
from bot.venues.ccxt_answers import closing_trades, trades_from
from bot.venues.exchange import describe
from bot.venues.orders import OrderDesk, SimulatedCrash, log, reason_of

__all__ = ["CcxtBroker", "SimulatedCrash"]

TICK_MARGIN = timedelta(minutes=1)
_LEGS = {IntentKind.STOP_LOSS: "sl", IntentKind.TAKE_PROFIT: "tp", IntentKind.CLOSE: "close", IntentKind.EXIT: "exit"}


class CcxtBroker(OrderDesk):
    """The Broker protocol over ccxt: ``settle`` reconciles, ``execute`` sends protected orders."""

    # -- settle: reconciliation ----------------------------------------------------------------
    async def settle(self, *, book: BotState, snapshot: Snapshot, now: datetime) -> list[Fill]:
        """Make ``book`` agree with the exchange before the strategy decides."""
        self._begin(now)
        self._reconciled = False
        self._prices = {coin: market.last_price for coin, market in snapshot.coins.items()}
        await self._ready()
        fills: list[Fill] = []
        for intent in list(book.pending_intents):
            fills += await self._resolve(intent, book)
        live = await self._positions()
        changes = self._changes
        for coin, position in list(book.positions.items()):
            seen = live.get(coin)
            if seen is None or seen.side != position.side:
                fills.append(await self._closed_outside(position, book))
            elif abs(seen.amount - position.amount) > 1e-12:
                self._note(CorrectionKind.POSITION_RESIZED, coin, f"size {position.amount:g} -> {seen.amount:g} as on the exchange")
                book.positions[coin] = position.model_copy(
                    update={"amount": seen.amount, "margin_usd": seen.margin_usd or position.margin_usd}
                )
        for coin, seen in live.items():
            if coin not in book.positions:
                book.positions[coin] = Position(
                    coin=coin,
                    symbol=self._symbol(coin),
                    side=seen.side,
                    amount=seen.amount,
                    entry_price=seen.entry_price,
                    leverage=book.leverage_set.get(self._symbol(coin), 1.0),
                    margin_usd=seen.margin_usd,
                    opened_at=now,
                )
                self._note(
                    CorrectionKind.POSITION_ADOPTED,
                    coin,
                    f"a {seen.side} {seen.amount:g} opened outside the bot: adopted without a stop; protect or close it by hand",
                    alert=True,
                )
        orders = await self._open_orders(book)
        open_ids = {order.client_order_id for order in orders}
        for coin in list(book.positions):
            fills += await self._protect(coin, book, open_ids)
        wanted = {i for p in book.positions.values() for i in (p.stop_order_id, p.take_profit_order_id) if i}
        for order in orders:
            if order.client_order_id.startswith("bot-") and order.reduce_only and order.client_order_id not in wanted:
                await self._cancel(order.coin, order.client_order_id, conditional=order.kind in ("stop_loss", "take_profit"))
                self._note(
                    CorrectionKind.ORPHAN_CANCELLED, order.coin, f"{order.kind} {order.client_order_id} had no position left: cancelled"
                )
        _adopt_liquidation(book, live.values())
        unchanged = self._changes == changes  # nothing sent or cancelled since: what was read still holds
        book.exchange = await self._adopt_balance(book, first=book.tick == 0, known=(live, orders) if unchanged else None)
        self._save(book)
        self._reconciled = True
        log.info("reconciled", positions=len(book.positions), open_orders=len(book.exchange.open_orders), corrections=len(self.corrections))
        return fills

    async def _resolve(self, intent: OrderIntent, book: BotState) -> list[Fill]:
        """Finish or drop an order saved before a crash, from what the exchange knows of its id."""
        order = await self._lookup(intent)
        filled = float(order.get("filled") or 0) if order else 0.0
        cid, coin = intent.client_order_id, intent.coin
        if intent.kind is IntentKind.ENTRY:
            if filled > 0:
                self._note(CorrectionKind.ADOPTED_FILL, coin, f"entry {cid} had filled before the bot stopped: recorded now")
                before = book.positions.get(coin)
                fill = await self._record_entry(intent, order, book)
                if fill is None:
                    return []
                return [fill, *(await self._reprotect(coin, book, old=before) if before is not None else [])]  # an add: resize the stops
            if (
                order is None
                and (self._now - intent.created_at).total_seconds() <= self.settings.live.intent_max_age_s
                and coin not in book.positions
            ):
                self._note(CorrectionKind.SENT_PENDING, coin, f"entry {cid} was saved but never sent: sending it now")
                return await self._open(intent, book)
            self._drop(
                intent,
                book,
                "never reached the exchange and is too old to send" if order is None else f"ended {order.get('status')} unfilled",
            )
            return []
        if intent.conditional:
            position = book.positions.get(coin)
            if order is not None and order.get("status") == "open" and position is not None:
                key = "stop_order_id" if intent.kind is IntentKind.STOP_LOSS else "take_profit_order_id"
                book.positions[coin] = position.model_copy(update={key: cid})
                self._forget(intent, book)
            else:
                self._drop(intent, book, "not open on the exchange; protection is checked again below")
            return []
        position = book.positions.get(coin)  # CLOSE / EXIT
        if filled > 0 and position is not None:
            self._note(CorrectionKind.ADOPTED_FILL, coin, f"close {cid} had filled before the bot stopped: recorded now")
            return [await self._record_close(intent, order, book, reason=reason_of(intent))]
        self._drop(intent, book, "not filled on the exchange; the position is reconciled below")
        return []

    def _drop(self, intent: OrderIntent, book: BotState, why: str) -> None:
        self._forget(intent, book)
        self._note(CorrectionKind.DROPPED_INTENT, intent.coin, f"{intent.kind} {intent.client_order_id} dropped: {why}")

    async def _closed_outside(self, position: Position, book: BotState) -> Fill:
        """The exchange no longer holds a position the bot had: a stop, a take-profit, a hand or a liquidation closed it."""
        reason, order_id = FillReason.RECONCILE, ""
        for candidate, why in ((position.stop_order_id, FillReason.STOP_LOSS), (position.take_profit_order_id, FillReason.TAKE_PROFIT)):
            if candidate:
                order = await self._lookup_id(position.symbol, candidate, conditional=True)
                if order is not None and order.get("status") == "closed":
                    reason, order_id = why, candidate
        # The position was still there at the last reconciliation: its closing trades came after
        # (and Binance answers at most 7 days of trades from `since`).
        since = max(position.opened_at, book.exchange.as_of - TICK_MARGIN) if book.exchange else position.opened_at
        trades = await self._call(self._exchange.fetch_my_trades, position.symbol, int(since.timestamp() * 1000), check=trades_from)
        amount, price, fee = closing_trades(trades, position.side)
        if amount <= 0:  # no trades to read (the exchange does not list them): valued at the tick's price
            price = self._prices.get(position.coin, position.entry_price)
        fill = self._book_close(position, book, amount=position.amount, price=price, fee_usd=fee, reason=reason, client_order_id=order_id)
        how = {FillReason.STOP_LOSS: "its stop-loss filled", FillReason.TAKE_PROFIT: "its take-profit filled"}.get(
            reason, "closed outside the bot (by hand or liquidation)"
        )
        alert = reason is FillReason.RECONCILE
        self._note(CorrectionKind.POSITION_CLOSED, position.coin, f"{position.side} {position.amount:g} {how} at {price:.6g}", alert=alert)
        return fill

    async def _protect(
        self, coin: str, book: BotState, open_ids: set[str], *, avoid: frozenset[str] | set[str] = frozenset()
    ) -> list[Fill]:
        """Re-place a missing stop-loss / take-profit of an open position (the stop first)."""
        position = book.positions[coin]
        fills: list[Fill] = []
        if position.stop_loss is not None and position.stop_order_id not in open_ids:
            if position.stop_order_id:
                self._note(CorrectionKind.STOP_REPLACED, coin, f"stop-loss {position.stop_order_id} is not open: placing it again")
            book.positions[coin] = position.model_copy(update={"stop_order_id": None})
            fills += await self._place_protection(coin, IntentKind.STOP_LOSS, book, avoid=avoid | open_ids)
        position = book.positions.get(coin)
        if position is not None and position.take_profit is not None and position.take_profit_order_id not in open_ids:
            if position.take_profit_order_id:
                self._note(CorrectionKind.STOP_REPLACED, coin, f"take-profit {position.take_profit_order_id} is not open: placing it again")
            book.positions[coin] = position.model_copy(update={"take_profit_order_id": None})
            fills += await self._place_protection(coin, IntentKind.TAKE_PROFIT, book, avoid=avoid | open_ids)
        return fills

    async def _adopt_balance(
        self, book: BotState, *, first: bool, known: tuple[dict[str, ExchangePosition], list[ExchangeOrder]] | None
    ) -> ExchangeView:
        """Cash is the exchange's wallet balance: its equity minus the positions' unrealized PnL."""
        view = await self._view(book, known=known)
        if first:
            book.initial_equity_usd = book.last_equity_usd = book.peak_equity_usd = view.equity_usd
        elif abs(view.cash_usd - book.cash_usd) >= 0.01:
            self._note(
                CorrectionKind.BALANCE,
                "",
                f"cash {book.cash_usd:.2f} -> {view.cash_usd:.2f} {self.settings.trading.quote} as on the exchange",
            )
        book.cash_usd = view.cash_usd
        return view

    # -- execute --------------------------------------------------------------------------------
    async def execute(self, plans: list[OrderPlan], *, book: BotState, prices: dict[str, float], now: datetime) -> list[Fill]:
        import ccxt.async_support as ccxt

        self._begin(now)
        self._prices = dict(prices)
        if plans and not self._reconciled:
            # Unresolved intents could be open positions the book does not show: an entry now might double one.
            self._note(CorrectionKind.ERROR, "", "the account was not reconciled this tick: no order sent", alert=True)
            return []
        await self._ready()
        fills: list[Fill] = []
        for plan in plans:
            if any(intent.coin == plan.coin for intent in book.pending_intents):
                self._note(
                    CorrectionKind.ERROR,
                    plan.coin,
                    f"{plan.client_order_id} not sent: an earlier order for this coin is unsettled",
                    alert=True,
                )
                continue
            try:
                if plan.reduce_only:
                    if plan.coin in book.positions:
                        fills += await self._close(plan.coin, book, IntentKind.CLOSE, plan=plan)
                else:
                    fills += await self._open(_entry_intent(plan, now), book)
            except ccxt.BaseError as exc:
                self._note(
                    CorrectionKind.ERROR, plan.coin, f"{plan.client_order_id}: {describe(exc)}; its fate is settled next tick", alert=True
                )
        if plans:
            book.exchange = await self._view(book)
            _adopt_liquidation(book, book.exchange.positions)
        return fills

    async def _open(self, intent: OrderIntent, book: BotState) -> list[Fill]:
        await self._prepare_symbol(intent.symbol, intent.leverage, book)
        intent = intent.model_copy(update={"leverage": book.leverage_set.get(intent.symbol, intent.leverage)})
        order = await self._send(intent, book, "entry")
        if order is None:
            return []
        before = book.positions.get(intent.coin)
        fill = await self._record_entry(intent, order, book)
        if fill is None:
            return []
        return [fill, *await self._reprotect(intent.coin, book, old=before)]

    async def _reprotect(self, coin: str, book: BotState, *, old: Position | None) -> list[Fill]:
        """Protect the position as it is now (new ids, full size), then cancel the orders that
        protected it before (an add or a partial close): never a moment without a stop."""
        stale = {cid for cid in ((old.stop_order_id, old.take_profit_order_id) if old else ()) if cid}
        if coin in book.positions:
            book.positions[coin] = book.positions[coin].model_copy(update={"stop_order_id": None, "take_profit_order_id": None})
        fills = await self._protect(coin, book, set(), avoid=stale) if coin in book.positions else []
        for cid in sorted(stale):
            await self._cancel(coin, cid, conditional=True)
        self._save(book)
        return fills

    async def _close(self, coin: str, book: BotState, kind: IntentKind, *, plan: OrderPlan | None = None) -> list[Fill]:
        """Close ``plan.amount`` (all when there is no plan) at market, then fix the protection."""
        position = book.positions[coin]
        intent = self._reduce_intent(position, kind)
        if plan is not None:
            intent = intent.model_copy(update={"client_order_id": plan.client_order_id, "amount": min(plan.amount, position.amount)})
        order = await self._send(intent, book, "close", reject_quietly=kind is IntentKind.CLOSE)
        if order is None:
            return []
        fill = await self._record_close(intent, order, book, reason=reason_of(intent))
        return [fill, *await self._reprotect(coin, book, old=position)]

    def _reduce_intent(self, position: Position, kind: IntentKind, *, avoid: frozenset[str] | set[str] = frozenset()) -> OrderIntent:
        """A reduce-only order for the whole of ``position``: its stop-loss, take-profit or a close.
        Its client id is the leg's (``sl``, ``tp`` ...), or ``sl2``, ``sl3`` ... when that id is
        one being replaced or already sent this tick (ids must be unique among open orders,
        and a lookup by id must find one order)."""
        trigger = {IntentKind.STOP_LOSS: position.stop_loss, IntentKind.TAKE_PROFIT: position.take_profit}.get(kind)
        leg = _LEGS[kind]
        cid = client_order_id(self._tick_id, position.coin, leg)
        for n in range(2, 10):
            if cid not in avoid and cid not in self._sent:
                break
            cid = client_order_id(self._tick_id, position.coin, f"{leg}{n}")
        return OrderIntent(
            kind=kind,
            client_order_id=cid,
            coin=position.coin,
            symbol=position.symbol,
            side=position.side,
            amount=position.amount,
            reference_price=self._prices.get(position.coin, position.entry_price),
            leverage=position.leverage,
            trigger_price=trigger,
            created_at=self._now,
        )

    async def _place_protection(
        self, coin: str, kind: IntentKind, book: BotState, *, avoid: frozenset[str] | set[str] = frozenset()
    ) -> list[Fill]:
        """Place the stop-loss (``live.stop_attempts`` tries, then close) or the take-profit (one try)."""
        import ccxt.async_support as ccxt

        position = book.positions[coin]
        intent = self._reduce_intent(position, kind, avoid=avoid)
        attempts = self.settings.live.stop_attempts if kind is IntentKind.STOP_LOSS else 1
        error: BaseException | None = None
        for attempt in range(1, attempts + 1):
            try:
                landed = await self._lookup(intent) if attempt > 1 else None  # a try that timed out may have landed
                if (landed is not None and landed.get("status") == "open") or await self._send(intent, book, "stop", reject_quietly=False):
                    key = "stop_order_id" if kind is IntentKind.STOP_LOSS else "take_profit_order_id"
                    book.positions[coin] = book.positions[coin].model_copy(update={key: intent.client_order_id})
                    self._forget(intent, book)
                    self._save(book)
                    return []
            except ccxt.BaseError as exc:
                error = exc
                log.warning("protection_failed", coin=coin, kind=kind, attempt=attempt, error=describe(exc))
                if isinstance(exc, ccxt.OrderImmediatelyFillable):
                    break  # the price is already past the level: trying again cannot help
        self._forget(intent, book)
        why = describe(error) if error else "unknown"
        if kind is IntentKind.TAKE_PROFIT:
            self._note(CorrectionKind.ERROR, coin, f"take-profit could not be placed ({why}); the stop-loss still protects it", alert=True)
            return []
        try:
            fills = await self._close(coin, book, IntentKind.EXIT)
        except ccxt.BaseError as exc:
            self._note(
                CorrectionKind.UNPROTECTED,
                coin,
                f"OPEN WITHOUT A STOP-LOSS: placing it failed ({why}) and closing failed ({describe(exc)}); close it by hand now",
                alert=True,
            )
            return []
        self._note(
            CorrectionKind.STOP_FAILED,
            coin,
            f"stop-loss could not be placed after {attempt} tries ({why}): position closed at market",
            alert=True,
        )
        return fills

    async def _prepare_symbol(self, symbol: str, leverage: float, book: BotState) -> None:
        """Before the first order on a symbol: margin mode, then leverage (whole numbers on most exchanges)."""
        import ccxt.async_support as ccxt

        wanted = float(max(1, math.floor(leverage)))
        if symbol not in book.leverage_set:
            try:
                await self._call(self._exchange.set_margin_mode, self.settings.live.margin_mode, symbol)
            except ccxt.MarginModeAlreadySet:
                pass
        if book.leverage_set.get(symbol) != wanted:
            await self._call(self._exchange.set_leverage, int(wanted), symbol)
            book.leverage_set[symbol] = wanted


def _adopt_liquidation(book: BotState, seen: Iterable[ExchangePosition]) -> None:
    """The exchange's liquidation price wins over the bot's estimate (its margin tiers are exact)."""
    for position in seen:
        held = book.positions.get(position.coin)
        if held is not None and position.liquidation_price is not None:
            held.liquidation_price = position.liquidation_price


def _entry_intent(plan: OrderPlan, now: datetime) -> OrderIntent:
    return OrderIntent(
        kind=IntentKind.ENTRY,
        client_order_id=plan.client_order_id,
        coin=plan.coin,
        symbol=plan.symbol,
        side=plan.side,
        amount=plan.amount,
        reference_price=plan.reference_price,
        leverage=plan.leverage,
        stop_loss=plan.stop_loss,
        take_profit=plan.take_profit,
        invalidation=plan.invalidation,
        maintenance_margin_rate=plan.maintenance_margin_rate,
        created_at=now,
    )
