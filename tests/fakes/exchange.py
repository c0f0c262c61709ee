"""A fake Binance USD-M REST API on 127.0.0.1, serving recorded candles, for the real ccxt.

It answers the public endpoints ccxt's ``binanceusdm`` calls for a tick (exchangeInfo,
klines, openInterest, premiumIndex, time) and for `bot download` (klines paged by
startTime, fundingRate history) in Binance's own formats, as if "now" were a
chosen time inside the data. With ``follow_wall_clock`` the data clock runs with the
wall clock and every timestamp is shifted by a whole number of 8-hour periods, so a bot
reading its local clock sees a current market built from real prices.

Faults are injected per path, method and symbol: HTTP 429 / 418 / 500 / 502 / 503, a
hang (timeout), a malformed body, any endpoint's own answer truncated after it acted,
a well-formed but empty object, null candle rows, an invalid symbol, and Binance's order
rejections (margin insufficient, notional too small, precision, a stop that would trigger
at once, a duplicate client id, an invalid key). Requests are logged.

The private endpoints (balance, positions, leverage, margin type, orders, algo orders,
trades) trade one account, ``fake.account`` (see tests/fakes/account.py for its fill
model); ``fake.prices[coin]`` overrides the price orders fill at and stops trigger on.

Sources: Binance USD-M's docs (https://developers.binance.com/docs/derivatives/usds-margined-futures),
ccxt's recorded binance answers (tests/fixtures/ccxt_recorded, checked by tests/fakes/test_recorded_shapes.py)
and ccxt 4.5.90's binance.py; each behaviour says which.

Run it by hand: ``python -m tests.fakes.exchange --port 8765 --latency-ms 100``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from tests.fakes._local import LocalServer, QuietHandler
from tests.fakes.account import ALGO, REGULAR, FakeAccount, Reject

INTERVAL_MS = {"1m": 60_000, "3m": 180_000, "1h": 3_600_000, "4h": 14_400_000}
EIGHT_HOURS_MS = 8 * 3_600_000
# Binance's published filters for the six default perpetuals: tick size, lot step, min notional.
MARKET_RULES = {
    "BTC": ("0.10", "0.001", "100"),
    "ETH": ("0.01", "0.001", "20"),
    "SOL": ("0.0100", "0.01", "5"),
    "BNB": ("0.010", "0.01", "5"),
    "DOGE": ("0.000010", "1", "5"),
    "XRP": ("0.0001", "0.1", "5"),
}
# Codes and texts as ccxt 4.5.90's binance.py quotes them in its exceptions table (lines ~2149-2256:
# -2019, -2021, -4116, -4164 ...) and Binance USD-M's "Error Codes" page lists them
# (https://developers.binance.com/docs/derivatives/usds-margined-futures/error-code).
BINANCE_ERRORS = {
    "429": (429, {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."}),
    "418": (418, {"code": -1003, "msg": "Way too many requests; IP banned until 1750000000000."}),
    "500": (500, {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}),
    "invalid_symbol": (400, {"code": -1121, "msg": "Invalid symbol."}),
    "insufficient_margin": (400, {"code": -2019, "msg": "Margin is insufficient."}),
    "min_notional": (
        400,
        {"code": -4164, "msg": "Order's notional must be no smaller than 100 (unless you choose reduce only)."},
    ),
    "precision": (400, {"code": -1111, "msg": "Precision is over the maximum defined for this asset."}),
    "would_trigger": (400, {"code": -2021, "msg": "Order would immediately trigger."}),
    "duplicate_client_id": (400, {"code": -4116, "msg": "ClientOrderId is duplicated."}),
    "invalid_key": (401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}),
}

# "truncated": the endpoint does its work (an order is placed), then only the first half of its
# JSON answer is sent, as a connection cut mid-body; "empty_object": a well-formed `{}`;
# "acted_duplicate": the order is placed, and the answer read is the venue's duplicate-client-id
# refusal (the request delivered twice, the second answer the one that arrived).
ACTED = ("truncated", "acted_duplicate")  # faults that let the endpoint act first
FAULT_KINDS = {*BINANCE_ERRORS, "502", "503", "timeout", "malformed", "null_rows", "empty_object", *ACTED}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    at: float


@dataclass
class Fault:
    kind: str
    path: str | None = None
    symbol: str | None = None
    times: int | None = None
    method: str | None = None
    order_type: str | None = None  # e.g. TAKE_PROFIT_MARKET: only orders of this type fail

    def matches(self, method: str, path: str, params: dict[str, str]) -> bool:
        return (
            (self.path is None or self.path in path)
            and (self.symbol is None or params.get("symbol") == self.symbol)
            and (self.method is None or self.method == method)
            and (self.order_type is None or params.get("type") == self.order_type)
        )


@dataclass
class FakeExchange(LocalServer):
    data_dir: Path
    now: datetime | int
    coins: tuple[str, ...] = ("BTC", "ETH", "SOL", "BNB", "DOGE", "XRP")
    latency_ms: float = 0.0
    follow_wall_clock: bool = False
    hang_seconds: float = 30.0
    # An order's answer held back AFTER the account acted on it: the window in which a killed
    # client has an order on the exchange that its state has not recorded (the crash soak's target).
    order_answer_delay_ms: float = 0.0
    order_answer_delay_path: str | None = (
        None  # e.g. "/algoOrder": only those answers are held back (default: every order)
    )
    requests: list[Request] = field(default_factory=list)
    prices: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.now_ms = self.now if isinstance(self.now, int) else int(self.now.timestamp() * 1000)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        wall = int(time.time() * 1000)
        # whole 8h periods keep 3m, 4h and funding boundaries where they are in the data
        self.shift_ms = (wall - self.now_ms) // EIGHT_HOURS_MS * EIGHT_HOURS_MS if self.follow_wall_clock else 0
        self.account = FakeAccount(
            price_of=self.price, clock_ms=lambda: self._data_now() + self.shift_ms, rules=MARKET_RULES
        )

    # -- control ---------------------------------------------------------------------------
    def _handler(self) -> type[QuietHandler]:
        return _Handler

    def inject(
        self,
        kind: str,
        *,
        path: str | None = None,
        symbol: str | None = None,
        times: int | None = None,
        method: str | None = None,
        order_type: str | None = None,
    ) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")  # a typo must not pass silently
        with self._lock:
            self._faults.append(Fault(kind, path, symbol, times, method, order_type))

    def price(self, coin: str) -> float:
        """What market orders fill at and stops trigger on: a price a test set, else the last close."""
        return self.prices[coin] if coin in self.prices else self._last_close(coin)

    def set_price(self, coin: str, price: float) -> None:
        with self._lock:
            self.prices[coin] = price
            self.account.process_triggers()

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, path_substring: str) -> int:
        with self._lock:
            return sum(path_substring in request.path for request in self.requests)

    def data_time(self, wall: datetime) -> datetime:
        """The data time shown to a client whose clock reads ``wall``."""
        return datetime.fromtimestamp(wall.timestamp() - self.shift_ms / 1000, tz=UTC)

    # -- data --------------------------------------------------------------------------------
    def _data_now(self) -> int:
        return int(time.time() * 1000) - self.shift_ms if self.follow_wall_clock else self.now_ms

    def _series(self, coin: str, folder: str, stem: str) -> np.ndarray:
        key = (coin, stem)
        if key not in self._cache:
            for path in (self.data_dir / folder / f"{stem}.csv", self.data_dir / folder / f"{stem}.csv.gz"):
                if path.exists():
                    opener = gzip.open if path.suffix == ".gz" else open
                    with opener(path, "rt") as handle:
                        self._cache[key] = np.loadtxt(handle, delimiter=",", skiprows=1, ndmin=2)
                    break
            else:
                self._cache[key] = np.empty((0, 6))
        return self._cache[key]

    def _candles(self, coin: str, interval: str) -> np.ndarray:
        return self._series(coin, interval, f"{coin}USDT-{interval}")

    def _take_fault(self, method: str, path: str, params: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, params):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    # -- endpoints ----------------------------------------------------------------------------
    def exchange_info(self, params: dict[str, str]) -> object:
        symbols = [self._symbol_info(coin) for coin in self.coins]
        quarterly = dict(
            self._symbol_info("BTC"),
            symbol="BTCUSDT_250926",
            contractType="CURRENT_QUARTER",
            deliveryDate=1758873600000,
        )
        return {
            "timezone": "UTC",
            "serverTime": self._data_now() + self.shift_ms,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            ],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [*symbols, quarterly],
        }

    def _symbol_info(self, coin: str) -> dict:
        tick, step, notional = MARKET_RULES.get(coin, ("0.0001", "1", "5"))
        decimals = lambda text: len(text.split(".")[1].rstrip("0")) if "." in text else 0  # noqa: E731
        return {
            "symbol": f"{coin}USDT",
            "pair": f"{coin}USDT",
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "baseAsset": coin,
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": decimals(tick),
            "quantityPrecision": decimals(step),
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": [],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "4529764", "tickSize": tick},
                {"filterType": "LOT_SIZE", "stepSize": step, "minQty": step, "maxQty": "1000000"},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": step, "minQty": step, "maxQty": "120000"},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": notional},
                {
                    "filterType": "PERCENT_PRICE",
                    "multiplierUp": "1.0500",
                    "multiplierDown": "0.9500",
                    "multiplierDecimal": "4",
                },
            ],
            "orderTypes": [
                "LIMIT",
                "MARKET",
                "STOP",
                "STOP_MARKET",
                "TAKE_PROFIT",
                "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET",
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        }

    def klines(self, params: dict[str, str], coin: str) -> object:
        interval = params.get("interval", "")
        step = INTERVAL_MS.get(interval)
        candles = self._candles(coin, interval) if step else np.empty((0, 6))
        if not len(candles):
            return 400, {"code": -1120, "msg": "Invalid interval."}
        limit = min(int(params.get("limit", 500)), 1500)  # Binance "Kline/Candlestick Data": default 500, max 1500
        now = self._data_now()
        visible = candles[candles[:, 0] <= now]  # the last one is the still-open candle, as on Binance
        if "startTime" in params:
            visible = visible[visible[:, 0] >= int(params["startTime"]) - self.shift_ms][:limit]
        if "endTime" in params:
            visible = visible[visible[:, 0] <= int(params["endTime"]) - self.shift_ms]
        rows = visible[-limit:]
        return [
            [
                int(t) + self.shift_ms,
                *(str(float(v)) for v in (o, h, low, c, vol)),
                int(t) + self.shift_ms + step - 1,
                f"{vol * c:.2f}",
                1000,
                f"{vol / 2:.3f}",
                f"{vol * c / 2:.2f}",
                "0",
            ]
            for t, o, h, low, c, vol in rows
        ]

    def _last_close(self, coin: str) -> float:
        candles = self._candles(coin, "3m")
        visible = candles[candles[:, 0] <= self._data_now()]
        return float(visible[-1, 4]) if len(visible) else 0.0

    def open_interest(self, params: dict[str, str], coin: str) -> object:
        # SYNTHETIC: there is no open-interest history in the data. Half the last day's
        # 3m volume is a plausible magnitude; tests must not treat it as real.
        candles = self._candles(coin, "3m")
        visible = candles[candles[:, 0] <= self._data_now()][-480:]
        return {
            "openInterest": f"{visible[:, 5].sum() * 0.5:.3f}",
            "symbol": f"{coin}USDT",
            "time": self._data_now() + self.shift_ms,
        }

    def premium_index(self, params: dict[str, str], coin: str | None) -> object:
        if coin is None:
            return [self.premium_index(params, name) for name in self.coins]
        now = self._data_now()
        funding = self._series(coin, "funding_8h", f"{coin}USDT-funding-8h")
        # Binance's `lastFundingRate` is the running estimate of the NEXT settlement (it ends
        # there), not the last settled rate: serve the rate the data settles next.
        upcoming = funding[funding[:, 0] > now] if len(funding) else funding
        estimate = upcoming[0, 1] if len(upcoming) else (funding[-1, 1] if len(funding) else 0.0)
        price = str(self._last_close(coin))
        return {
            "symbol": f"{coin}USDT",
            "markPrice": price,
            "indexPrice": price,
            "estimatedSettlePrice": price,
            "lastFundingRate": f"{estimate:.8f}",
            "interestRate": "0.00010000",
            "nextFundingTime": (now // EIGHT_HOURS_MS + 1) * EIGHT_HOURS_MS + self.shift_ms,
            "time": now + self.shift_ms,
        }

    def funding_history(self, params: dict[str, str], coin: str) -> object:
        """GET /fapi/v1/fundingRate: settled rates, oldest first, ``limit`` at most 1000 (default 100)
        (Binance USD-M "Get Funding Rate History")."""
        funding = self._series(coin, "funding_8h", f"{coin}USDT-funding-8h")
        rows = funding[funding[:, 0] <= self._data_now()] if len(funding) else np.empty((0, 2))
        limit = min(int(params.get("limit", 100)), 1000)
        if "startTime" in params:
            rows = rows[rows[:, 0] >= int(params["startTime"]) - self.shift_ms]
        if "endTime" in params:
            rows = rows[rows[:, 0] <= int(params["endTime"]) - self.shift_ms]
        rows = rows[:limit] if "startTime" in params else rows[-limit:]
        price = str(self._last_close(coin))
        return [
            {
                "symbol": f"{coin}USDT",
                "fundingTime": int(t) + self.shift_ms,
                "fundingRate": f"{rate:.8f}",
                "markPrice": price,
            }
            for t, rate in rows
        ]


class _Handler(QuietHandler):
    fake: FakeExchange

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        signed_query = body or parts.query
        params = dict(parse_qsl(signed_query))
        with fake._lock:
            fake.requests.append(Request(method, parts.path, params, time.monotonic()))
        if fake.latency_ms:
            time.sleep(fake.latency_ms / 1000)
        fault = fake._take_fault(method, parts.path, params)
        if fault is not None and fault.kind not in ACTED and self._fail(fault):
            return
        if "signature" in params:
            status, answer = self._private(method, parts.path, params, signed_query)
            held = (fake.order_answer_delay_path,) if fake.order_answer_delay_path else ("/order", "/algoOrder")
            if method == "POST" and parts.path.endswith(held) and fake.order_answer_delay_ms:
                time.sleep(fake.order_answer_delay_ms / 1000)
        else:
            status, answer = self._route(parts.path, params)
        if fault is not None and fault.kind == "acted_duplicate":
            status, answer = BINANCE_ERRORS["duplicate_client_id"]
        text = json.dumps(answer)
        self._send(status, text[: len(text) // 2] if fault is not None and fault.kind == "truncated" else text)

    def _private(self, method: str, path: str, params: dict[str, str], signed_query: str) -> tuple[int, object]:
        fake = self.fake
        account = fake.account
        coin = params["symbol"].removesuffix("USDT") if "symbol" in params else None
        if coin is not None and (coin not in fake.coins or f"{coin}USDT" != params["symbol"]):
            return BINANCE_ERRORS["invalid_symbol"]
        routes = {
            ("GET", "/fapi/v3/account"): lambda: account.account(),
            ("GET", "/fapi/v3/positionRisk"): lambda: account.position_risk(coin),
            ("GET", "/fapi/v1/leverageBracket"): lambda: account.leverage_bracket(),
            ("POST", "/fapi/v1/leverage"): lambda: account.set_leverage(coin, params),
            ("POST", "/fapi/v1/marginType"): lambda: account.set_margin_type(coin, params),
            ("POST", "/fapi/v1/order"): lambda: account.create_order(coin, params),
            ("GET", "/fapi/v1/order"): lambda: account.find(REGULAR, params).as_binance(),
            ("DELETE", "/fapi/v1/order"): lambda: account.cancel(REGULAR, params),
            ("GET", "/fapi/v1/openOrders"): lambda: account.open_orders(REGULAR, coin),
            ("POST", "/fapi/v1/algoOrder"): lambda: account.create_algo_order(coin, params),
            ("GET", "/fapi/v1/algoOrder"): lambda: account.find(ALGO, params).as_binance(),
            ("DELETE", "/fapi/v1/algoOrder"): lambda: account.cancel(ALGO, params),
            ("GET", "/fapi/v1/openAlgoOrders"): lambda: account.open_orders(ALGO, coin),
            ("GET", "/fapi/v1/userTrades"): lambda: account.user_trades(coin, params),
        }
        route = routes.get((method, path))
        if route is None:
            return 404, {"code": -5, "msg": f"not found: {method} {path}"}
        with fake._lock:
            try:
                account.check_auth(self.headers.get("X-MBX-APIKEY"), signed_query)
                account.process_triggers()
                return 200, route()
            except Reject as reject:
                return reject.status, {"code": reject.code, "msg": reject.msg}

    def _route(self, path: str, params: dict[str, str]) -> tuple[int, object]:
        fake = self.fake
        coin = params["symbol"].removesuffix("USDT") if "symbol" in params else None
        if coin is not None and (coin not in fake.coins or f"{coin}USDT" != params["symbol"]):
            return BINANCE_ERRORS["invalid_symbol"]
        routes = {
            "/fapi/v1/exchangeInfo": lambda: fake.exchange_info(params),
            "/fapi/v1/klines": lambda: (
                fake.klines(params, coin)
                if coin
                else (400, {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent."})
            ),
            "/fapi/v1/openInterest": lambda: (
                fake.open_interest(params, coin) if coin else (400, {"code": -1102, "msg": "symbol"})
            ),
            "/fapi/v1/premiumIndex": lambda: fake.premium_index(params, coin),
            "/fapi/v1/fundingRate": lambda: (
                fake.funding_history(params, coin) if coin else (400, {"code": -1102, "msg": "symbol"})
            ),
            "/fapi/v1/time": lambda: {"serverTime": fake._data_now() + fake.shift_ms},
            "/fapi/v1/ping": lambda: {},
        }
        if path not in routes:
            return 404, {"code": -5, "msg": f"not found: {path}"}
        result = routes[path]()
        return result if isinstance(result, tuple) else (200, result)

    def _fail(self, fault: Fault) -> bool:
        if fault.kind in BINANCE_ERRORS:
            status, body = BINANCE_ERRORS[fault.kind]
            self._send(status, json.dumps(body))
        elif fault.kind in ("502", "503"):
            self._send(int(fault.kind), "<html><body>Service Unavailable</body></html>", "text/html")
        elif fault.kind == "timeout":
            time.sleep(self.fake.hang_seconds)
            self.close_connection = True
        elif fault.kind == "malformed":
            self._send(200, '{"symbols": [')
        elif fault.kind == "empty_object":
            self._send(200, "{}")
        elif fault.kind == "null_rows":
            self._send(200, json.dumps([[7, None, None, None, None, None, None, None, None, None, None, None]] * 600))
        else:
            return False
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake Binance USD-M public REST API on 127.0.0.1")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2].parent / "shared" / "data")
    parser.add_argument(
        "--now", default="2025-06-03T12:00", help="data time that corresponds to the wall clock now (UTC)"
    )
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).replace(tzinfo=UTC)
    fake = FakeExchange(args.data_dir, now=now, latency_ms=args.latency_ms, follow_wall_clock=True).start(args.port)
    print(
        f"fake binanceusdm at {fake.url} (data time {fake.data_time(datetime.now(UTC)):%Y-%m-%d %H:%M} UTC); Ctrl-C "
        f"stops",
        flush=True,
    )
    fake.serve_until_interrupted()


if __name__ == "__main__":
    main()
