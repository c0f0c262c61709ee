"""A fake Bybit v5 API on 127.0.0.1 for the real ccxt: the public market endpoints a paper
tick and `bot download` call (``/v5/market/instruments-info``, ``kline``, ``tickers``,
``open-interest``, ``funding/history``, ``time``; ``risk-limit`` for a live tick's brackets), in Bybit's shapes
(``retCode`` /
``result.list``, newest row first), over the same recorded candles and with the same fault
machinery as the Binance fake (tests/fakes/exchange.py).

Funding intervals are per symbol, as on Bybit: ``FUNDING_MINUTES`` (BTC 480, ETH 240). The
data holds 8-hour rates; a 4-hour symbol is served half of the 8-hour rate it falls in at
each 4-hour settlement (SYNTHETIC).

The private half (a unified trading account, one-way mode) speaks what ccxt 4.5.90's
``bybit.py`` calls in a live tick, over the Binance fake's account model
(tests/fakes/account.py): ``/v5/user/query-api`` and ``/v5/account/info`` (ccxt asks whether
the account is unified), ``/v5/account/wallet-balance``, ``/v5/position/list`` (one row per
position, ``positionIdx`` 0; ``hedged = True`` answers as a hedge-mode account, 1 and 2),
``/v5/order/realtime`` (open orders; any status when asked by ``orderId`` / ``orderLinkId``;
``orderFilter=StopOrder`` lists conditional orders, else regular ones), ``/v5/order/create``
(answers only ``{orderId, orderLinkId}``, as Bybit does: the fill is read back),
``/v5/order/cancel``, ``/v5/execution/list``, ``/v5/position/set-leverage`` and
``/v5/account/set-margin-mode``. ``/v5/asset/coin/query-info`` (ccxt's currencies, whenever keys are set). Auth:
``X-BAPI-API-KEY`` and the HMAC-SHA256 of
timestamp + key + recv window + payload. Faults on order creation match ``order_type``
"order", "order/sl" or "order/tp" (a conditional order's trigger direction says which).

Sources: Bybit's v5 docs (https://bybit-exchange.github.io/docs/v5/intro), ccxt's recorded bybit answers
(tests/fixtures/ccxt_recorded, checked by tests/fakes/test_recorded_shapes.py: field names, text values,
UUID order ids on linear) and ccxt 4.5.90's bybit.py; each behaviour says which.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.account import ALGO, OPEN_STATUSES, REGULAR, FakeOrder, Reject, _text
from tests.fakes.exchange import ACTED, MARKET_RULES, FakeExchange, Request, _Handler

FUNDING_MINUTES = {"BTC": 480, "ETH": 240}
INTERVALS = {"3": "3m", "60": "1h", "240": "4h", "1": "1m"}  # Bybit's kline intervals -> the data's folders


def _ok(result: object) -> dict:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": int(time.time() * 1000)}


# The account model's (Binance) codes as Bybit answers them: retCode and retMsg as ccxt 4.5.90's bybit.py
# exceptions table quotes them (110007 "ab not enough for new order", 110043, 110072, 110093 ...) and Bybit v5's
# error page lists them (https://bybit-exchange.github.io/docs/v5/error); ccxt maps each retCode to its class.
BYBIT_REJECTS = {
    -2019: (110007, "ab not enough for new order"),
    -4164: (110094, "Order does not meet minimum order value"),
    -1111: (10001, "Qty invalid"),
    -2021: (110093, "expect Falling, but trigger_price[{price}] >= current[{price}]"),
    -2022: (110017, "current position is zero, cannot fix reduce-only order qty"),
    -4116: (110072, "OrderLinkedID is duplicate"),
    -4015: (10001, "orderLinkId is too long"),
    -2013: (110001, "order not exists or too late to cancel"),
    -2011: (110001, "order not exists or too late to cancel"),
    110043: (110043, "leverage not modified"),  # ccxt bybit.exceptions: 110043 BadRequest "Set leverage not modified"
}
INJECTED_REJECTS = {"insufficient_margin": -2019, "min_notional": -4164, "precision": -1111, "would_trigger": -2021}
# A triggered conditional order fills under its own id on Bybit; the account model's fill is a separate order.
# Bybit v5 orderStatus (https://bybit-exchange.github.io/docs/v5/enum#orderstatus; ccxt bybit.parse_order_status):
# an IOC market order's unfilled rest ends PartiallyFilledCanceled (recorded bybit fetchOrder, EC_CancelForNoFullFill)
STATUSES = {
    "NEW": "New",
    "PARTIALLY_FILLED": "PartiallyFilled",
    "FILLED": "Filled",
    "CANCELED": "Cancelled",
    "EXPIRED": "PartiallyFilledCanceled",
    "FINISHED": "Filled",
}


def _uuid(order_id: int) -> str:
    """A linear order's id as Bybit gives it: a UUID (ccxt's recorded bybit fetchClosedOrders
    has 8-4-4-4-12 hex ids; spot ids are numeric), made from the account model's number."""
    return f"{order_id:08x}-0000-4000-8000-{order_id:012x}"


def _error(code: int, message: str) -> dict:
    return {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": int(time.time() * 1000)}


@dataclass
class FakeBybit(FakeExchange):
    hedged: bool = False  # the account is in hedge mode (positionIdx 1 / 2)
    empty_order_id_wins: bool = True  # an empty `orderId=` next to `orderLinkId` finds nothing
    # (reasonCode, reasonMsg): /v5/account/set-margin-mode refuses the switch with retCode 3400045
    # "Set margin mode failed" and these `result.reasons` (Bybit v5 "Set Margin Mode", its response example)
    margin_mode_reasons: tuple[tuple[str, str], ...] = ()

    def _handler(self) -> type:
        return _BybitHandler

    def instruments(self) -> dict:
        rows = []
        for coin in self.coins:
            tick, step, notional = MARKET_RULES.get(coin, ("0.0001", "1", "5"))
            rows.append(
                {
                    "symbol": f"{coin}USDT",
                    "contractType": "LinearPerpetual",
                    "status": "Trading",
                    "baseCoin": coin,
                    "quoteCoin": "USDT",
                    "settleCoin": "USDT",
                    "launchTime": "1585526400000",
                    "deliveryTime": "0",
                    "deliveryFeeRate": "",
                    "priceScale": "2",
                    "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
                    "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
                    "lotSizeFilter": {
                        "maxOrderQty": "1190.000",
                        "minOrderQty": step,
                        "qtyStep": step,
                        "postOnlyMaxOrderQty": "1190.000",
                        "maxMktOrderQty": "500.000",
                        "minNotionalValue": notional,
                    },
                    "unifiedMarginTrade": True,
                    "fundingInterval": FUNDING_MINUTES.get(coin, 480),
                    "copyTrading": "both",
                    "upperFundingRate": "0.00375",
                    "lowerFundingRate": "-0.00375",
                    "isPreListing": False,
                }
            )
        return _ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    def kline(self, coin: str, params: dict[str, str]) -> object:
        interval = INTERVALS.get(params.get("interval", ""))
        if interval is None:
            return 200, {"retCode": 10001, "retMsg": "Invalid period!", "result": {}, "retExtInfo": {}, "time": 0}
        candles = self._candles(coin, interval)
        visible = candles[candles[:, 0] <= self._data_now()]  # the still-open candle last, as on Bybit
        if "start" in params:
            visible = visible[visible[:, 0] >= int(params["start"]) - self.shift_ms]
            visible = visible[: int(params.get("limit", 200))]
        if "end" in params:
            visible = visible[visible[:, 0] <= int(params["end"]) - self.shift_ms]
        rows = visible[-min(int(params.get("limit", 200)), 1000) :]  # v5 kline: limit [1, 1000], default 200
        listed = [
            [str(int(t) + self.shift_ms), _text(o), _text(h), _text(low), _text(c), _text(v), _text(v * c)]
            for t, o, h, low, c, v in rows
        ]
        return _ok({"symbol": f"{coin}USDT", "category": "linear", "list": listed[::-1]})

    def _rate(self, coin: str, at_ms: int) -> float:
        funding = self._series(coin, "funding_8h", f"{coin}USDT-funding-8h")
        if not len(funding):
            return 0.0
        ahead = funding[funding[:, 0] >= at_ms]
        rate = float(ahead[0, 1] if len(ahead) else funding[-1, 1])
        return rate * FUNDING_MINUTES.get(coin, 480) / 480

    def tickers(self, coin: str) -> dict:
        price = _text(self._last_close(coin))
        step = FUNDING_MINUTES.get(coin, 480) * 60_000
        now = self._data_now()
        return _ok(
            {
                "category": "linear",
                "list": [
                    {
                        "symbol": f"{coin}USDT",
                        "lastPrice": price,
                        "indexPrice": price,
                        "markPrice": price,
                        "prevPrice24h": price,
                        "price24hPcnt": "0",
                        "highPrice24h": price,
                        "lowPrice24h": price,
                        "prevPrice1h": price,
                        "openInterest": "1000",
                        "openInterestValue": "1000",
                        "turnover24h": "1",
                        "volume24h": "1",
                        "fundingRate": f"{self._rate(coin, now + 1):.8f}",
                        "nextFundingTime": str((now // step + 1) * step + self.shift_ms),
                        "predictedDeliveryPrice": "",
                        "basisRate": "",
                        "deliveryFeeRate": "",
                        "deliveryTime": "0",
                        "ask1Size": "1",
                        "bid1Price": price,
                        "ask1Price": price,
                        "bid1Size": "1",
                        "basis": "",
                    }
                ],
            }
        )

    def risk_limits(self) -> dict:
        """The account model's (Binance-shaped) brackets as Bybit's risk limits, lowest first."""
        rows = [
            {
                "id": bracket["bracket"],
                "symbol": entry["symbol"],
                "riskLimitValue": str(bracket["notionalCap"]),
                "maintenanceMargin": str(bracket["maintMarginRatio"]),
                "initialMargin": str(1 / bracket["initialLeverage"]),
                "isLowestRisk": int(bracket["bracket"] == 1),
                "maxLeverage": str(bracket["initialLeverage"]),
                "mmDeduction": str(bracket["cum"]),
            }
            for entry in self.account.leverage_bracket()
            if entry["symbol"].removesuffix("USDT") in self.coins
            for bracket in entry["brackets"]
        ]
        return _ok({"category": "linear", "list": rows, "nextPageCursor": ""})

    def open_interest(self, params: dict[str, str], coin: str) -> object:
        # SYNTHETIC, as in the Binance fake: half the last day's 3m volume
        candles = self._candles(coin, "3m")
        visible = candles[candles[:, 0] <= self._data_now()][-480:]
        row = {"openInterest": f"{visible[:, 5].sum() * 0.5:.3f}", "timestamp": str(self._data_now() + self.shift_ms)}
        return _ok({"symbol": f"{coin}USDT", "category": "linear", "list": [row], "nextPageCursor": ""})

    def funding(self, coin: str, params: dict[str, str]) -> dict:
        step = FUNDING_MINUTES.get(coin, 480) * 60_000
        now = self._data_now()
        start = int(params["startTime"]) - self.shift_ms if "startTime" in params else now - 200 * step
        end = min(int(params["endTime"]) - self.shift_ms, now) if "endTime" in params else now
        times = list(range((start + step - 1) // step * step, end + 1, step))
        times = (
            times[: int(params.get("limit", 200))] if "startTime" in params else times[-int(params.get("limit", 200)) :]
        )
        rows = [
            {
                "symbol": f"{coin}USDT",
                "fundingRate": f"{self._rate(coin, t):.8f}",
                "fundingRateTimestamp": str(t + self.shift_ms),
            }
            for t in times
        ]
        return _ok({"category": "linear", "list": rows[::-1]})

    # -- the private half -----------------------------------------------------------------------
    def bybit_order(self, order: FakeOrder) -> dict:
        conditional = order.kind == ALGO
        status = "Deactivated" if conditional and order.status == "EXPIRED" else STATUSES[order.status]
        if order.status == "CANCELED" and order.executed_qty:  # Bybit v5 orderStatus: a part filled, the rest cancelled
            status = "PartiallyFilledCanceled"
        falling = (order.type == "STOP_MARKET") == (order.side == "SELL")
        fee = order.executed_qty * order.avg_price * 0.0005
        # Field names and text values as ccxt's recorded bybit fetchOpenOrder / fetchClosedOrders (linear) show
        # them: cumFeeDetail is where ccxt 4.5.90's bybit.parse_order reads the fee ({} while nothing filled);
        # a regular order's triggerPrice is ""; PartiallyFilledCanceled says EC_CancelForNoFullFill (recorded
        # spot fetchOrder)
        return {
            "orderId": _uuid(order.id),
            "orderLinkId": order.client_id,
            "symbol": order.symbol,
            "side": order.side.capitalize(),
            "orderType": "Market",
            "price": "0",
            "qty": _text(order.quantity),
            "cumExecQty": _text(order.executed_qty),
            "cumExecValue": _text(order.executed_qty * order.avg_price),
            "cumExecFee": _text(fee),
            "cumFeeDetail": {"USDT": _text(fee)} if order.executed_qty else {},
            "avgPrice": _text(order.avg_price) if order.executed_qty else "",
            "leavesQty": _text(0.0 if order.status not in OPEN_STATUSES else order.quantity - order.executed_qty),
            "orderStatus": status,
            "timeInForce": "IOC" if not conditional else "GTC",
            "reduceOnly": order.reduce_only,
            "positionIdx": 0,
            "triggerPrice": _text(order.trigger_price) if conditional else "",
            "triggerDirection": (2 if falling else 1) if conditional else 0,
            "stopOrderType": ("StopLoss" if order.type == "STOP_MARKET" else "TakeProfit") if conditional else "",
            "takeProfit": "",
            "stopLoss": "",
            "rejectReason": "EC_CancelForNoFullFill" if status == "PartiallyFilledCanceled" else "EC_NoError",
            "closeOnTrigger": False,
            "createType": "CreateByUser",
            "createdTime": str(order.created_ms),
            "updatedTime": str(order.updated_ms or order.created_ms),
        }

    def positions(self, coin: str | None) -> list:
        account, rows = self.account, []
        for name, position in account.positions.items():
            if not position.amount or (coin and name != coin):
                continue
            price = self.price(name)
            idx = (1 if position.amount > 0 else 2) if self.hedged else 0
            rows.append(
                {
                    "positionIdx": idx,
                    "symbol": f"{name}USDT",
                    "side": "Buy" if position.amount > 0 else "Sell",
                    "size": _text(abs(position.amount)),
                    "avgPrice": _text(position.entry_price),
                    "positionValue": _text(abs(position.amount) * position.entry_price),
                    "tradeMode": 1 if account.margin_type.get(name) == "ISOLATED" else 0,
                    "leverage": str(account.leverage.get(name, 20)),
                    "markPrice": _text(price),
                    "liqPrice": "",
                    # recorded bybit fetchPositions: positionIM the margin held, positionBalance the same
                    # before ccxt adds the unrealised PnL to it as collateral, cumRealisedPnl (not cur-)
                    "positionIM": _text(account._margin(name)),
                    "positionBalance": _text(account._margin(name)),
                    "positionMM": "0",
                    "unrealisedPnl": _text(account._unrealized(name)),
                    "cumRealisedPnl": "0",
                    "positionStatus": "Normal",
                    "createdTime": str(account.clock_ms()),
                    "updatedTime": str(account.clock_ms()),
                }
            )
        if self.hedged and coin and not rows:  # a hedge-mode account lists both (empty) sides of a symbol
            rows = [
                {
                    "positionIdx": idx,
                    "symbol": f"{coin}USDT",
                    "side": "",
                    "size": "0",
                    "avgPrice": "0",
                    "leverage": "20",
                    "markPrice": _text(self.price(coin)),
                    "positionStatus": "Normal",
                }
                for idx in (1, 2)
            ]
        elif coin and not rows:  # one-way mode: one flat row per symbol asked (recorded bybit fetchPosition)
            rows = [
                {
                    "positionIdx": 0,
                    "symbol": f"{coin}USDT",
                    "side": "",
                    "size": "0",
                    "avgPrice": "0",
                    "leverage": "20",
                    "markPrice": _text(self.price(coin)),
                    "positionStatus": "Normal",
                }
            ]
        return rows

    def wallet(self) -> dict:
        account = self.account
        unrealized = sum(account._unrealized(c) for c in account.positions)
        margin = sum(account._margin(c) for c in account.positions)
        coin = {
            "coin": "USDT",
            "walletBalance": _text(account.wallet_usd),
            "equity": _text(account.wallet_usd + unrealized),
            "unrealisedPnl": _text(unrealized),
            "totalPositionIM": _text(margin),
            "totalOrderIM": "0",
            "locked": "0",
            "borrowAmount": "0",
            "accruedInterest": "0",
            "usdValue": _text(account.wallet_usd + unrealized),
        }
        return {
            "list": [
                {
                    "accountType": "UNIFIED",
                    "totalEquity": coin["equity"],
                    "totalWalletBalance": coin["walletBalance"],
                    "coin": [coin],
                }
            ]
        }

    def create(self, body: dict) -> dict:
        coin = body["symbol"].removesuffix("USDT")
        account = self.account
        side, quantity = body["side"].upper(), float(body["qty"])
        link = body.get("orderLinkId") or f"auto_{time.monotonic_ns()}"
        if len(link) > 36:
            raise Reject(-4015, "orderLinkId is too long")
        if any(
            o.client_id == link for o in account.orders
        ):  # Bybit: an orderLinkId is unique for good, not only while open
            raise Reject(-4116, "OrderLinkedID is duplicate")
        if body.get("triggerPrice"):
            falling = int(body.get("triggerDirection") or 0) == 2
            kind = "STOP_MARKET" if falling == (side == "SELL") else "TAKE_PROFIT_MARKET"
            params = {
                "type": kind,
                "side": side,
                "quantity": body["qty"],
                "triggerPrice": body["triggerPrice"],
                "reduceOnly": "true" if body.get("reduceOnly") else "false",
                "clientAlgoId": link,
            }
            order = account.create_algo_order(coin, params)
            return {"orderId": _uuid(order["algoId"]), "orderLinkId": link}
        order = account._new(REGULAR, link, coin, side, "MARKET", quantity, bool(body.get("reduceOnly")))
        account._fill(order)
        return {"orderId": _uuid(order.id), "orderLinkId": link}

    def find(self, params: dict) -> list[FakeOrder]:
        """/v5/order/realtime. Bybit v5 "Get Open & Closed Orders": ``orderFilter`` Order lists regular
        orders, StopOrder conditional ones, none given lists both (issue 32: each stop twice next to
        ``StopOrder``); by ``orderId`` or ``orderLinkId`` any status; "orderId wins" over
        orderLinkId, so an orderId sent empty (``orderId=``) finds nothing (the pessimistic reading
        of that line; the README's testnet check says which way the venue goes)."""
        by_id, by_link = params.get("orderId"), params.get("orderLinkId")
        if "orderId" in params and not by_id and self.empty_order_id_wins:
            return []
        kinds = {"StopOrder": {ALGO}, "Order": {REGULAR}}.get(params.get("orderFilter", ""), {ALGO, REGULAR})
        found = []
        for order in self.account.orders:
            if order.kind not in kinds or ("symbol" in params and order.symbol != params["symbol"]):
                continue
            if by_id not in (None, "", "None") or by_link:
                if _uuid(order.id) == by_id or order.client_id == by_link:
                    found.append(order)
            elif order.status in OPEN_STATUSES:
                found.append(order)
        return found[::-1]

    def cancel(self, body: dict) -> dict:
        for order in reversed(self.account.orders):
            if (
                order.client_id == body.get("orderLinkId") or _uuid(order.id) == body.get("orderId")
            ) and order.status in OPEN_STATUSES:
                order.status, order.updated_ms = "CANCELED", self.account.clock_ms()
                return {"orderId": _uuid(order.id), "orderLinkId": order.client_id}
        raise Reject(-2011, "order not exists or too late to cancel")

    def executions(self, params: dict) -> list:
        """/v5/execution/list, newest first. ccxt 4.5.90's fetch_my_trades asks execType=Trade (ccxt's recorded
        request/bybit.json "Swap fetchMyTrades"): the account model's fills are all trades, so no Funding or
        BustTrade row is listed (Bybit lists those under their own execType)."""
        return [
            {
                "symbol": t["symbol"],
                "orderId": _uuid(t["orderId"]),
                "orderLinkId": "",
                "side": t["side"].capitalize(),
                "orderPrice": t["price"],
                "orderQty": t["qty"],
                "orderType": "Market",
                "execFee": t["commission"],
                "execId": _uuid(t["id"]),  # a UUID on linear (recorded "751c8dba-bdeb-5d0c-9dd3-dda6bf98cdaf")
                "execPrice": t["price"],
                "execQty": t["qty"],
                "execType": "Trade",
                "execValue": t["quoteQty"],
                "execTime": str(t["time"]),
                "isMaker": False,
                "feeRate": "0.0005",
                "closedSize": "0",
                "feeCurrency": "USDT",
            }
            for t in self.account.trades
            if params.get("execType") in (None, "Trade")  # the account model's fills are all trades
            and ("symbol" not in params or t["symbol"] == params["symbol"])
            and ("orderId" not in params or _uuid(t["orderId"]) == params["orderId"])
        ][::-1]

    def private(self, method: str, path: str, params: dict) -> object:
        routes = {
            "/v5/asset/coin/query-info": lambda: {
                "rows": [{"name": "USDT", "coin": "USDT", "remainAmount": "5000000", "chains": []}]
            },  # load_markets with keys
            "/v5/user/query-api": lambda: {
                "id": "1",
                "readOnly": 0,
                "unified": 0,
                "uta": 1,
                "isMaster": True,
                "permissions": {"ContractTrade": ["Order", "Position"]},
            },
            "/v5/account/info": lambda: {
                "unifiedMarginStatus": 5,
                "marginMode": "REGULAR_MARGIN",
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            },
            "/v5/account/wallet-balance": self.wallet,
            "/v5/position/list": lambda: {
                "category": "linear",
                "list": self.positions(params["symbol"].removesuffix("USDT") if "symbol" in params else None),
                "nextPageCursor": "",
            },
            "/v5/order/realtime": lambda: {
                "category": "linear",
                "list": [self.bybit_order(o) for o in self.find(params)],
                "nextPageCursor": "",
            },
            "/v5/order/create": lambda: self.create(params),
            "/v5/order/cancel": lambda: self.cancel(params),
            "/v5/execution/list": lambda: {"category": "linear", "list": self.executions(params), "nextPageCursor": ""},
            "/v5/position/set-leverage": lambda: self._set_leverage(params),
            "/v5/account/set-margin-mode": lambda: self._margin_mode(params),
        }
        route = routes.get(path)
        if route is None:
            return None
        answer = route()
        return answer if isinstance(answer, dict) and "retCode" in answer else _ok(answer)  # an error answer whole

    def _set_leverage(self, params: dict) -> dict:
        """Bybit v5 answers retCode 110043 "leverage not modified" when the symbol has that leverage
        already (Bybit's error-code table; ccxt bybit.exceptions maps it to BadRequest)."""
        coin, wanted = params["symbol"].removesuffix("USDT"), int(float(params["buyLeverage"]))
        if self.account.leverage.get(coin) == wanted:
            raise Reject(110043, "leverage not modified")
        self.account.leverage[coin] = wanted
        return {}

    def _margin_mode(self, params: dict) -> dict:
        if self.margin_mode_reasons:  # the account keeps its mode
            reasons = [{"reasonCode": code, "reasonMsg": msg} for code, msg in self.margin_mode_reasons]
            return {**_error(3400045, "Set margin mode failed"), "result": {"reasons": reasons}}
        mode = {"ISOLATED_MARGIN": "ISOLATED", "REGULAR_MARGIN": "CROSSED"}.get(
            params.get("setMarginMode", ""), "CROSSED"
        )
        for coin in self.coins:  # on a unified account the margin mode is the account's, not a symbol's
            self.account.margin_type[coin] = mode
        return {"reasons": []}


class _BybitHandler(_Handler):
    fake: FakeBybit

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode() if method == "POST" else ""
        private = parts.path.startswith(
            ("/v5/order", "/v5/position", "/v5/account", "/v5/user", "/v5/execution", "/v5/asset")
        )
        if method == "POST":
            try:
                params = {k: v for k, v in json.loads(raw or "{}").items()}
            except ValueError:
                return self._send(200, json.dumps(_error(10001, "request body is not JSON")))
        if parts.path == "/v5/order/create":
            params["type"] = (
                "order"
                if not params.get("triggerPrice")
                else (
                    "order/sl"
                    if (int(params.get("triggerDirection") or 0) == 2) == (params.get("side") == "Sell")
                    else "order/tp"
                )
            )
        with fake._lock:
            fake.requests.append(Request(method, parts.path, params, time.monotonic()))
        if fake.latency_ms:
            time.sleep(fake.latency_ms / 1000)
        fault = fake._take_fault(method, parts.path, params)
        if fault is not None and fault.kind in INJECTED_REJECTS and parts.path == "/v5/order/create":
            return self._send(
                200,
                json.dumps(_error(*BYBIT_REJECTS[INJECTED_REJECTS[fault.kind]])).replace(
                    "{price}", str(params.get("triggerPrice"))
                ),
            )
        if fault is not None and fault.kind not in ACTED and self._fail(fault):
            return
        if private:
            return self._private(method, parts, params, raw, fault)
        coin = params["symbol"].removesuffix("USDT") if "symbol" in params else None
        if coin is not None and coin not in fake.coins:
            answer: object = {
                "retCode": 10001,
                "retMsg": "params error: symbol invalid",
                "result": {},
                "retExtInfo": {},
                "time": 0,
            }
        else:
            routes = {
                "/v5/market/instruments-info": lambda: (
                    fake.instruments()
                    if params.get("status") != "PreLaunch"
                    else _ok({"category": "linear", "list": []})
                ),
                "/v5/market/kline": lambda: fake.kline(coin, params),
                "/v5/market/tickers": lambda: fake.tickers(coin),
                "/v5/market/open-interest": lambda: fake.open_interest(params, coin),
                "/v5/market/funding/history": lambda: fake.funding(coin, params),
                "/v5/market/risk-limit": lambda: fake.risk_limits(),
                "/v5/market/time": lambda: _ok({"timeSecond": str(fake._data_now() // 1000), "timeNano": "0"}),
            }
            route = routes.get(parts.path)
            answer = route() if route else None
            if isinstance(answer, tuple):
                answer = answer[1]
        if answer is None:
            return self._send(404, json.dumps({"retCode": 404, "retMsg": f"not found: {parts.path}"}))
        text = json.dumps(answer)
        self._send(200, text[: len(text) // 2] if fault is not None and fault.kind == "truncated" else text)

    def _private(self, method: str, parts: object, params: dict, raw: str, fault: object) -> None:
        fake = self.fake
        account = fake.account
        stamp, key, window = (
            self.headers.get(h) or "" for h in ("X-BAPI-TIMESTAMP", "X-BAPI-API-KEY", "X-BAPI-RECV-WINDOW")
        )
        expected = hmac.new(
            account.api_secret.encode(),
            (stamp + key + window + (raw if method == "POST" else parts.query)).encode(),
            hashlib.sha256,
        ).hexdigest()
        if key != account.api_key:
            return self._send(401, json.dumps(_error(10003, "API key is invalid.")))
        if not hmac.compare_digest(self.headers.get("X-BAPI-SIGN") or "", expected):
            return self._send(200, json.dumps(_error(10004, "error sign! origin_string[...]")))
        with fake._lock:
            account.process_triggers()
            try:
                answer = fake.private(method, parts.path, params)
            except Reject as reject:
                code, message = BYBIT_REJECTS.get(reject.code, (10001, reject.msg))
                answer = _error(code, message.replace("{price}", str(params.get("triggerPrice"))))
        if answer is None:
            return self._send(404, json.dumps({"retCode": 404, "retMsg": f"not found: {parts.path}"}))
        if parts.path == "/v5/order/create" and fake.order_answer_delay_ms:
            time.sleep(fake.order_answer_delay_ms / 1000)
        if fault is not None and fault.kind == "acted_duplicate":
            answer = _error(*BYBIT_REJECTS[-4116])  # ccxt bybit.exceptions: 110072 InvalidOrder
        text = json.dumps(answer)
        self._send(200, text[: len(text) // 2] if fault is not None and fault.kind == "truncated" else text)
