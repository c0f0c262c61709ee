"""A fake Hyperliquid API on 127.0.0.1 for the real ccxt: ``POST /info`` and ``POST /exchange``.

The same recorded candles, account model (tests/fakes/account.py) and fault machinery
as the Binance fake (tests/fakes/exchange.py), spoken in Hyperliquid's shapes as ccxt
4.5.90's ``hyperliquid.py`` reads them:

- ``/info`` by ``type``: ``spotMeta`` (ccxt's currencies: USDC only), ``metaAndAssetCtxs`` (markets, funding, open
interest, mark
  price), ``candleSnapshot`` (``req.startTime``..``req.endTime``, the still-open candle
  included), ``fundingHistory`` (hourly), ``userAbstraction``, ``clearinghouseState``
  (balance and positions of ``user``), ``frontendOpenOrders`` (regular and trigger orders
  in one list), ``orderStatus`` (by order id or client id), ``userFills`` / ``userFillsByTime``.
- ``/exchange`` by ``action.type``: ``order`` (an IOC limit fills at the current price when
  its limit is on the right side of it, else "could not immediately match"; a trigger order
  rests), ``cancelByCloid``, ``updateLeverage``, ``approveBuilderFee``, ``setReferrer``.
  Signing happens in ccxt; the fake checks the envelope's shape (``nonce``, ``signature``
  with r, s, v), that client ids are 0x + 32 hex digits, and records the builder and its fee.
- ``wallet`` is the main account: any other ``user`` (an API wallet's own address) reads an
  empty account with a value of 0, as on Hyperliquid.

SYNTHETIC: Hyperliquid funds hourly; the data holds Binance's 8-hour rates, so each hour is
served an eighth of the 8-hour rate it falls in. Faults: ``inject(kind, path="/exchange",
order_type="order/sl")`` matches the info ``type`` or action ``type`` (an order action
carrying a trigger is ``order/sl`` or ``order/tp``); rejections
(insufficient_margin, min_notional, precision, would_trigger) answer as Hyperliquid does:
200 with the error in ``statuses``.

Sources: Hyperliquid's API docs (https://hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/
info-endpoint and .../exchange-endpoint), the shapes of ccxt's recorded hyperliquid answers
(tests/fixtures/ccxt_recorded, checked by tests/fakes/test_recorded_shapes.py) and ccxt 4.5.90's
hyperliquid.py; each behaviour says which.

Run it by hand: ``python -m tests.fakes.hyperliquid --port 8766``.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tests.fakes.account import ALGO, OPEN_STATUSES, REGULAR, FakeOrder, Reject, _text
from tests.fakes.exchange import ACTED, INTERVAL_MS, FakeExchange, Request, _Handler

WALLET = "0x" + "1a" * 20  # the main account
AGENT = "0x" + "2b" * 20  # an API wallet's own address: it holds nothing
SZ_DECIMALS = {"BTC": 5, "ETH": 4, "SOL": 2, "BNB": 3, "DOGE": 0, "XRP": 0}
_CLOID = re.compile(r"^0x[0-9a-f]{32}$")
# The account model's (Binance) codes, as Hyperliquid words them: the texts ccxt 4.5.90's hyperliquid.py
# exceptions table maps (lines ~211-220) and its comments quote ("Insufficient margin to place order. asset=159").
HL_REJECTS = {
    -2019: "Insufficient margin to place order. asset={asset}",
    -4164: "Order must have minimum value of $10. asset={asset}",
    -1111: "Order has invalid size. asset={asset}",
    -2021: "Invalid TP/SL price. asset={asset}",
    -2022: "Reduce only order would increase position. asset={asset}",
    -4116: "Duplicate cloid. asset={asset}",
}
INJECTED_REJECTS = {"insufficient_margin": -2019, "min_notional": -4164, "precision": -1111, "would_trigger": -2021}
# frontendOpenOrders' orderType: a trigger ccxt sends as a market trigger is "Stop Market" / "Take Profit Market"
# (a limit one "Stop Limit", ccxt's recorded trigger order); ccxt hyperliquid.parse_order reads "stop" as a
# stopLossPrice and "take profit" as a takeProfitPrice, which the bot's orders_from turns into its two legs
TYPES = {"STOP_MARKET": "Stop Market", "TAKE_PROFIT_MARKET": "Take Profit Market", "MARKET": "Limit"}


@dataclass
class FakeHyperliquid(FakeExchange):
    wallet: str = WALLET
    # /info userAbstraction answers a bare JSON string (Hyperliquid docs, "Query a user's abstraction
    # state": "unifiedAccount" | "portfolioMargin" | "disabled" | "default" | "dexAbstraction"). A
    # unified account's USDC is read from spotClearinghouseState (ccxt hyperliquid.fetch_balance).
    abstraction: str = "default"
    # A trigger order may be answered with the bare string "waitingForTrigger" instead of
    # {"resting": {"oid"}} (ccxt hyperliquid.create_orders: "tp/sl orders can return a string")
    trigger_answer: str = "resting"
    # candleSnapshot: "Only the most recent 5000 candles are available" (Hyperliquid docs, Info endpoint)
    candle_window: int = 5000
    builder_fees: list[tuple[str, str]] = field(default_factory=list)  # (builder, maxFeeRate) approvals
    order_builders: list[dict | None] = field(default_factory=list)  # the builder attached to each order action
    last_actions: list[dict] = field(default_factory=list)
    # order id -> the builder's fee in tenths of a basis point ({"b": address, "f": 10} is 0.01 %, ccxt's default)
    builder_rates: dict[int, int] = field(default_factory=dict)
    limits: dict[int, float] = field(
        default_factory=dict
    )  # order id -> the limit price it was sent with (the slippage cap)

    def __post_init__(self) -> None:
        super().__post_init__()
        # (tick, lot step, min notional): the lot is 10^-szDecimals, every order at least $10. The
        # account model charges its 0.05 % taker fee (Hyperliquid's base tier is 0.045 %).
        self.account.rules = {
            coin: ("0.1", str(Decimal(1).scaleb(-SZ_DECIMALS.get(coin, 2))), "10") for coin in self.coins
        }

    def _handler(self) -> type:
        return _HlHandler

    def builder_approved(self, builder: dict | None) -> bool:
        """No builder, or one approved at a max fee rate (e.g. "0.01%") of at least its fee ``f``
        (tenths of a basis point: 10 is 0.01 %)."""
        if builder is None:
            return True
        rates = [float(rate.rstrip("%")) * 1000 for b, rate in self.builder_fees if b.lower() == builder["b"].lower()]
        return any(int(builder["f"]) <= rate + 1e-9 for rate in rates)

    def asset(self, coin: str) -> int:
        return self.coins.index(coin)

    # -- /info ------------------------------------------------------------------------------
    def meta_and_ctxs(self) -> list:
        universe = [
            {
                "name": coin,
                "szDecimals": SZ_DECIMALS.get(coin, 2),
                "maxLeverage": 40 if coin == "BTC" else 25,
                "onlyIsolated": False,
            }
            for coin in self.coins
        ]
        ctxs = []
        for coin in self.coins:
            price = _text(self._last_close(coin))
            candles = self._candles(coin, "3m")
            visible = candles[candles[:, 0] <= self._data_now()][-480:]
            ctxs.append(
                {
                    "funding": f"{self._hourly_rate(coin, self._data_now()):.8f}",
                    "openInterest": f"{visible[:, 5].sum() * 0.5:.3f}",
                    "prevDayPx": price,
                    "dayNtlVlm": "1000000.0",
                    "premium": "0.0001",
                    "oraclePx": price,
                    "markPx": price,
                    "midPx": price,
                    "impactPxs": [price, price],
                    "dayBaseVlm": "100.0",
                }
            )
        return [{"universe": universe}, ctxs]

    def _hourly_rate(self, coin: str, at_ms: int) -> float:
        funding = self._series(coin, "funding_8h", f"{coin}USDT-funding-8h")
        if not len(funding):
            return 0.0
        ahead = funding[funding[:, 0] >= at_ms]  # the 8-hour settlement this hour belongs to
        return float((ahead[0, 1] if len(ahead) else funding[-1, 1]) / 8.0)

    def _window(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """A client's [start, end] in data time. ccxt computes Hyperliquid's windows from the real
        clock (``milliseconds()``); a client running ahead of the data clock (the crash soak's
        processes, whose clock is set only for the bot) asking for a span that lies wholly after the
        data's now gets the same span ending there; a span that starts before it (a download's
        ``since``) ends there."""
        start, end, now = start_ms - self.shift_ms, end_ms - self.shift_ms, self._data_now()
        if start > now:
            return start - (end - now), now
        return start, min(end, now)

    def candle_snapshot(self, req: dict) -> object:
        coin, interval = req.get("coin"), req.get("interval")
        step = INTERVAL_MS.get(interval or "")
        if coin not in self.coins or step is None:
            return 500, None  # Hyperliquid answers a bad request with a 500 and no body
        candles = self._candles(coin, interval)
        start, end = self._window(int(req["startTime"]), int(req["endTime"]))
        latest = candles[candles[:, 0] <= self._data_now()][-self.candle_window :]  # the window, whatever is asked
        rows = latest[(latest[:, 0] >= start) & (latest[:, 0] <= end)]
        return [
            {
                "t": int(t) + self.shift_ms,
                "T": int(t) + self.shift_ms + step - 1,
                "s": coin,
                "i": interval,
                "o": _text(o),
                "h": _text(h),
                "l": _text(low),
                "c": _text(c),
                "v": _text(v),
                "n": 100,
            }
            for t, o, h, low, c, v in rows
        ]

    def funding_history(self, body: dict) -> object:
        coin = body.get("coin")
        start, end = self._window(int(body["startTime"]), int(body.get("endTime") or self._data_now() + self.shift_ms))
        first = (start + 3_599_999) // 3_600_000 * 3_600_000
        hours = range(first, end + 1, 3_600_000)
        return [
            {
                "coin": coin,
                "fundingRate": f"{self._hourly_rate(coin, t):.8f}",
                "premium": "0.0001",
                "time": t + self.shift_ms,
            }
            for t in hours
        ][:500]

    def clearinghouse(self, user: str) -> dict:
        account = self.account
        mine = user.lower() == self.wallet.lower()
        positions = []
        perp_value = mine and self.abstraction != "unifiedAccount"  # unified: the USDC is in the spot state
        for coin, position in account.positions.items() if mine else ():
            if not position.amount:
                continue
            price = self.price(coin)
            leverage = account.leverage.get(coin, 20)
            # marginUsed: cross, the position's value at the mark over its leverage; isolated, the margin put
            # up plus the unrealized PnL (ccxt's recorded hyperliquid fetchPositions "short position" 68.98 / 20
            # = 3.449, "isolated short position" 18.564417 = 19.171517 - 0.6071; ccxt hyperliquid.parse_position
            # takes initialMargin = marginUsed - unrealizedPnl when isolated)
            isolated = account.margin_type.get(coin, "cross") == "isolated"
            unrealized = account._unrealized(coin)
            margin = account._margin(coin) + unrealized if isolated else abs(position.amount) * price / leverage
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": coin,
                        "szi": _text(position.amount),
                        "entryPx": _text(position.entry_price),
                        "positionValue": _text(abs(position.amount) * price),
                        "unrealizedPnl": _text(unrealized),
                        "returnOnEquity": "0.0",
                        "liquidationPx": None,
                        "marginUsed": _text(margin),
                        "maxLeverage": 40,
                        "leverage": {"type": account.margin_type.get(coin, "cross"), "value": leverage},
                        "cumFunding": {"allTime": "0.0", "sinceChange": "0.0", "sinceOpen": "0.0"},
                    },
                }
            )
        unrealized = sum(account._unrealized(c) for c in account.positions) if mine else 0.0
        value = account.wallet_usd + unrealized if perp_value else 0.0
        used = sum(account._margin(c) for c in account.positions) if mine else 0.0
        summary = {
            "accountValue": _text(value),
            "totalNtlPos": "0.0",
            "totalRawUsd": _text(value),
            "totalMarginUsed": _text(used),
        }
        return {
            "marginSummary": summary,
            "crossMarginSummary": summary,
            "crossMaintenanceMarginUsed": "0.0",
            "withdrawable": _text(value - used),
            "assetPositions": positions,
            "time": self._data_now() + self.shift_ms,
        }

    def spot_clearinghouse(self, user: str) -> dict:
        """A unified account's balances: its USDC ``total`` is the account's value (SYNTHETIC: the
        perp clearinghouse's accountValue, wallet + unrealized PnL), ``hold`` the margin in use; an
        account that is not unified holds no spot USDC here."""
        account, mine = self.account, user.lower() == self.wallet.lower()
        unified = mine and self.abstraction == "unifiedAccount"
        value = account.wallet_usd + sum(account._unrealized(c) for c in account.positions) if unified else 0.0
        hold = sum(account._margin(c) for c in account.positions) if unified else 0.0
        return {
            "balances": [{"coin": "USDC", "token": 0, "hold": _text(hold), "total": _text(value), "entryNtl": "0.0"}]
        }

    def hl_order(self, order: FakeOrder) -> dict:
        coin = order.symbol.removesuffix("USDT")
        trigger = order.kind == ALGO
        return {
            "coin": coin,
            "side": "B" if order.side == "BUY" else "A",
            "limitPx": _text(self.limits.get(order.id, order.trigger_price or 0)),
            # sz is what is left: ccxt's hyperliquid.parse_order reads filled = origSz - sz; an IOC's
            # cancelled rest stays in sz (the part that never filled)
            "sz": _text(
                order.quantity - order.executed_qty
                if order.status in OPEN_STATUSES or (order.kind == REGULAR and order.status in ("EXPIRED", "CANCELED"))
                else 0.0
            ),
            "oid": order.id,
            "timestamp": order.created_ms,
            "origSz": _text(order.quantity),
            "cloid": order.client_id if order.client_id.startswith("0x") else None,
            "reduceOnly": order.reduce_only,
            "orderType": TYPES[order.type],
            "isTrigger": trigger,
            "triggerPx": _text(order.trigger_price or 0),
            # ccxt's recorded hyperliquid fetchOpenOrders "trigger open order": "Price above <triggerPx>"; a sell stop
            # and a buy take-profit fire on the way down
            "triggerCondition": (
                f"Price {'below' if (order.type == 'STOP_MARKET') == (order.side == 'SELL') else 'above'} "
                f"{_text(order.trigger_price or 0)}"
                if trigger
                else "N/A"
            ),
            "isPositionTpsl": False,
            "tif": None if trigger else "Ioc",
            "children": [],
        }

    def open_orders(self, user: str) -> list:
        if user.lower() != self.wallet.lower():
            return []
        return [self.hl_order(o) for o in self.account.orders if o.status in OPEN_STATUSES]

    def order_status(self, user: str, oid: object) -> dict:
        for order in reversed(self.account.orders):
            if user.lower() == self.wallet.lower() and (order.client_id == oid or order.id == oid):
                status = {
                    "NEW": "open",
                    "FILLED": "filled",
                    "EXPIRED": "filled",
                    "FINISHED": "filled",
                    "CANCELED": "canceled",
                }[order.status]
                if order.status == "EXPIRED":  # a trigger with nothing to reduce; an IOC's rest cancelled
                    status = "canceled"
                return {
                    "status": "order",
                    "order": {
                        "order": self.hl_order(order),
                        "status": status,
                        "statusTimestamp": order.updated_ms or order.created_ms,
                    },
                }
        return {"status": "unknownOid"}

    def fills(self, user: str, start_ms: int = 0) -> list:
        """userFills in ccxt's recorded hyperliquid fetchMyTrades shape: ``dir`` and ``startPosition`` from
        the position before the fill, ``cloid`` when the order had one, ``builderFee`` only on a fill
        that paid a builder (ccxt adds it to the fee)."""
        if user.lower() != self.wallet.lower():
            return []
        cloids = {o.id: o.client_id for o in self.account.orders if o.client_id.startswith("0x")}
        rows = []
        for t in self.account.trades:
            if t["time"] < start_ms:
                continue
            start = self.account.starts.get(t["id"], 0.0)
            buy = t["side"] == "BUY"
            closing = (start < 0) if buy else (start > 0)
            rate = self.builder_rates.get(t["orderId"], 0)
            rows.append(
                {
                    "coin": t["symbol"].removesuffix("USDT"),
                    "px": t["price"],
                    "sz": t["qty"],
                    "side": "B" if buy else "A",
                    "time": t["time"],
                    "startPosition": _text(start),
                    "dir": f"{'Close' if closing else 'Open'} {'Short' if buy == closing else 'Long'}",
                    "closedPnl": t["realizedPnl"],
                    "hash": "0x" + "0" * 64,
                    "oid": t["orderId"],
                    **({"cloid": cloids[t["orderId"]]} if t["orderId"] in cloids else {}),
                    "crossed": True,
                    "fee": t["commission"],
                    **({"builderFee": _text(float(t["quoteQty"]) * rate / 100_000)} if rate else {}),
                    "tid": t["id"],
                    "feeToken": "USDC",
                    "twapId": None,
                }
            )
        return rows

    # -- /exchange ---------------------------------------------------------------------------
    def place(self, wire: dict, builder: dict | None = None) -> dict | str:
        """One order of an ``order`` action: {a, b, p, s, r, t, c}; a builder's fee leaves the wallet."""
        coin = self.coins[int(wire["a"])]
        cloid = wire.get("c")
        if cloid is not None and not _CLOID.match(cloid):
            return {"error": f"Invalid cloid {cloid!r}: must be 0x and 32 hex digits"}
        side, quantity, reduce_only = ("BUY" if wire["b"] else "SELL"), float(wire["s"]), bool(wire["r"])
        account = self.account
        try:
            if "trigger" in wire["t"]:
                trigger = wire["t"]["trigger"]
                kind = "TAKE_PROFIT_MARKET" if trigger["tpsl"] == "tp" else "STOP_MARKET"
                params = {
                    "type": kind,
                    "side": side,
                    "quantity": wire["s"],
                    "triggerPrice": trigger["triggerPx"],
                    "reduceOnly": "true" if reduce_only else "false",
                    "clientAlgoId": cloid or f"auto_{time.monotonic_ns()}",
                }
                order = account.create_algo_order(coin, params)
                if self.trigger_answer == "waitingForTrigger":
                    return "waitingForTrigger"
                return {"resting": {"oid": order["algoId"], **({"cloid": cloid} if cloid else {})}}
            price, limit = self.price(coin), float(wire["p"])
            if (side == "BUY" and limit < price) or (side == "SELL" and limit > price):
                return {"error": f"Order could not immediately match against any resting orders. asset={wire['a']}"}
            order = account._new(
                REGULAR, cloid or f"auto_{time.monotonic_ns()}", coin, side, "MARKET", quantity, reduce_only
            )
            account._fill(order)
            self.limits[order.id] = limit
            account.expire_rest(order)  # Hyperliquid's "Ioc": what does not fill at once is cancelled
            if builder and int(builder.get("f") or 0) > 0 and order.executed_qty:
                self.builder_rates[order.id] = int(builder["f"])
                account.wallet_usd -= order.executed_qty * order.avg_price * int(builder["f"]) / 100_000
            if not order.executed_qty:
                return {"error": f"Order could not immediately match against any resting orders. asset={wire['a']}"}
        except Reject as reject:
            return {"error": HL_REJECTS.get(reject.code, reject.msg).format(asset=wire["a"])}
        return {
            "filled": {
                "totalSz": _text(order.executed_qty),
                "avgPx": _text(order.avg_price),
                "oid": order.id,
                **({"cloid": cloid} if cloid else {}),
            }
        }

    def cancel_by_cloid(self, cancels: list[dict]) -> list:
        statuses = []
        for cancel in cancels:
            order = next(
                (
                    o
                    for o in reversed(self.account.orders)
                    if o.client_id == cancel["cloid"] and o.status in OPEN_STATUSES
                ),
                None,
            )
            if order is None:
                statuses.append(
                    {"error": f"Order was never placed, already canceled, or filled. asset={cancel['asset']}"}
                )
            else:
                order.status, order.updated_ms = "CANCELED", self.account.clock_ms()
                statuses.append("success")
        return statuses


def _ok(kind: str, statuses: list | None = None) -> dict:
    return {
        "status": "ok",
        "response": {"type": kind, **({"data": {"statuses": statuses}} if statuses is not None else {})},
    }


class _HlHandler(_Handler):
    fake: FakeHyperliquid

    def _handle(self, method: str) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, json.dumps({"status": "err", "response": "Failed to deserialize the JSON body"}))
        action = body.get("action") if isinstance(body.get("action"), dict) else {}
        kind = str(body.get("type") or action.get("type") or "")
        coin = (body.get("req") or {}).get("coin") or body.get("coin")
        wires = action.get("orders") or []
        if (
            kind == "order" and wires and "trigger" in (wires[0].get("t") or {})
        ):  # faults can target "order/sl" or "order/tp" only
            kind = f"order/{wires[0]['t']['trigger'].get('tpsl')}"
        params = {"type": kind, **({"symbol": coin} if coin else {})}
        with fake._lock:
            fake.requests.append(Request(method, self.path, params, time.monotonic()))
        if fake.latency_ms:
            time.sleep(fake.latency_ms / 1000)
        fault = fake._take_fault(method, self.path, params)
        if fault is not None and fault.kind in INJECTED_REJECTS and kind.startswith("order"):
            message = HL_REJECTS[INJECTED_REJECTS[fault.kind]].format(asset=0)
            return self._send(200, json.dumps(_ok("order", [{"error": message}] * len(action.get("orders", [1])))))
        if fault is not None and fault.kind not in ACTED and self._fail(fault):
            return
        if method != "POST" or self.path not in ("/info", "/exchange"):
            status, answer = 404, None
        elif self.path == "/info":
            status, answer = self._info(kind, body)
        else:
            status, answer = self._exchange(action, body)
            if kind.startswith("order") and fake.order_answer_delay_ms:
                time.sleep(fake.order_answer_delay_ms / 1000)
            if fault is not None and fault.kind == "acted_duplicate" and kind.startswith("order"):
                answer = _ok("order", [{"error": HL_REJECTS[-4116].format(asset=0)}] * len(action.get("orders", [1])))
        text = json.dumps(answer) if answer is not None else ""
        self._send(status, text[: len(text) // 2] if fault is not None and fault.kind == "truncated" else text)

    def _info(self, kind: str, body: dict) -> tuple[int, object]:
        fake, user = self.fake, str(body.get("user") or "")
        with fake._lock:
            fake.account.process_triggers()
            routes = {
                "metaAndAssetCtxs": lambda: fake.meta_and_ctxs(),
                "meta": lambda: fake.meta_and_ctxs()[0],
                "spotMeta": lambda: {
                    "universe": [],
                    "tokens": [
                        {
                            "name": "USDC",
                            "szDecimals": 8,
                            "weiDecimals": 8,
                            "index": 0,
                            "isCanonical": True,
                            "fullName": None,
                        }
                    ],
                },
                "candleSnapshot": lambda: fake.candle_snapshot(body.get("req") or {}),
                "fundingHistory": lambda: fake.funding_history(body),
                "userAbstraction": lambda: fake.abstraction,
                "spotClearinghouseState": lambda: fake.spot_clearinghouse(user),
                "clearinghouseState": lambda: fake.clearinghouse(user),
                "frontendOpenOrders": lambda: fake.open_orders(user),
                "openOrders": lambda: fake.open_orders(user),
                "orderStatus": lambda: fake.order_status(user, body.get("oid")),
                "userFills": lambda: fake.fills(user),
                "userFillsByTime": lambda: fake.fills(user, int(body.get("startTime") or 0)),
            }
            if kind not in routes:
                return 422, None  # Hyperliquid: "Failed to deserialize the JSON body into the target type"
            result = routes[kind]()
        return result if isinstance(result, tuple) else (200, result)

    def _exchange(self, action: dict, body: dict) -> tuple[int, object]:
        fake = self.fake
        signature = body.get("signature")
        if not isinstance(body.get("nonce"), int) or not (
            isinstance(signature, dict) and {"r", "s", "v"} <= set(signature)
        ):
            return 422, {
                "status": "err",
                "response": "Failed to deserialize the JSON body: nonce and signature {r, s, v} are required",
            }
        kind = action.get("type")
        with fake._lock:
            fake.last_actions.append(action)
            fake.account.process_triggers()
            if kind == "approveBuilderFee":
                fake.builder_fees.append((action["builder"], action["maxFeeRate"]))
                return 200, _ok("default")
            if kind == "setReferrer":
                return 200, {"status": "err", "response": "Referrer already set"}
            if kind == "updateLeverage":
                coin = fake.coins[int(action["asset"])]
                fake.account.leverage[coin] = int(action["leverage"])
                fake.account.margin_type[coin] = "cross" if action["isCross"] else "isolated"
                return 200, _ok("default")
            if kind == "order":
                fake.order_builders.append(action.get("builder"))
                if not fake.builder_approved(action.get("builder")):
                    # an order carrying a builder the account never approved is refused, even at f = 0
                    # (hummingbot/hummingbot#8449, nautechsystems/nautilus_trader#4241; Hyperliquid docs,
                    # "Builder codes": orders may carry a builder once the user approved its max fee)
                    return 200, {"status": "err", "response": "Builder fee has not been approved."}
                return 200, _ok("order", [fake.place(wire, action.get("builder")) for wire in action["orders"]])
            if kind == "cancelByCloid":
                return 200, _ok("cancel", fake.cancel_by_cloid(action["cancels"]))
        return 200, {"status": "err", "response": f"unknown action {kind!r}"}


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Hyperliquid API on 127.0.0.1")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    parser.add_argument(
        "--now", default="2025-06-03T12:00", help="data time that corresponds to the wall clock now (UTC)"
    )
    parser.add_argument("--port", type=int, default=8766, help="0 picks a free port")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).replace(tzinfo=UTC)
    fake = FakeHyperliquid(args.data_dir, now=now, follow_wall_clock=True).start(args.port)
    print(f"fake hyperliquid at {fake.url} (wallet {fake.wallet}); Ctrl-C stops", flush=True)
    fake.serve_until_interrupted()


if __name__ == "__main__":
    main()
