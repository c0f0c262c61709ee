"""The private half of the fake Binance USD-M API: one futures account the real ccxt trades on.

Model (one-way position mode, USDT only):
- Market orders fill in full at once at the coin's current price (``prices[coin]`` if a
  test set it, else the close of the last visible 3m candle) and pay a 0.05 % taker fee.
- Conditional orders (STOP_MARKET / TAKE_PROFIT_MARKET) live on the Algo Order API
  (``/fapi/v1/algoOrder``, client id ``clientAlgoId``). Before every private request the
  fake checks them against the current price: a stop triggers when the price is at or
  beyond its trigger price, and then fills as a reduce-only market order at the current
  price; with no position left to reduce it expires.
- Asynchronous answers, scripted per entry (``entry_answers``, one ``EntryAnswer`` per market
  entry, consumed in order): accepted with nothing filled (``NEW``) or part filled
  (``PARTIALLY_FILLED``), the rest filling a number of private requests later (or never:
  the rest expires), every fill a share of the price worse. Sources: Binance USD-M "New Order"
  answers ``status`` NEW with ``executedQty`` 0 for a market order under the default ACK
  response type (the fill arrives after; ccxt's ``binance.parse_order_status`` maps NEW /
  PARTIALLY_FILLED to open, EXPIRED to expired); Bybit v5 ``orderStatus`` New ->
  PartiallyFilled -> Filled (ccxt ``bybit.parse_order_status``); a market order fills
  against the book, so at worse prices than the last trade when it is thin.
- Client order ids are unique among OPEN orders only, as Binance documents: re-sending
  the id of a filled market order is accepted and fills again. -4116 only for an id that
  is open right now.
- Rejections as Binance sends them: -2019 margin insufficient, -4164 notional below the
  minimum, -1111 quantity precision, -2021 a stop that would trigger at once, -2022 a
  reduce-only order that would not reduce, -2013 unknown order, -4046 margin type already
  set. Any of them can also be scripted with ``FakeExchange.inject``.
- Auth: ``X-MBX-APIKEY`` must equal ``api_key`` (else 401 / -2015) and the HMAC-SHA256
  signature of the query must match ``api_secret`` (else -1022).

``orders`` is the order log (every order and algo order ever accepted, in order) and
``trades`` the fills; tests assert on both.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

TAKER_FEE = 0.0005
REGULAR, ALGO = "order", "algo"
OPEN_STATUSES = {"NEW", "PARTIALLY_FILLED"}
_ids = itertools.count(1_000_001)


@dataclass(frozen=True)
class EntryAnswer:
    """How the venue answers one market entry (see the module's note for the sources)."""

    now: float = 0.0  # share of the quantity filled in the moment of the create answer
    later: int = 1  # private requests after the create before the rest is settled (>= 1)
    rest: str = "fill"  # the rest then "fill"s, or "expire"s (the book ran out / IOC)
    slip: float = 0.0  # every fill this share of the price worse for the taker


class Reject(Exception):
    """A Binance error answer: HTTP status, code and message."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class FakeOrder:
    kind: str  # order | algo
    id: int
    client_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | STOP_MARKET | TAKE_PROFIT_MARKET
    quantity: float
    reduce_only: bool
    status: str
    created_ms: int
    trigger_price: float | None = None
    avg_price: float = 0.0
    executed_qty: float = 0.0
    updated_ms: int = 0
    actual_order_id: int | None = None

    def as_binance(self) -> dict:
        """An order as Binance USD-M answers it: a conditional one in the Algo Order API's shape (Binance
        "New Algo Order", ccxt 4.5.90 binance.parse_order reads algoId / clientAlgoId / algoStatus), a
        regular one with the fields ccxt's recorded binance createOrders (swap) answer carries."""
        if self.kind == ALGO:
            return {
                "algoId": self.id,
                "clientAlgoId": self.client_id,
                "algoType": "CONDITIONAL",
                "orderType": self.type,
                "symbol": self.symbol,
                "side": self.side,
                "positionSide": "BOTH",
                "timeInForce": "GTC",
                "quantity": _text(self.quantity),
                "algoStatus": self.status,
                "triggerPrice": _text(self.trigger_price or 0),
                "price": "0",
                "icebergQuantity": None,
                "selfTradePreventionMode": "EXPIRE_MAKER",
                "workingType": "CONTRACT_PRICE",
                "priceMatch": "NONE",
                "closePosition": False,
                "priceProtect": False,
                "reduceOnly": self.reduce_only,
                "actualOrderId": str(self.actual_order_id or ""),
                "actualPrice": _text(self.avg_price),
                "createTime": self.created_ms,
                "updateTime": self.updated_ms or self.created_ms,
                "triggerTime": 0,
                "goodTillDate": 0,
            }
        return {
            "orderId": self.id,
            "symbol": self.symbol,
            "status": self.status,
            "clientOrderId": self.client_id,
            "price": "0",
            "avgPrice": _text(self.avg_price),
            "origQty": _text(self.quantity),
            "executedQty": _text(self.executed_qty),
            "cumQty": _text(self.executed_qty),
            "cumQuote": _text(self.executed_qty * self.avg_price),
            "timeInForce": "GTC",
            "type": self.type,
            "reduceOnly": self.reduce_only,
            "closePosition": False,
            "side": self.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": self.type,
            "priceMatch": "NONE",  # recorded binance createOrders (swap) lists these three
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "time": self.created_ms,
            "updateTime": self.updated_ms or self.created_ms,
        }


@dataclass
class FakePosition:
    amount: float = 0.0  # signed: > 0 long, < 0 short
    entry_price: float = 0.0


def _text(value: float) -> str:
    return format(Decimal(repr(float(value))).normalize(), "f")


def _is_multiple(value: float, step: float) -> bool:
    return (Decimal(repr(value)) % Decimal(repr(step))) == 0


@dataclass
class FakeAccount:
    """State of one USDT-M futures account; every method runs under the server's lock."""

    price_of: Callable[[str], float]
    clock_ms: Callable[[], int]
    rules: dict[str, tuple[str, str, str]]  # coin -> (tick, step, min notional)
    wallet_usd: float = 10_000.0
    api_key: str = "test-key"
    api_secret: str = "test-secret"
    orders: list[FakeOrder] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)
    positions: dict[str, FakePosition] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    margin_type: dict[str, str] = field(default_factory=dict)
    # Below 1: a market entry fills only this share of its quantity (whole lot steps) and ends
    # EXPIRED, as Binance's market orders do when the book runs out inside the price band.
    fill_fraction: float = 1.0
    entry_answers: list[EntryAnswer] = field(default_factory=list)  # scripted answers of the next entries
    working: dict[int, tuple[FakeOrder, EntryAnswer, int]] = field(default_factory=dict)  # id -> rest to settle
    starts: dict[int, float] = field(default_factory=dict)  # trade id -> the signed position before it

    # -- auth ---------------------------------------------------------------------------------
    def check_auth(self, api_key: str | None, signed_query: str) -> None:
        if api_key != self.api_key:
            raise Reject(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        query, _, signature = signed_query.rpartition("&signature=")
        expected = hmac.new(self.api_secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            raise Reject(-1022, "Signature for this request is not valid.")

    # -- helpers for tests ----------------------------------------------------------------------
    def order_log(self) -> list[dict]:
        return [asdict(order) for order in self.orders]

    def open_algo(self, coin: str | None = None) -> list[FakeOrder]:
        return [
            o
            for o in self.orders
            if o.kind == ALGO and o.status == "NEW" and (coin is None or o.symbol == f"{coin}USDT")
        ]

    def close_by_hand(self, coin: str) -> None:
        """The owner closes the position in the exchange's app: its stop orders stay open."""
        position = self.positions.get(coin)
        if position and position.amount:
            self._fill(
                self._new(
                    REGULAR,
                    f"web_{next(_ids)}",
                    coin,
                    "SELL" if position.amount > 0 else "BUY",
                    "MARKET",
                    abs(position.amount),
                    True,
                )
            )

    def open_by_hand(self, coin: str, side: str, quantity: float) -> None:
        """The owner opens a position in the exchange's app: no stop-loss comes with it."""
        self._fill(self._new(REGULAR, f"web_{next(_ids)}", coin, side, "MARKET", quantity, False))

    # -- trigger model ------------------------------------------------------------------------
    def process_triggers(self) -> None:
        """Before every private request: settle working entries, then fire the stops."""
        self._work()
        for order in [o for o in self.orders if o.kind == ALGO and o.status == "NEW"]:
            coin = order.symbol.removesuffix("USDT")
            price = self.price_of(coin)
            falling = (order.type == "STOP_MARKET") == (
                order.side == "SELL"
            )  # sell stop / buy take-profit fire on the way down
            if not (price <= order.trigger_price if falling else price >= order.trigger_price):
                continue
            position = self.positions.get(coin, FakePosition())
            reduces = (position.amount > 0 and order.side == "SELL") or (position.amount < 0 and order.side == "BUY")
            order.updated_ms = self.clock_ms()
            if not reduces:
                order.status = "EXPIRED"
                continue
            actual = self._new(REGULAR, f"algo_{order.id}", coin, order.side, "MARKET", order.quantity, True)
            self._fill(actual)
            order.status, order.actual_order_id, order.avg_price, order.executed_qty = (
                "FINISHED",
                actual.id,
                actual.avg_price,
                actual.executed_qty,
            )

    # -- endpoints ------------------------------------------------------------------------------
    def account(self) -> dict:
        unrealized = sum(self._unrealized(coin) for coin in self.positions)
        margin = sum(self._margin(coin) for coin in self.positions)
        now = self.clock_ms()
        asset = {
            "asset": "USDT",
            "walletBalance": _text(self.wallet_usd),
            "unrealizedProfit": _text(unrealized),
            "marginBalance": _text(self.wallet_usd + unrealized),
            "maintMargin": "0",
            "initialMargin": _text(margin),
            "positionInitialMargin": _text(margin),
            "openOrderInitialMargin": "0",
            "crossWalletBalance": _text(self.wallet_usd),
            "crossUnPnl": _text(unrealized),
            "availableBalance": _text(self.wallet_usd + min(unrealized, 0) - margin),
            "maxWithdrawAmount": _text(self.wallet_usd - margin),
            "marginAvailable": True,
            "updateTime": now,
        }
        return {  # recorded binance fetchBalance "Linear swap balance" (the account endpoint's shape)
            "feeTier": 0,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "multiAssetsMargin": False,
            "totalInitialMargin": asset["initialMargin"],
            "totalMaintMargin": "0",
            "totalPositionInitialMargin": asset["initialMargin"],
            "totalOpenOrderInitialMargin": "0",
            "totalCrossWalletBalance": asset["crossWalletBalance"],
            "totalCrossUnPnl": asset["crossUnPnl"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
            "totalWalletBalance": asset["walletBalance"],
            "totalUnrealizedProfit": asset["unrealizedProfit"],
            "totalMarginBalance": asset["marginBalance"],
            "availableBalance": asset["availableBalance"],
            "assets": [asset],
            "positions": [],
        }

    def position_risk(self, coin: str | None) -> list[dict]:
        rows = []
        for name, position in self.positions.items():
            if not position.amount or (coin and name != coin):
                continue
            price = self.price_of(name)
            isolated = self.margin_type.get(name) == "ISOLATED"
            margin = self._margin(name)
            rows.append(
                {
                    "symbol": f"{name}USDT",
                    "positionSide": "BOTH",
                    "positionAmt": _text(position.amount),
                    "entryPrice": _text(position.entry_price),
                    "breakEvenPrice": _text(position.entry_price),
                    "markPrice": _text(price),
                    "unRealizedProfit": _text(self._unrealized(name)),
                    "liquidationPrice": "0",
                    "isolatedMargin": _text(margin if isolated else 0),
                    "notional": _text(position.amount * price),
                    "marginAsset": "USDT",
                    "isolatedWallet": _text(margin if isolated else 0),
                    "initialMargin": _text(margin),
                    "maintMargin": "0",
                    "positionInitialMargin": _text(margin),
                    "openOrderInitialMargin": "0",
                    "adl": 1,
                    "bidNotional": "0",
                    "askNotional": "0",
                    "updateTime": self.clock_ms(),
                }
            )
        return rows

    def leverage_bracket(self) -> list[dict]:
        """GET /fapi/v1/leverageBracket: BTC's first three brackets as Binance publishes them, and
        for every other coin the review's example table (1 % to 5,000, then 2.5 % with cum 75)."""
        btc = [(50_000, 0.004, 125, 0.0), (250_000, 0.005, 100, 50.0), (3_000_000, 0.01, 50, 1_300.0)]
        other = [(5_000, 0.01, 50, 0.0), (25_000, 0.025, 20, 75.0)]
        return [
            {
                "symbol": f"{coin}USDT",
                "brackets": [
                    {
                        "bracket": n,
                        "initialLeverage": leverage,
                        "notionalCap": cap,
                        "notionalFloor": floor,
                        "maintMarginRatio": rate,
                        "cum": cum,
                    }
                    for n, ((cap, rate, leverage, cum), floor) in enumerate(
                        zip(table, [0, *(row[0] for row in table)], strict=False), start=1
                    )
                ],
            }
            for coin, table in ((coin, btc if coin == "BTC" else other) for coin in self.rules)
        ]

    def set_leverage(self, coin: str, params: dict[str, str]) -> dict:
        leverage = int(params["leverage"])
        if not 1 <= leverage <= 125:
            raise Reject(-4028, f"Leverage {leverage} is not valid")
        self.leverage[coin] = leverage
        return {"leverage": leverage, "maxNotionalValue": "1000000", "symbol": f"{coin}USDT"}

    def set_margin_type(self, coin: str, params: dict[str, str]) -> dict:
        wanted = params["marginType"]
        if self.margin_type.get(coin, "CROSSED") == wanted:
            raise Reject(-4046, "No need to change margin type.")
        if self.positions.get(coin, FakePosition()).amount:
            raise Reject(-4048, "Margin type cannot be changed if there exists position.")
        self.margin_type[coin] = wanted
        return {"code": 200, "msg": "success"}

    def create_order(self, coin: str, params: dict[str, str]) -> dict:
        kind = params.get("type", "")
        if kind != "MARKET":
            raise Reject(
                -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
            )
        order = self._new(
            REGULAR,
            params.get("newClientOrderId", f"auto_{next(_ids)}"),
            coin,
            params["side"],
            kind,
            float(params["quantity"]),
            params.get("reduceOnly") == "true",
        )
        self._fill(order)
        return order.as_binance()

    def create_algo_order(self, coin: str, params: dict[str, str]) -> dict:
        kind = params.get("type", "")
        if kind not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise Reject(-4120, f"Order type {kind} not supported by the fake Algo Order API.")
        trigger = float(params["triggerPrice"])
        quantity = float(params["quantity"])
        self._check_precision(coin, quantity)
        price = self.price_of(coin)
        falling = (kind == "STOP_MARKET") == (params["side"] == "SELL")
        if (price <= trigger) if falling else (price >= trigger):
            raise Reject(-2021, "Order would immediately trigger.")
        order = self._new(
            ALGO,
            params.get("clientAlgoId", f"auto_{next(_ids)}"),
            coin,
            params["side"],
            kind,
            quantity,
            params.get("reduceOnly") == "true",
            trigger_price=trigger,
        )
        self.orders.append(order)
        return order.as_binance()

    def find(self, kind: str, params: dict[str, str]) -> FakeOrder:
        by_client = params.get("clientAlgoId") if kind == ALGO else params.get("origClientOrderId")
        by_id = params.get("algoId") if kind == ALGO else params.get("orderId")
        # the newest order with that client id: ids are reusable once an order is done
        for order in reversed(self.orders):
            if (
                order.kind == kind
                and order.symbol == params.get("symbol", order.symbol)
                and (
                    (by_client is not None and order.client_id == by_client)
                    or (by_id is not None and str(order.id) == by_id)
                )
            ):
                return order
        raise Reject(-2013, "Order does not exist.")

    def cancel(self, kind: str, params: dict[str, str]) -> dict:
        try:
            order = self.find(kind, params)
        except Reject:
            raise Reject(-2011, "Unknown order sent.") from None
        if order.status not in OPEN_STATUSES:
            raise Reject(-2011, "Unknown order sent.")
        order.status, order.updated_ms = "CANCELED", self.clock_ms()
        if kind == ALGO:
            return {"algoId": order.id, "clientAlgoId": order.client_id, "code": "200", "msg": "success"}
        return order.as_binance()

    def open_orders(self, kind: str, coin: str | None) -> list[dict]:
        return [
            o.as_binance()
            for o in self.orders
            if o.kind == kind and o.status in OPEN_STATUSES and (coin is None or o.symbol == f"{coin}USDT")
        ]

    def user_trades(self, coin: str, params: dict[str, str]) -> list[dict]:
        start = int(params.get("startTime", 0))
        order_id = params.get("orderId")
        return [
            t
            for t in self.trades
            if t["symbol"] == f"{coin}USDT"
            and t["time"] >= start
            and (order_id is None or str(t["orderId"]) == order_id)
        ]

    # -- the fill model -------------------------------------------------------------------------
    def _new(
        self,
        kind: str,
        client_id: str,
        coin: str,
        side: str,
        type_: str,
        quantity: float,
        reduce_only: bool,
        trigger_price: float | None = None,
    ) -> FakeOrder:
        if any(o.client_id == client_id and o.status in OPEN_STATUSES for o in self.orders):
            raise Reject(-4116, "ClientOrderId is duplicated.")
        if len(client_id) > 36:
            raise Reject(-4015, "Client order id is not valid.")
        order = FakeOrder(
            kind,
            next(_ids),
            client_id,
            f"{coin}USDT",
            side,
            type_,
            quantity,
            reduce_only,
            "NEW",
            self.clock_ms(),
            trigger_price=trigger_price,
        )
        return order

    def _check_precision(self, coin: str, quantity: float) -> None:
        step = float(self.rules[coin][1])
        if quantity <= 0 or not _is_multiple(quantity, step):
            raise Reject(-1111, "Precision is over the maximum defined for this asset.")

    def _fill(self, order: FakeOrder) -> None:
        """Validate a market order like Binance, then fill it (or raise before touching anything)."""
        coin = order.symbol.removesuffix("USDT")
        self._check_precision(coin, order.quantity)
        price = self.price_of(coin)
        position = self.positions.setdefault(coin, FakePosition())
        direction = 1.0 if order.side == "BUY" else -1.0
        quantity = order.quantity
        if order.reduce_only:
            if position.amount * direction >= 0:
                raise Reject(-2022, "ReduceOnly Order is rejected.")
            quantity = min(quantity, abs(position.amount))
        else:
            min_notional = float(self.rules[coin][2])
            if quantity * price < min_notional:
                raise Reject(
                    -4164, f"Order's notional must be no smaller than {min_notional:g} (unless you choose reduce only)."
                )
            available = (
                self.wallet_usd
                + min(0.0, sum(self._unrealized(c) for c in self.positions))
                - sum(self._margin(c) for c in self.positions)
            )
            if quantity * price / self.leverage.get(coin, 20) + quantity * price * TAKER_FEE > available:
                raise Reject(-2019, "Margin is insufficient.")
        script = self.entry_answers.pop(0) if not order.reduce_only and self.entry_answers else None
        if script is not None:
            step = float(self.rules[coin][1])
            first = round(int(quantity * script.now / step + 1e-9) * step, 12)
            if first > 0:
                self._execute(order, first, self._slipped(price, order.side, script.slip))
            order.status = "FILLED" if first >= quantity else ("PARTIALLY_FILLED" if first > 0 else "NEW")
            order.updated_ms = self.clock_ms()
            if order.status != "FILLED":
                self.working[order.id] = (order, script, max(1, script.later))
            self.orders.append(order)
            return
        status = "FILLED"
        if not order.reduce_only and self.fill_fraction < 1.0:
            step = float(self.rules[coin][1])
            quantity, status = round(int(quantity * self.fill_fraction / step) * step, 12), "EXPIRED"
        self._execute(order, quantity, price)
        order.status = status
        self.orders.append(order)

    @staticmethod
    def _slipped(price: float, side: str, slip: float) -> float:
        return price * (1 + slip) if side == "BUY" else price * (1 - slip)

    def _work(self) -> None:
        """Count one private request against each working entry; settle those whose time came."""
        for order_id, (order, script, left) in list(self.working.items()):
            if order.status not in OPEN_STATUSES:  # cancelled meanwhile
                del self.working[order_id]
                continue
            if left > 1:
                self.working[order_id] = (order, script, left - 1)
                continue
            del self.working[order_id]
            rest = round(order.quantity - order.executed_qty, 12)
            coin = order.symbol.removesuffix("USDT")
            if script.rest == "fill" and rest > 0:
                self._execute(order, rest, self._slipped(self.price_of(coin), order.side, script.slip))
                order.status = "FILLED"
            else:
                order.status = "EXPIRED" if order.executed_qty else "CANCELED"
            order.updated_ms = self.clock_ms()

    def expire_rest(self, order: FakeOrder) -> None:
        """An immediate-or-cancel order: what did not fill at once is cancelled now."""
        if order.status in OPEN_STATUSES:
            self.working.pop(order.id, None)
            order.status = "EXPIRED" if order.executed_qty else "CANCELED"

    def _execute(self, order: FakeOrder, quantity: float, price: float) -> None:
        """One fill of ``quantity`` of ``order`` at ``price``: position, wallet, a trade."""
        coin = order.symbol.removesuffix("USDT")
        position = self.positions.setdefault(coin, FakePosition())
        direction = 1.0 if order.side == "BUY" else -1.0
        fee = quantity * price * TAKER_FEE
        realized = 0.0
        signed = direction * quantity
        trade_id = next(_ids)
        self.starts[trade_id] = position.amount  # Hyperliquid's fills say it (startPosition)
        if position.amount * direction < 0:  # reducing
            closed = min(quantity, abs(position.amount))
            realized = (price - position.entry_price) * closed * (1.0 if position.amount > 0 else -1.0)
            position.amount = round(position.amount + signed, 12)
            if position.amount == 0:
                position.entry_price = 0.0
        else:
            total = position.amount + signed
            position.entry_price = (position.entry_price * abs(position.amount) + price * quantity) / abs(total)
            position.amount = round(total, 12)
        self.wallet_usd += realized - fee
        now = self.clock_ms()
        filled = order.executed_qty + quantity
        order.avg_price = (
            price if not order.executed_qty else (order.avg_price * order.executed_qty + price * quantity) / filled
        )
        order.executed_qty, order.updated_ms = round(filled, 12), now
        self.trades.append(
            {
                "buyer": order.side == "BUY",
                "commission": _text(fee),
                "commissionAsset": "USDT",
                "id": trade_id,
                "maker": False,
                "orderId": order.id,
                "price": _text(price),
                "qty": _text(quantity),
                "quoteQty": _text(price * quantity),
                "realizedPnl": _text(realized),
                "marginAsset": "USDT",  # recorded binance fetchMyTrades "Swap private trade"
                "side": order.side,
                "positionSide": "BOTH",
                "symbol": order.symbol,
                "time": now,
            }
        )

    def _unrealized(self, coin: str) -> float:
        position = self.positions.get(coin, FakePosition())
        return (self.price_of(coin) - position.entry_price) * position.amount if position.amount else 0.0

    def _margin(self, coin: str) -> float:
        position = self.positions.get(coin, FakePosition())
        return abs(position.amount) * position.entry_price / self.leverage.get(coin, 20)
