"""What the exchange holds, read through the order desk's calls (retries, answer checks):
balance, positions and open orders, as one ``ExchangeView`` for the broker's reconciliation.
A hedge-mode account is refused here, before the bot's first order on a symbol."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.errors import ConfigError
from bot.exchange_models import ExchangeOrder, ExchangePosition, ExchangeView
from bot.ops.state import BotState
from bot.venues.ccxt_answers import equity_of, orders_from, positions_from, trades_from
from bot.venues.orders import OrderDesk


class Holdings:
    """Reads what the exchange holds; ``desk`` makes the calls (and knows the tick's time)."""

    def __init__(self, desk: OrderDesk) -> None:
        self.desk = desk
        self._mode_checked = False  # one-way mode confirmed for the symbols the bot has not traded yet

    async def positions(self) -> dict[str, ExchangePosition]:
        markets = self.desk.exchange.markets
        return await self.desk.call(
            self.desk.exchange.fetch_positions, check=lambda rows: positions_from(self._one_way(rows), markets)
        )

    def _one_way(self, rows: Any) -> Any:
        """The bot books one position per coin: a hedge-mode account is refused before anything is sent."""
        if (
            self.desk.profile.one_way
            and isinstance(rows, list)
            and any(isinstance(r, dict) and r.get("hedged") for r in rows)
        ):
            raise ConfigError(
                f"the {self.desk.profile.id} account is in hedge mode (positionIdx 1 / 2), "
                "and the bot trades one-way mode only: "
                "switch the USDT perpetuals to one-way mode in the exchange's position settings, then run again"
            )
        return rows

    async def trades_since(self, symbol: str, since_ms: int) -> list[dict[str, Any]]:
        """The account's fills on ``symbol`` since ``since_ms``: ccxt's trades, and the execution types
        its trades leave out where the venue lists them apart (``VenueProfile.more_fills``)."""
        fetch = self.desk.exchange.fetch_my_trades
        lists = await asyncio.gather(
            self.desk.call(fetch, symbol, since_ms, check=trades_from),
            *(
                self.desk.call(fetch, symbol, since_ms, None, {"execType": kind}, check=trades_from)
                for kind in self.desk.profile.more_fills
            ),
        )
        return [trade for rows in lists for trade in rows]

    async def open_orders(self, book: BotState) -> list[ExchangeOrder]:
        """Regular and trigger orders, one request each per configured or held coin (sent together)."""
        coins = list(dict.fromkeys([*self.desk.settings.trading.coins, *book.positions]))
        symbols = [self.desk.symbol(coin) for coin in coins if self.desk.symbol(coin) in self.desk.exchange.markets]
        fetch, markets = self.desk.exchange.fetch_open_orders, self.desk.exchange.markets
        batches = await asyncio.gather(
            *(
                self.desk.call(fetch, symbol, None, None, params, check=lambda rows: orders_from(rows, markets))
                for symbol in symbols
                for params in (
                    (self.desk.profile.regular_orders, {"trigger": True})
                    if self.desk.profile.trigger_orders_apart
                    else (self.desk.profile.regular_orders,)
                )
            )
        )
        unique = {(order.coin, order.client_order_id): order for batch in batches for order in batch}
        return list(unique.values())  # one order listed in both lists counts once

    async def view(
        self, book: BotState, *, known: tuple[dict[str, ExchangePosition], list[ExchangeOrder]] | None = None
    ) -> ExchangeView:
        """Balance, positions and open orders now; ``known`` positions and orders are reused, not fetched again."""
        quote = self.desk.settings.trading.quote
        if (
            self.desk.profile.one_way and not self._mode_checked
        ):  # a symbol's empty rows show the mode before its first order
            fresh = [
                self.desk.symbol(c)
                for c in self.desk.settings.trading.coins
                if self.desk.symbol(c) not in book.leverage_set
            ]
            await asyncio.gather(
                *(
                    self.desk.call(self.desk.exchange.fetch_positions, [s], check=self._one_way)
                    for s in fresh
                    if s in self.desk.exchange.markets
                )
            )
            self._mode_checked = True
        total, (positions, orders) = await asyncio.gather(
            self.desk.call(self.desk.exchange.fetch_balance, check=lambda balance: equity_of(balance, quote)),
            _value(known) if known else asyncio.gather(self.positions(), self.open_orders(book)),
        )
        unrealized = sum(p.unrealized_pnl_usd for p in positions.values())
        equity = total + unrealized if self.desk.profile.balance_is_wallet else total
        return ExchangeView(
            as_of=self.desk.now,
            cash_usd=equity - unrealized,
            equity_usd=equity,
            positions=list(positions.values()),
            open_orders=orders,
        )


async def _value(value: Any) -> Any:
    return value
