"""Paper broker: a simulated USDT-margined perpetual account, no exchange involved.

The rules, which docs/paper-broker.md explains for users:

- Market orders (the tick's decisions) fill in full at once, at the tick's last price
  moved against the order by ``paper.slippage_pct`` (a buy fills higher, a sell lower),
  and pay the taker fee, ``paper.taker_fee_pct`` of the fill's notional, from cash.
- Isolated margin: an entry locks notional / leverage of margin; an add raises the
  amount, averages the entry price and adds its margin; a close releases the margin and
  books the PnL (before fees) into cash. The liquidation price follows from the margin
  and the market's maintenance-margin rate (bot/margin.py).
- ``settle`` runs before the strategy decides and walks, per open position and in time
  order, every 3m candle that closed since the position was last settled and every
  funding settlement in between, at the market's own interval (``MarketInfo.funding_interval_h``:
  Binance 00:00, 08:00, 16:00 UTC; Hyperliquid every hour; Bybit per symbol):
  * funding at time T (before the candle that opens at T): a position open at T pays
    ``rate x amount x price`` when long and the rate is positive (receives it when short;
    reversed when negative). Each settlement is charged its own rate: the history market
    hands over the settlements recorded over the candles' span, and the newest at or before
    T is T's. One settled an interval or more before T is an earlier settlement's (the
    funding history ends there): T is not charged and the tick is degraded with a
    ``funding_stale`` correction; with no rate at all, likewise, ``funding_unknown``. A live
    snapshot carries only the latest rate, its age unknown: every settlement since the last
    tick uses it (exact for ticks every 3 minutes, an approximation after a pause of hours).
    The price is the close of the candle ending at T: the venue values the position at its
    mark price at T (Binance: "position notional x funding rate" at the funding timestamp),
    whose nearest recorded trade is that close; it is what a tick at T sees, so a tick on
    time and one after a pause (which also holds the candle opening at T) charge the same.
  * a candle that OPENS beyond a trigger (a gap): beyond the liquidation price -> the
    position is liquidated; beyond the stop-loss -> stopped at the open; beyond the
    take-profit -> taken at the open.
  * otherwise the candle's low/high against the triggers: the stop-loss first when both
    the stop-loss and the take-profit lie inside one candle (the price path inside a
    candle is unknown, so assume the worse), then liquidation, then the take-profit.
  * a triggered stop-loss or take-profit is a market order: it fills at the trigger
    price (or the gapped open) with slippage against it and the taker fee, stamped with
    the close time of the candle (its open for a gap).
  * a liquidation closes the position at its bankruptcy price: the whole isolated margin
    is lost and no fee is charged on top (the exchange keeps the rest as its fee).
- Positions carry ``settled_until`` in the state file, so a tick after a pause settles
  every missed trigger and funding. Only the candles in the snapshot (500 x 3m = 25 h)
  can be replayed: a longer pause settles from the oldest candle it has, with a warning.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime

import numpy as np
import structlog

from bot.clock import TIMEFRAME_MS
from bot.config import PaperSettings, Settings
from bot.models import (
    CoinMarket,
    Correction,
    CorrectionKind,
    Fill,
    FillReason,
    FundingPayment,
    OrderPlan,
    Position,
    Side,
    Snapshot,
)
from bot.tick.margin import bankruptcy_price
from bot.tick.protocols import Book
from bot.venues.booking import book_close, book_entry, fee_usd, opposite

log = structlog.get_logger(__name__)

_CANDLE_MS = TIMEFRAME_MS["3m"]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _at(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def funding_times_ms(after_ms: int, until_ms: int, *, interval_h: float = 8.0) -> list[int]:
    """Funding settlement times T with ``after_ms < T <= until_ms``: whole multiples of the
    market's interval since the epoch (Binance 00:00, 08:00, 16:00 UTC; Hyperliquid every hour)."""
    step = round(interval_h * 3_600_000)
    first = (after_ms // step + 1) * step
    return list(range(first, until_ms + 1, step))


class PaperBroker:
    def __init__(self, settings: PaperSettings, *, builder_fee_pct: float = 0.0) -> None:
        # Hyperliquid with `exchange.builder_fee` on: ccxt's builder takes its cut of every fill too
        self.fee_rate = (settings.taker_fee_pct + builder_fee_pct) / 100.0
        self.slippage = settings.slippage_pct / 100.0
        self.corrections: list[Correction] = []  # the tick takes them: a funding left uncharged degrades it

    def fill_price(self, price: float, *, buying: bool) -> float:
        return price * (1.0 + self.slippage) if buying else price * (1.0 - self.slippage)

    async def execute(
        self, plans: list[OrderPlan], *, book: Book, prices: dict[str, float], now: datetime
    ) -> list[Fill]:
        fills = []
        for plan in plans:
            fill = self._fill(plan, book=book, price=prices.get(plan.coin, plan.reference_price), now=now)
            if fill is not None:
                fills.append(fill)
        return fills

    async def settle(self, *, book: Book, snapshot: Snapshot, now: datetime) -> list[Fill]:
        """Book every trigger and funding since each position was last settled, in time order."""
        fills: list[Fill] = []
        payments: list[FundingPayment] = []
        for coin in sorted(book.positions):
            market = snapshot.coins.get(coin)
            if market is None or len(market.candles_3m) == 0:
                continue  # no data this tick: the next tick that has it settles the gap
            fill = self._settle_position(coin, book=book, market=market, payments=payments)
            if fill is not None:
                fills.append(fill)
        book.funding_payments = sorted(payments, key=lambda payment: payment.at)
        return sorted(fills, key=lambda fill: fill.at)

    # -- orders -------------------------------------------------------------------

    def _fill(self, plan: OrderPlan, *, book: Book, price: float, now: datetime) -> Fill | None:
        position = book.positions.get(plan.coin)
        if plan.reduce_only and position is None:
            log.warning("close_without_position", coin=plan.coin, client_order_id=plan.client_order_id)
            return None  # already closed (e.g. stopped out): nothing to do
        if not plan.reduce_only and opposite(position, plan.side):
            raise ValueError(f"{plan.coin}: cannot open a {plan.side} while a {position.side} is open (close it first)")
        # Opening a long or closing a short buys; the other two sell.
        buying = (plan.side is Side.LONG) != plan.reduce_only
        fill_price = self.fill_price(price, buying=buying)
        if plan.reduce_only:
            return self._close(
                book,
                plan.coin,
                price=fill_price,
                amount=min(plan.amount, position.amount),
                reason=FillReason.DECISION,
                client_order_id=plan.client_order_id,
                at=now,
            )
        return book_entry(
            book,
            plan,
            amount=plan.amount,
            price=fill_price,
            fee_usd=fee_usd(amount=plan.amount, price=fill_price, rate=self.fee_rate),
            client_order_id=plan.client_order_id,
            opened_at=now,
            at=now,
            settled_until=now,
        )

    def _close(
        self,
        book: Book,
        coin: str,
        *,
        price: float,
        amount: float,
        reason: FillReason,
        client_order_id: str,
        at: datetime,
    ) -> Fill:
        """Close ``amount`` of the position at ``price`` (already slipped): PnL and fee into cash
        (a liquidation pays no fee: the exchange keeps what is left of the margin)."""
        liquidation = reason is FillReason.LIQUIDATION
        fee = 0.0 if liquidation else fee_usd(amount=amount, price=price, rate=self.fee_rate)
        return book_close(
            book, coin, amount=amount, price=price, fee_usd=fee, reason=reason, client_order_id=client_order_id, at=at
        )

    # -- settlement ---------------------------------------------------------------

    def _settle_position(
        self, coin: str, *, book: Book, market: CoinMarket, payments: list[FundingPayment]
    ) -> Fill | None:
        position = book.positions[coin]
        candles = market.candles_3m
        start_ms = _ms(position.settled_until or position.opened_at)
        horizon_ms = int(candles[-1, 0]) + _CANDLE_MS  # close time of the newest closed candle
        if horizon_ms <= start_ms:
            return None
        if candles[0, 0] > start_ms:
            log.warning(
                "settle_gap_not_covered",
                coin=coin,
                settled_until=_at(start_ms).isoformat(),
                oldest_candle=_at(candles[0, 0]).isoformat(),
            )
        # The candles closing after start_ms, each with the funding due at or before its open
        # first (funding at T comes before the candle that opens at T), then what is due after
        # the last of them.
        first = _first_closing_after(candles, start_ms)
        funding = funding_times_ms(start_ms, horizon_ms, interval_h=market.info.funding_interval_h)
        for row in candles[first:].tolist():
            while funding and funding[0] <= row[0]:
                self._pay(position, book=book, market=market, at_ms=funding.pop(0), payments=payments)
            fill = self._trigger(coin, book=book, row=row)
            if fill is not None:
                return fill
        for at_ms in funding:
            self._pay(position, book=book, market=market, at_ms=at_ms, payments=payments)
        position.settled_until = _at(max(start_ms, horizon_ms))
        return None

    def _pay(
        self, position: Position, *, book: Book, market: CoinMarket, at_ms: int, payments: list[FundingPayment]
    ) -> None:
        rate, rate_ms = _rate_for(market, at_ms)
        interval_ms = round(market.info.funding_interval_h * 3_600_000)
        # said loudly: the settlement passes uncharged, the account is off by it
        if rate is None:
            message = (
                f"funding at {_at(at_ms):%Y-%m-%d %H:%M} UTC not charged: no funding rate for {position.coin} "
                "(a data folder needs funding_8h/)"
            )
            self.corrections.append(
                Correction(kind=CorrectionKind.FUNDING_UNKNOWN, coin=position.coin, message=message, alert=True)
            )
            return
        if rate_ms is not None and at_ms - rate_ms >= interval_ms:
            message = (
                f"funding at {_at(at_ms):%Y-%m-%d %H:%M} UTC not charged: the newest {position.coin} rate was settled "
                f"at {_at(rate_ms):%Y-%m-%d %H:%M} UTC, an earlier settlement's (the funding history ends there)"
            )
            self.corrections.append(
                Correction(kind=CorrectionKind.FUNDING_STALE, coin=position.coin, message=message, alert=True)
            )
            return
        price = _price_at(market.candles_3m, at_ms, fallback=market.last_price)
        direction = 1.0 if position.side is Side.LONG else -1.0
        amount_usd = -direction * rate * position.amount * price
        book.cash_usd += amount_usd
        book.funding_usd += amount_usd
        position.funding_usd += amount_usd
        payments.append(
            FundingPayment(
                coin=position.coin, side=position.side, at=_at(at_ms), rate=rate, price=price, amount_usd=amount_usd
            )
        )

    def _trigger(self, coin: str, *, book: Book, row: list[float]) -> Fill | None:
        """Close the position if this candle reaches its liquidation, stop-loss or take-profit."""
        position = book.positions[coin]
        open_ms, open_, high, low = int(row[0]), row[1], row[2], row[3]
        long = position.side is Side.LONG
        worst, best = (low, high) if long else (high, low)
        liq, stop, take = position.liquidation_price, position.stop_loss, position.take_profit

        def against(price: float, level: float | None) -> bool:  # at or past a loss-side level
            return level is not None and (price <= level if long else price >= level)

        def beyond(price: float, level: float | None) -> bool:  # at or past a profit-side level
            return level is not None and (price >= level if long else price <= level)

        stop_first = liq is None or (stop is not None and (stop > liq if long else stop < liq))
        if against(open_, liq):
            hit = (FillReason.LIQUIDATION, 0.0, open_ms)
        elif against(open_, stop):
            hit = (FillReason.STOP_LOSS, open_, open_ms)
        elif beyond(open_, take):
            hit = (FillReason.TAKE_PROFIT, open_, open_ms)
        elif against(worst, stop) and stop_first:
            hit = (FillReason.STOP_LOSS, stop, open_ms + _CANDLE_MS)
        elif against(worst, liq):
            hit = (FillReason.LIQUIDATION, 0.0, open_ms + _CANDLE_MS)
        elif beyond(best, take):
            hit = (FillReason.TAKE_PROFIT, take, open_ms + _CANDLE_MS)
        else:
            return None
        reason, trigger, at_ms = hit
        if reason is FillReason.LIQUIDATION:
            price = bankruptcy_price(
                side=position.side,
                amount=position.amount,
                entry_price=position.entry_price,
                margin_usd=position.margin_usd,
            )
        else:
            price = self.fill_price(trigger, buying=not long)  # closing a long sells
        at = _at(at_ms)
        client_order_id = f"paper-{coin}-{reason.value}-{at:%y%m%dT%H%M}"[:36]
        return self._close(
            book, coin, price=price, amount=position.amount, reason=reason, client_order_id=client_order_id, at=at
        )


def _first_closing_after(candles: np.ndarray, start_ms: int) -> int:
    """The index of the first candle that closes after ``start_ms``. A tick settles the one
    or two candles since the last: counted back from the newest when the candles are evenly
    spaced there, else searched."""
    newer = -(
        -(int(candles[-1, 0]) + _CANDLE_MS - start_ms) // _CANDLE_MS
    )  # candles closing after start_ms, if evenly spaced
    first = len(candles) - newer
    if 0 < first < len(candles) and candles[first, 0] + _CANDLE_MS > start_ms >= candles[first - 1, 0] + _CANDLE_MS:
        return first
    return int(candles[:, 0].searchsorted(start_ms - _CANDLE_MS, side="right"))


def _rate_for(market: CoinMarket, at_ms: int) -> tuple[float | None, int | None]:
    """The rate of the settlement at ``at_ms`` and when it was settled: the newest recorded at
    or before it (None, None when none is); without records (live) the snapshot's rate, its
    settlement time unknown."""
    if not market.funding_rates:
        return market.funding_rate, None
    index = bisect_right(market.funding_rates, at_ms, key=lambda settlement: settlement[0])
    if index == 0:
        return None, None
    rate_ms, rate = market.funding_rates[index - 1]
    return rate, rate_ms


def _price_at(candles: np.ndarray, at_ms: int, *, fallback: float) -> float:
    """The price at ``at_ms``: the close of the candle ending then (the last trade before the
    settlement, what the tick at T sees), else the open of the one starting then (a gap)."""
    index = int(np.searchsorted(candles[:, 0], at_ms))
    if index > 0 and candles[index - 1, 0] + _CANDLE_MS == at_ms:
        return float(candles[index - 1, 4])
    if index < len(candles) and candles[index, 0] == at_ms:
        return float(candles[index, 1])
    return fallback


def paper_broker(settings: Settings) -> PaperBroker:
    """The paper book of ``settings``: its fees and slippage, plus the venue's builder fee
    where the owner opted in (a paper fill costs what the venue's would). `bot tick`, the
    backtest loop and every arena candidate build their paper broker here."""
    from bot.venues.profiles import builder_fee_pct

    exchange = settings.exchange
    return PaperBroker(settings.paper, builder_fee_pct=builder_fee_pct(exchange.id, opted_in=exchange.builder_fee))
