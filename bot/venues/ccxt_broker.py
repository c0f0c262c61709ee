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

The broker holds an order desk (orders.py) and the protection built on it (protection.py).
Protection: after an entry fills, a reduce-only stop-loss and take-profit
are placed with ccxt's unified parameters (``stopLossPrice`` / ``takeProfitPrice``,
``reduceOnly``, ``clientOrderId``). A stop-loss is cancelled only when a well-formed answer
shows its position closed; a position the bot adopts gets the rules' ATR stop-loss.

Errors, classified from ccxt's hierarchy: insufficient margin, invalid order, below the
minimum, bad request -> the order is rejected with its reason, never retried; network,
timeout, exchange busy, a malformed answer (ccxt_answers.py) -> bounded retries, looking
the client id up before each resend;
anything else -> an alert, the tick is degraded, the intent stays pending for the next
reconciliation; rejected keys -> one line, exit 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import structlog

from bot.clock import tick_id_for
from bot.config import Settings
from bot.errors import ConfigError
from bot.exchange_models import (
    ExchangeOrder,
    ExchangePosition,
    ExchangeView,
    IntentKind,
    OrderIntent,
)
from bot.models import Correction, CorrectionKind, Fill, FillReason, OrderPlan, Position, Snapshot
from bot.ops.state import BotState
from bot.tick.indicators import indicator_series
from bot.tick.precision import round_to_step
from bot.tick.risk import derived_stop
from bot.venues.booking import opposite
from bot.venues.ccxt_answers import closing_trades
from bot.venues.ccxt_lean import lean_ccxt
from bot.venues.exchange import describe
from bot.venues.holdings import Holdings
from bot.venues.orders import OrderDesk, SimulatedCrash, no_checkpoint, reason_of
from bot.venues.profiles import VenueProfile, is_bot_order
from bot.venues.protection import MarginModeRefused, Protection

__all__ = ["CcxtBroker", "SimulatedCrash"]

log = structlog.get_logger(__name__)

TICK_MARGIN = timedelta(minutes=1)


class CcxtBroker:
    """The Broker protocol over ccxt: ``settle`` reconciles, ``execute`` sends protected orders.

    It holds an order desk (orders.py: sending, lookups, cancels, booking) and the protection
    built on it (protection.py: opening, closing, stop-losses and take-profits)."""

    def __init__(
        self,
        settings: Settings,
        *,
        save: Callable[[BotState], None],
        checkpoint: Callable[[str], None] = no_checkpoint,
    ) -> None:
        self.settings = settings
        self._desk = OrderDesk(settings, save=save, checkpoint=checkpoint)
        self._holdings = Holdings(self._desk)
        self._protection = Protection(self._desk, settings)
        self.corrections: list[Correction] = self._desk.corrections  # one list: the desk notes, the tick takes
        self._reconciled = False  # settle() finished this tick: execute() may send

    async def aclose(self) -> None:
        await self._desk.aclose()

    # -- settle: reconciliation ----------------------------------------------------------------
    async def settle(self, *, book: BotState, snapshot: Snapshot, now: datetime) -> list[Fill]:
        """Make ``book`` agree with the exchange before the strategy decides."""
        desk = self._desk
        desk.begin(now, {coin: market.last_price for coin, market in snapshot.coins.items()})
        desk.rerun = book.exchange is not None and tick_id_for(book.exchange.as_of) == desk.tick_id
        self._reconciled = False
        await desk.ready()
        fills: list[Fill] = []
        for intent in list(book.pending_intents):
            fills += await self._resolve(intent, book)
        live = await self._holdings.positions()
        changes = self._desk.changes
        resized: dict[str, Position] = {}  # protected at the size before: re-protected at the new one
        for coin, position in list(book.positions.items()):
            seen = live.get(coin)
            if seen is None or seen.side != position.side:
                closed = await self._closed_outside(position, book, live)
                fills += [closed] if closed else []
                seen = None if closed else live[coin]  # else the second look found it open
            if seen is not None and abs(seen.amount - position.amount) > 1e-12:
                self._desk.note(
                    CorrectionKind.POSITION_RESIZED,
                    coin,
                    f"size {position.amount:g} -> {seen.amount:g} as on the exchange",
                )
                book.positions[coin] = position.model_copy(
                    update={"amount": seen.amount, "margin_usd": seen.margin_usd or position.margin_usd}
                )
                resized[coin] = position
        for coin, seen in live.items():
            if coin not in book.positions:
                self._adopt(coin, seen, book, snapshot)
        orders = await self._holdings.open_orders(book)
        open_ids = {order.client_order_id for order in orders}
        resized.update(_protected_at_other_size(book, orders))
        for coin in list(book.positions):
            if coin in resized and coin in book.positions:
                fills += await self._protection.reprotect(coin, book, old=resized[coin])
            elif coin in book.positions:
                fills += await self._protection.protect(coin, book, open_ids)
        if resized:
            orders = await self._holdings.open_orders(book)  # the stops just replaced are not orphans
        wanted = {i for p in book.positions.values() for i in (p.stop_order_id, p.take_profit_order_id) if i}
        for order in orders:
            if is_bot_order(order.client_order_id) and order.reduce_only and order.client_order_id not in wanted:
                await self._desk.cancel(
                    order.coin, order.client_order_id, conditional=order.kind in ("stop_loss", "take_profit")
                )
                self._desk.note(
                    CorrectionKind.ORPHAN_CANCELLED,
                    order.coin,
                    f"{order.kind} {order.client_order_id} had no position left: cancelled",
                )
        _adopt_liquidation(book, live.values())
        unchanged = self._desk.changes == changes  # nothing sent or cancelled since: what was read still holds
        book.exchange = await self._adopt_balance(
            book, first=book.tick == 0, known=(live, orders) if unchanged else None
        )
        self._desk.save(book)
        self._reconciled = True
        log.info(
            "reconciled",
            positions=len(book.positions),
            open_orders=len(book.exchange.open_orders),
            corrections=len(self.corrections),
        )
        return fills

    async def _resolve(self, intent: OrderIntent, book: BotState) -> list[Fill]:
        """Finish or drop an order saved before a crash, from what the exchange knows of its id."""
        if intent.kind is IntentKind.FEE:
            await self._desk.settle_fee(intent, book)
            return []
        order = await self._desk.lookup(intent)
        if order is not None and not intent.conditional:
            order = await self._desk.outcome(intent, order)  # still working: read again, else its rest cancelled
        filled = float(order.get("filled") or 0) if order else 0.0
        cid, coin = intent.client_order_id, intent.coin
        if intent.kind is IntentKind.ENTRY:
            if filled > 0:
                self._desk.note(
                    CorrectionKind.ADOPTED_FILL, coin, f"entry {cid} had filled before the bot stopped: recorded now"
                )
                before = book.positions.get(coin)
                fill = await self._desk.record_entry(intent, order, book)
                if fill is None:
                    return []
                return [
                    fill,
                    *(await self._protection.reprotect(coin, book, old=before) if before is not None else []),
                ]  # an add: resize the stops
            # An entry that never reached the exchange is this tick's decision only when this run
            # is the same tick again (a re-run, same tick id); a later tick drops it and decides
            # afresh at its own prices. Tick ids, not seconds: start-up jitter cannot decide.
            this_tick = tick_id_for(intent.created_at) == self._desk.tick_id
            if order is None and this_tick and coin not in book.positions:
                self._desk.note(
                    CorrectionKind.SENT_PENDING, coin, f"entry {cid} was saved but never sent: sending it now"
                )
                return await self._protection.open(intent, book, looked_up=True)
            self._desk.drop(
                intent,
                book,
                "never reached the exchange, and a later tick decides afresh"
                if order is None
                else f"ended {order.get('status')} unfilled",
            )
            return []
        if intent.conditional:
            position = book.positions.get(coin)
            if order is not None and order.get("status") == "open" and position is not None:
                key = "stop_order_id" if intent.kind is IntentKind.STOP_LOSS else "take_profit_order_id"
                book.positions[coin] = position.model_copy(update={key: cid})
                self._desk.forget(intent, book)
            else:
                self._desk.drop(intent, book, "not open on the exchange; protection is checked again below")
            return []
        position = book.positions.get(coin)  # CLOSE / EXIT
        if filled > 0 and position is not None:
            self._desk.note(
                CorrectionKind.ADOPTED_FILL, coin, f"close {cid} had filled before the bot stopped: recorded now"
            )
            fill = await self._desk.record_close(intent, order, book, reason=reason_of(intent))
            return [fill] if fill else []
        self._desk.drop(intent, book, "not filled on the exchange; the position is reconciled below")
        return []

    def _adopt(self, coin: str, seen: ExchangePosition, book: BotState, snapshot: Snapshot) -> None:
        """A position the bot did not open (by hand, or an order it could not record) is taken
        over and protected by the bot's own rule: a stop-loss ``risk.stop_atr`` 4h ATR14s from
        the tick's price, placed below with the other missing stops."""
        market = snapshot.coins.get(coin)
        atr = (
            float(indicator_series(market.candles_4h)["atr14"][-1])
            if market is not None and len(market.candles_4h)
            else 0.0
        )
        stop = None
        if atr > 0:
            raw = derived_stop(side=seen.side, price=market.last_price, atr_usd=atr, settings=self.settings.risk)
            stop = round_to_step(raw, market.info.price_step) if market.info.price_step else raw
        book.positions[coin] = Position(
            coin=coin,
            symbol=self._desk.symbol(coin),
            side=seen.side,
            amount=seen.amount,
            entry_price=seen.entry_price,
            leverage=book.leverage_set.get(self._desk.symbol(coin), 1.0),
            margin_usd=seen.margin_usd,
            opened_at=self._desk.now,
            stop_loss=stop,
        )
        how = (
            f"adopted with a stop-loss at {stop:.6g} ({self.settings.risk.stop_atr:g} x 4h ATR14 {atr:.6g})"
            if stop is not None
            else "adopted without a stop (no 4h ATR for it this tick); protect or close it by hand"
        )
        self._desk.note(
            CorrectionKind.POSITION_ADOPTED,
            coin,
            f"a {seen.side} {seen.amount:g} opened outside the bot: {how}",
            alert=True,
        )

    async def _closed_outside(
        self, position: Position, book: BotState, live: dict[str, ExchangePosition]
    ) -> Fill | None:
        """The exchange no longer shows a position the bot had: a stop, a take-profit, a hand or a
        liquidation closed it. Booked closed from the trades that closed it, or, when they do
        not cover it, only if a second look at the positions still does not show it (None:
        it is open, and ``live`` now holds it)."""
        reason, order_id = FillReason.RECONCILE, ""
        for candidate, why in (
            (position.stop_order_id, FillReason.STOP_LOSS),
            (position.take_profit_order_id, FillReason.TAKE_PROFIT),
        ):
            if candidate:
                order = await self._desk.lookup_id(position.symbol, candidate, conditional=True)
                if order is not None and order.get("status") == "closed":
                    reason, order_id = why, candidate
        # The position was still there at the last reconciliation: its closing trades came after
        # (and Binance answers at most 7 days of trades from `since`).
        since = max(position.opened_at, book.exchange.as_of - TICK_MARGIN) if book.exchange else position.opened_at
        trades = await self._holdings.trades_since(position.symbol, int(since.timestamp() * 1000))
        amount, price, fee = closing_trades(trades, position.side)
        if reason is FillReason.RECONCILE and amount < position.amount - 1e-12:
            again = (await self._holdings.positions()).get(position.coin)
            if again is not None and again.side == position.side:
                log.warning("position_still_open", coin=position.coin, amount=again.amount)
                live[position.coin] = again
                return None
        if amount <= 0:  # no trades to read (the exchange does not list them): valued at the tick's price
            price = self._desk.prices.get(position.coin, position.entry_price)
        fill = self._desk.book_close(
            position, book, amount=position.amount, price=price, fee_usd=fee, reason=reason, client_order_id=order_id
        )
        how = {FillReason.STOP_LOSS: "its stop-loss filled", FillReason.TAKE_PROFIT: "its take-profit filled"}.get(
            reason, "closed outside the bot (by hand or liquidation)"
        )
        alert = reason is FillReason.RECONCILE
        self._desk.note(
            CorrectionKind.POSITION_CLOSED,
            position.coin,
            f"{position.side} {position.amount:g} {how} at {price:.6g}",
            alert=alert,
        )
        return fill

    async def _adopt_balance(
        self, book: BotState, *, first: bool, known: tuple[dict[str, ExchangePosition], list[ExchangeOrder]] | None
    ) -> ExchangeView:
        """Cash is the exchange's wallet balance: its equity minus the positions' unrealized PnL."""
        view = await self._holdings.view(book, known=known)
        if first and view.equity_usd <= 0 and self._desk.profile.zero_balance_hint:
            raise ConfigError(self._desk.profile.zero_balance_hint)
        if first:
            book.initial_equity_usd = book.last_equity_usd = book.peak_equity_usd = view.equity_usd
        elif abs(view.cash_usd - book.cash_usd) >= 0.01:
            self._desk.note(
                CorrectionKind.BALANCE,
                "",
                f"cash {book.cash_usd:.2f} -> {view.cash_usd:.2f} {self.settings.trading.quote} as on the exchange",
            )
        book.cash_usd = view.cash_usd
        return view

    # -- execute --------------------------------------------------------------------------------
    async def execute(
        self, plans: list[OrderPlan], *, book: BotState, prices: dict[str, float], now: datetime
    ) -> list[Fill]:
        ccxt = lean_ccxt()

        desk = self._desk
        desk.begin(now, prices)
        if plans and not self._reconciled:
            # Unresolved intents could be open positions the book does not show: an entry now might double one.
            self._desk.note(
                CorrectionKind.ERROR, "", "the account was not reconciled this tick: no order sent", alert=True
            )
            return []
        await desk.ready()
        fills: list[Fill] = []
        for plan in plans:
            if any(i.coin == plan.coin and i.kind is not IntentKind.FEE for i in book.pending_intents):
                self._desk.note(
                    CorrectionKind.ERROR,
                    plan.coin,
                    f"{plan.client_order_id} not sent: an earlier order for this coin is unsettled",
                    alert=True,
                )
                continue
            try:
                if plan.reduce_only:
                    if plan.coin in book.positions:
                        fills += await self._protection.close(plan.coin, book, IntentKind.CLOSE, plan=plan)
                elif opposite(held := book.positions.get(plan.coin), plan.side):
                    # a flip whose close did not fill: the entry would be netted against the position it was to replace
                    why = (
                        f"{plan.client_order_id} not sent: the {held.side} it was to replace is still open "
                        "(its close did not fill)"
                    )
                    self._desk.note(CorrectionKind.ERROR, plan.coin, why, alert=True)
                else:
                    fills += await self._protection.open(_entry_intent(plan, now, self._desk.profile), book)
            except MarginModeRefused as exc:
                self._desk.note(CorrectionKind.ERROR, plan.coin, f"{plan.client_order_id} not sent: {exc}", alert=True)
            except ccxt.BaseError as exc:
                self._desk.note(
                    CorrectionKind.ERROR,
                    plan.coin,
                    f"{plan.client_order_id}: {describe(exc)}; its fate is settled next tick",
                    alert=True,
                )
        if plans:
            book.exchange = await self._holdings.view(book)
            _adopt_liquidation(book, book.exchange.positions)
        return fills


def _protected_at_other_size(book: BotState, orders: list[ExchangeOrder]) -> dict[str, Position]:
    """Positions whose open stop-loss or take-profit covers another size than the position holds
    (an entry that filled more after it was protected, a partial fill, a resize seen earlier):
    by coin, as they are, to be protected again at their full size."""
    amounts = {order.client_order_id: order.amount for order in orders}
    return {
        coin: position
        for coin, position in book.positions.items()
        if any(
            cid in amounts and abs(amounts[cid] - position.amount) > 1e-9 * max(1.0, position.amount)
            for cid in (position.stop_order_id, position.take_profit_order_id)
        )
    }


def _adopt_liquidation(book: BotState, seen: Iterable[ExchangePosition]) -> None:
    """The exchange's liquidation price wins over the bot's estimate (its margin tiers are exact)."""
    for position in seen:
        held = book.positions.get(position.coin)
        if held is not None and position.liquidation_price is not None:
            held.liquidation_price = position.liquidation_price


def _entry_intent(plan: OrderPlan, now: datetime, profile: VenueProfile) -> OrderIntent:
    return OrderIntent(
        kind=IntentKind.ENTRY,
        client_order_id=profile.client_id(plan.client_order_id),
        coin=plan.coin,
        symbol=plan.symbol,
        side=plan.side,
        amount=plan.amount,
        reference_price=plan.reference_price,
        leverage=plan.leverage,
        created_at=now,
        **plan.order_terms(),
    )
