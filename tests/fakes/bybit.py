"""A fake Bybit v5 API on 127.0.0.1 for the real ccxt: the public market endpoints a paper
tick and `bot download` call (``/v5/market/instruments-info``, ``kline``, ``tickers``,
``open-interest``, ``funding/history``, ``time``), in Bybit's shapes (``retCode`` /
``result.list``, newest row first), over the same recorded candles and with the same fault
machinery as the Binance fake (tests/fakes/exchange.py).

Funding intervals are per symbol, as on Bybit: ``FUNDING_MINUTES`` (BTC 480, ETH 240). The
data holds 8-hour rates; a 4-hour symbol is served half of the 8-hour rate it falls in at
each 4-hour settlement (SYNTHETIC). The private endpoints (orders, positions) are not
served: live trading on Bybit is not tested yet.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.account import _text
from tests.fakes.exchange import MARKET_RULES, FakeExchange, Request, _Handler

FUNDING_MINUTES = {"BTC": 480, "ETH": 240}
INTERVALS = {"3": "3m", "60": "1h", "240": "4h", "1": "1m"}  # Bybit's kline intervals -> the data's folders


def _ok(result: object) -> dict:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": int(time.time() * 1000)}


@dataclass
class FakeBybit(FakeExchange):
    def _handler(self) -> type:
        return _BybitHandler

    def instruments(self) -> dict:
        rows = []
        for coin in self.coins:
            tick, step, notional = MARKET_RULES.get(coin, ("0.0001", "1", "5"))
            rows.append({
                "symbol": f"{coin}USDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": coin, "quoteCoin": "USDT",
                "settleCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
                "priceFilter": {"minPrice": tick, "maxPrice": "1999999.80", "tickSize": tick},
                "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": step, "qtyStep": step, "postOnlyMaxOrderQty": "1190.000",
                                  "maxMktOrderQty": "500.000", "minNotionalValue": notional},
                "unifiedMarginTrade": True, "fundingInterval": FUNDING_MINUTES.get(coin, 480), "copyTrading": "both",
                "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
            })  # fmt: skip
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
        rows = visible[-min(int(params.get("limit", 200)), 1000) :]
        listed = [[str(int(t) + self.shift_ms), _text(o), _text(h), _text(low), _text(c), _text(v), _text(v * c)] for t, o, h, low, c, v in rows]
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
        return _ok({"category": "linear", "list": [{
            "symbol": f"{coin}USDT", "lastPrice": price, "indexPrice": price, "markPrice": price, "prevPrice24h": price,
            "price24hPcnt": "0", "highPrice24h": price, "lowPrice24h": price, "prevPrice1h": price, "openInterest": "1000",
            "openInterestValue": "1000", "turnover24h": "1", "volume24h": "1", "fundingRate": f"{self._rate(coin, now + 1):.8f}",
            "nextFundingTime": str((now // step + 1) * step + self.shift_ms), "predictedDeliveryPrice": "", "basisRate": "",
            "deliveryFeeRate": "", "deliveryTime": "0", "ask1Size": "1", "bid1Price": price, "ask1Price": price, "bid1Size": "1", "basis": "",
        }]})  # fmt: skip

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
        times = times[: int(params.get("limit", 200))] if "startTime" in params else times[-int(params.get("limit", 200)) :]
        rows = [{"symbol": f"{coin}USDT", "fundingRate": f"{self._rate(coin, t):.8f}", "fundingRateTimestamp": str(t + self.shift_ms)} for t in times]
        return _ok({"category": "linear", "list": rows[::-1]})


class _BybitHandler(_Handler):
    fake: FakeBybit

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query))
        with fake._lock:
            fake.requests.append(Request(method, parts.path, params, time.monotonic()))
        if fake.latency_ms:
            time.sleep(fake.latency_ms / 1000)
        fault = fake._take_fault(method, parts.path, params)
        if fault is not None and fault.kind != "truncated" and self._fail(fault):
            return
        coin = params["symbol"].removesuffix("USDT") if "symbol" in params else None
        if coin is not None and coin not in fake.coins:
            answer: object = {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}, "retExtInfo": {}, "time": 0}
        else:
            routes = {
                "/v5/market/instruments-info": lambda: fake.instruments() if params.get("status") != "PreLaunch" else _ok({"category": "linear", "list": []}),
                "/v5/market/kline": lambda: fake.kline(coin, params),
                "/v5/market/tickers": lambda: fake.tickers(coin),
                "/v5/market/open-interest": lambda: fake.open_interest(params, coin),
                "/v5/market/funding/history": lambda: fake.funding(coin, params),
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
