"""Protection of the live broker's positions (``Protection``, handed the order desk it sends
through): the reduce-only stop-loss and take-profit every position carries, re-placed when
missing, replaced (new ids, full size) after an add or a partial close, and the market exit
when no stop-loss can be placed. Opening and closing live here too, since each ends by
fixing the protection (and a stop that cannot be placed ends in a close).

The stop-loss is tried ``live.stop_attempts`` times, looking its client id up before each
retry (a try that timed out may have landed); if it still cannot be placed the position is
closed at market and the owner alerted. Binance futures has no OCO: when one of the pair
fills, the next reconciliation cancels the other.
"""

from __future__ import annotations

import contextlib
import math

import structlog

from bot.config import Settings
from bot.exchange_models import IntentKind, OrderIntent
from bot.models import CorrectionKind, Fill, OrderPlan, Position
from bot.ops.state import BotState
from bot.tick.risk import client_order_id
from bot.venues.ccxt_lean import lean_ccxt
from bot.venues.exchange import describe, margin_mode_refusal
from bot.venues.orders import OrderDesk, reason_of

log = structlog.get_logger("bot.venues.ccxt_broker")

_LEGS = {IntentKind.STOP_LOSS: "sl", IntentKind.TAKE_PROFIT: "tp", IntentKind.CLOSE: "close", IntentKind.EXIT: "exit"}


class Protection:
    """Opening, closing and protecting positions, through the order desk it is handed."""

    def __init__(self, desk: OrderDesk, settings: Settings) -> None:
        self._desk = desk
        self.settings = settings
        self._refused: tuple[str, str] | None = None  # (tick id, why): a margin mode the venue refused this tick

    async def protect(
        self, coin: str, book: BotState, open_ids: set[str], *, avoid: frozenset[str] | set[str] = frozenset()
    ) -> list[Fill]:
        """Re-place a missing stop-loss / take-profit of an open position (the stop first)."""
        position = book.positions[coin]
        fills: list[Fill] = []
        if position.stop_loss is not None and position.stop_order_id not in open_ids:
            if position.stop_order_id:
                self._desk.note(
                    CorrectionKind.STOP_REPLACED,
                    coin,
                    f"stop-loss {position.stop_order_id} is not open: placing it again",
                )
            book.positions[coin] = position.model_copy(update={"stop_order_id": None})
            fills += await self._place_protection(coin, IntentKind.STOP_LOSS, book, avoid=avoid | open_ids)
        position = book.positions.get(coin)
        if position is not None and position.take_profit is not None and position.take_profit_order_id not in open_ids:
            if position.take_profit_order_id:
                self._desk.note(
                    CorrectionKind.STOP_REPLACED,
                    coin,
                    f"take-profit {position.take_profit_order_id} is not open: placing it again",
                )
            book.positions[coin] = position.model_copy(update={"take_profit_order_id": None})
            fills += await self._place_protection(coin, IntentKind.TAKE_PROFIT, book, avoid=avoid | open_ids)
        return fills

    async def open(self, intent: OrderIntent, book: BotState, *, looked_up: bool = False) -> list[Fill]:
        """Send an entry (or an add) and protect what it filled. In a re-run of a tick its id is looked
        up first (unless the caller just did): the run killed, or run before in its minute, may have
        sent it for an order that ended unfilled (no position records this tick's entry then), and
        the venue takes an id again once its order is no longer open: two entries for one decision."""
        earlier = await self._desk.lookup(intent) if self._desk.rerun and not looked_up else None
        if earlier is not None:
            self._desk.note(
                CorrectionKind.DROPPED_INTENT,
                intent.coin,
                f"{intent.kind} {intent.client_order_id} not sent: an earlier run of this tick sent it (ended "
                f"{earlier.get('status')}, {float(earlier.get('filled') or 0):g} filled); a re-run of a tick opens "
                "nothing more",
            )
            return []
        await self._prepare_symbol(intent.symbol, intent.leverage, book)
        intent = intent.model_copy(update={"leverage": book.leverage_set.get(intent.symbol, intent.leverage)})
        order = await self._desk.send(intent, book, "entry")
        if order is None:
            return []
        before = book.positions.get(intent.coin)
        fill = await self._desk.record_entry(intent, order, book)
        if fill is None:
            return []
        return [fill, *await self.reprotect(intent.coin, book, old=before)]

    async def reprotect(self, coin: str, book: BotState, *, old: Position | None) -> list[Fill]:
        """Protect the position as it is now (new ids, full size), then cancel the orders that
        protected it before (an add or a partial close): never a moment without a stop."""
        stale = {cid for cid in ((old.stop_order_id, old.take_profit_order_id) if old else ()) if cid}
        if coin in book.positions:
            book.positions[coin] = book.positions[coin].model_copy(
                update={"stop_order_id": None, "take_profit_order_id": None}
            )
        fills = await self.protect(coin, book, set(), avoid=stale) if coin in book.positions else []
        for cid in sorted(stale):
            await self._desk.cancel(coin, cid, conditional=True)
        self._desk.save(book)
        return fills

    async def close(self, coin: str, book: BotState, kind: IntentKind, *, plan: OrderPlan | None = None) -> list[Fill]:
        """Close ``plan.amount`` (all when there is no plan) at market, then fix the protection."""
        position = book.positions[coin]
        intent = self._reduce_intent(position, kind)
        if plan is not None:
            cid = self._desk.profile.client_id(plan.client_order_id)
            intent = intent.model_copy(update={"client_order_id": cid, "amount": min(plan.amount, position.amount)})
        order = await self._desk.send(intent, book, "close", reject_quietly=kind is IntentKind.CLOSE)
        if order is None:
            return []
        fill = await self._desk.record_close(intent, order, book, reason=reason_of(intent))
        if fill is None:  # it filled nothing: the position and its protection are as they were
            return []
        return [fill, *await self.reprotect(coin, book, old=position)]

    def _reduce_intent(
        self, position: Position, kind: IntentKind, *, avoid: frozenset[str] | set[str] = frozenset()
    ) -> OrderIntent:
        """A reduce-only order for the whole of ``position``: its stop-loss, take-profit or a close.
        Its client id is the leg's (``sl``, ``tp`` ...), or ``sl2``, ``sl3`` ... when that id is
        one being replaced or already sent this tick (ids must be unique among open orders,
        and a lookup by id must find one order)."""
        trigger = {IntentKind.STOP_LOSS: position.stop_loss, IntentKind.TAKE_PROFIT: position.take_profit}.get(kind)
        leg = _LEGS[kind]
        cid = self._desk.profile.client_id(client_order_id(self._desk.tick_id, position.coin, leg))
        for n in range(2, 10):
            if cid not in avoid and cid not in self._desk.sent:
                break
            cid = self._desk.profile.client_id(client_order_id(self._desk.tick_id, position.coin, f"{leg}{n}"))
        return OrderIntent(
            kind=kind,
            client_order_id=cid,
            coin=position.coin,
            symbol=position.symbol,
            side=position.side,
            amount=position.amount,
            reference_price=self._desk.prices.get(position.coin, position.entry_price),
            leverage=position.leverage,
            trigger_price=trigger,
            created_at=self._desk.now,
        )

    async def _place_protection(
        self, coin: str, kind: IntentKind, book: BotState, *, avoid: frozenset[str] | set[str] = frozenset()
    ) -> list[Fill]:
        """Place the stop-loss (``live.stop_attempts`` tries, then close) or the take-profit (one try)."""
        ccxt = lean_ccxt()

        position = book.positions[coin]
        intent = self._reduce_intent(position, kind, avoid=avoid)
        attempts = self.settings.live.stop_attempts if kind is IntentKind.STOP_LOSS else 1
        error: BaseException | None = None
        for attempt in range(1, attempts + 1):
            try:
                if attempt == 1:
                    intent = await self._unused(intent, position, kind, avoid=avoid)
                landed = (
                    await self._desk.lookup(intent) if attempt > 1 else None
                )  # a try that timed out may have landed
                if (landed is not None and landed.get("status") == "open") or await self._desk.send(
                    intent, book, "stop", reject_quietly=False
                ):
                    key = "stop_order_id" if kind is IntentKind.STOP_LOSS else "take_profit_order_id"
                    book.positions[coin] = book.positions[coin].model_copy(update={key: intent.client_order_id})
                    self._desk.forget(intent, book)
                    self._desk.save(book)
                    return []
            except ccxt.BaseError as exc:
                error = exc
                log.warning("protection_failed", coin=coin, kind=kind, attempt=attempt, error=describe(exc))
                if isinstance(exc, ccxt.OrderImmediatelyFillable):
                    break  # the price is already past the level: trying again cannot help
        self._desk.forget(intent, book)
        why = describe(error) if error else "unknown"
        if kind is IntentKind.TAKE_PROFIT:
            self._desk.note(
                CorrectionKind.ERROR,
                coin,
                f"take-profit could not be placed ({why}); the stop-loss still protects it",
                alert=True,
            )
            return []
        try:
            fills = await self.close(coin, book, IntentKind.EXIT)
        except ccxt.BaseError as exc:
            self._desk.note(
                CorrectionKind.UNPROTECTED,
                coin,
                f"OPEN WITHOUT A STOP-LOSS: placing it failed ({why}) and closing failed ({describe(exc)}); "
                "close it by hand now",
                alert=True,
            )
            return []
        self._desk.note(
            CorrectionKind.STOP_FAILED,
            coin,
            f"stop-loss could not be placed after {attempt} tries ({why}): position closed at market",
            alert=True,
        )
        return fills

    async def _unused(
        self, intent: OrderIntent, position: Position, kind: IntentKind, *, avoid: frozenset[str] | set[str]
    ) -> OrderIntent:
        """The intent under an id the exchange has never seen. A run of this same tick that was
        killed (same tick id, same leg ids) may have sent it for an order since cancelled, e.g.
        before a same-minute re-run flips the position: the exchange would accept it again, and
        a lookup by id must find one order."""
        while await self._desk.lookup(intent) is not None:
            self._desk.sent.add(intent.client_order_id)
            again = self._reduce_intent(position, kind, avoid=avoid)
            if again.client_order_id == intent.client_order_id:
                break  # every suffix taken: the exchange's own duplicate check is left
            intent = again
        return intent

    async def _prepare_symbol(self, symbol: str, leverage: float, book: BotState) -> None:
        """Before the first order on a symbol: margin mode, then leverage (whole numbers on most exchanges)."""
        ccxt = lean_ccxt()

        wanted = float(max(1, math.floor(leverage)))
        if self._desk.profile.leverage_sets_margin:  # one call sets both (Hyperliquid: cross unless told isolated)
            if book.leverage_set.get(symbol) != wanted:
                await self._desk.call(
                    self._desk.exchange.set_leverage,
                    int(wanted),
                    symbol,
                    {"marginMode": self.settings.live.margin_mode},
                )
                book.leverage_set[symbol] = wanted
            return
        if symbol not in book.leverage_set:
            await self._set_margin_mode(symbol)
        if book.leverage_set.get(symbol) != wanted:
            try:
                await self._desk.call(self._desk.exchange.set_leverage, int(wanted), symbol)
            except ccxt.BadRequest as exc:
                # Bybit retCode 110043 "leverage not modified": the symbol has that leverage already
                # (Bybit's default 10x, or a retry after a lost answer): what was asked holds
                if "110043" not in str(exc):
                    raise
            book.leverage_set[symbol] = wanted

    async def _set_margin_mode(self, symbol: str) -> None:
        """``live.margin_mode`` for the symbol (on a Bybit unified account: for the whole account).
        A switch Bybit refuses (3400045, its reasons) is asked once a tick: the entries after it
        are not sent, and the next tick asks again (the owner may have fixed what it names)."""
        ccxt = lean_ccxt()

        mode = self.settings.live.margin_mode
        if self._refused is not None and self._refused[0] == self._desk.tick_id:
            raise MarginModeRefused(self._refused[1])
        try:
            with contextlib.suppress(ccxt.MarginModeAlreadySet):
                await self._desk.call(self._desk.exchange.set_margin_mode, mode, symbol)
        except ccxt.ExchangeError as exc:
            reasons = margin_mode_refusal(exc)
            if reasons is None:
                raise
            why = (
                f"{self._desk.profile.id} refused to set the account's margin mode to {mode} (retCode 3400045): "
                f"{reasons}; switch it on the exchange or set live.margin_mode to the account's"
            )
            self._refused = (self._desk.tick_id, why)
            raise MarginModeRefused(why) from None


class MarginModeRefused(Exception):
    """The venue refused the margin mode ``live.margin_mode`` asks for: no entry is sent in a
    mode the owner did not choose (the message is the one line the owner reads)."""
