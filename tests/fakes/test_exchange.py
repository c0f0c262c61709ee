"""The fake Binance USD-M server, checked through the REAL ccxt client.

Why: every market and tick test trusts that the fake answers like Binance and that ccxt
parses it the way it parses the real API. These tests pin that down with exact values
from the CSV files, and record which ccxt exception class each injected fault produces
(ccxt 4.5.90): code that classifies errors depends on these classes.
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from functools import cache

import ccxt.async_support as ccxt
import pytest

from bot.venues.exchange import point_exchange_at
from tests.conftest import data_dir
from tests.fakes.exchange import FakeExchange

DATA = data_dir()

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
MIN3, H1, H4, H8 = 180_000, 3_600_000, 14_400_000, 28_800_000
COINS = ("BTC", "ETH", "SOL", "BNB", "DOGE", "XRP")
BTC = "BTC/USDT:USDT"


@cache
def csv_rows(folder: str, stem: str) -> dict[int, list[float]]:
    """The data file read independently of the fake: open time (ms) -> remaining columns."""
    with open(DATA / folder / f"{stem}.csv", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return {int(row[0]): [float(value) for value in row[1:]] for row in reader}


def last_funding_at_or_before(coin: str, at_ms: int) -> tuple[int, float]:
    settled = [(t, row[0]) for t, row in csv_rows("funding_8h", f"{coin}USDT-funding-8h").items() if t <= at_ms]
    return max(settled)


@pytest.fixture(scope="module")
def server():
    with FakeExchange(DATA, now=NOW) as fake:
        yield fake


@pytest.fixture
def fake(server):
    """The shared server, reset: no faults, no latency, empty log, time back at NOW."""
    server.clear_faults()
    server.latency_ms = 0
    server.now_ms = NOW_MS
    server.requests.clear()
    yield server
    server.clear_faults()
    server.latency_ms = 0
    server.now_ms = NOW_MS


def run(fake: FakeExchange, body, timeout_ms: int = 2000):
    """Run ``await body(exchange)`` with a real ccxt binanceusdm pointed at the fake."""

    async def main():
        exchange = ccxt.binanceusdm(
            {"enableRateLimit": True, "rateLimiterAlgorithm": "rollingWindow", "timeout": timeout_ms}
        )
        point_exchange_at(exchange, fake.url)
        exchange.timeout_on_exit = 0  # ccxt sleeps 250 ms in close() for TLS shutdown; plain HTTP needs none
        try:
            return await body(exchange)
        finally:
            await exchange.close()

    return asyncio.run(main())


async def loaded(exchange):
    await exchange.load_markets()
    return exchange


# -- formats ---------------------------------------------------------------------------------


def test_load_markets_reads_only_exchange_info_and_gets_binance_filters(fake):
    markets = run(fake, loaded).markets
    swaps = sorted(symbol for symbol, market in markets.items() if market["swap"])
    assert swaps == sorted(f"{coin}/USDT:USDT" for coin in COINS)
    btc = markets[BTC]
    assert (btc["id"], btc["linear"], btc["settle"], btc["active"]) == ("BTCUSDT", True, "USDT", True)
    assert btc["precision"]["amount"] == 0.001
    assert btc["precision"]["price"] == 0.1
    assert btc["limits"]["amount"]["min"] == 0.001
    assert btc["limits"]["cost"]["min"] == 100
    assert markets["ETH/USDT:USDT"]["limits"]["cost"]["min"] == 20
    assert markets["SOL/USDT:USDT"]["precision"]["price"] == 0.01
    assert markets["DOGE/USDT:USDT"]["precision"]["amount"] == 1
    assert markets["DOGE/USDT:USDT"]["precision"]["price"] == 0.00001
    assert markets["XRP/USDT:USDT"]["precision"]["amount"] == 0.1
    # the quarterly contract is listed too, so coin -> perpetual mapping must pick the swap
    futures = [market for market in markets.values() if market["future"]]
    assert len(futures) == 1 and futures[0]["base"] == "BTC" and futures[0]["id"] != "BTCUSDT"
    assert [request.path for request in fake.requests] == ["/fapi/v1/exchangeInfo"]


@pytest.mark.parametrize("offset_ms", [0, 100_000])  # at a candle boundary and 1 min 40 s into a candle
def test_fetch_ohlcv_3m_ends_with_the_still_open_candle(fake, offset_ms):
    fake.now_ms = NOW_MS + offset_ms
    rows = run(fake, lambda ex: ex.fetch_ohlcv(BTC, "3m", limit=501))
    open_candle = (NOW_MS + offset_ms) // MIN3 * MIN3
    assert len(rows) == 501
    assert rows[-1][0] == open_candle
    assert [b[0] - a[0] for a, b in itertools.pairwise(rows)] == [MIN3] * 500
    expected = csv_rows("3m", "BTCUSDT-3m")
    assert rows[-2][4] == expected[open_candle - MIN3][3]
    assert rows[-2][1:] == expected[open_candle - MIN3]
    assert rows[0][1:] == expected[rows[0][0]]
    assert fake.requests[-1].params == {"symbol": "BTCUSDT", "interval": "3m", "limit": "501"}


def test_fetch_ohlcv_4h_matches_the_csv(fake):
    rows = run(fake, lambda ex: ex.fetch_ohlcv("ETH/USDT:USDT", "4h", limit=120))
    assert len(rows) == 120
    assert rows[-1][0] == NOW_MS // H4 * H4
    expected = csv_rows("4h", "ETHUSDT-4h")
    assert rows[-2][4] == expected[rows[-1][0] - H4][3]
    assert all(row[1:] == expected[row[0]] for row in rows)


def test_fetch_ohlcv_since_starts_there_and_never_passes_now(fake):
    since = NOW_MS - 10 * H1
    rows = run(fake, lambda ex: ex.fetch_ohlcv("SOL/USDT:USDT", "1h", since=since, limit=5))
    assert [row[0] for row in rows] == [since + i * H1 for i in range(5)]
    rows = run(fake, lambda ex: ex.fetch_ohlcv("SOL/USDT:USDT", "1h", since=since, limit=100))
    assert rows[0][0] == since and rows[-1][0] == NOW_MS // H1 * H1 and len(rows) == 11


def test_fetch_funding_rate_is_the_estimate_of_the_next_settlement(fake):
    # As on Binance: premiumIndex's lastFundingRate runs toward the next settlement's rate;
    # the last settled one is /fapi/v1/fundingRate's (issue 16 item 11).
    fake.now_ms = NOW_MS + 5 * 60_000
    rate = run(fake, lambda ex: ex.fetch_funding_rate(BTC))
    next_at, next_rate = last_funding_at_or_before("BTC", NOW_MS + 4 * H1)
    assert next_at == NOW_MS + 4 * H1  # 16:00 UTC
    assert rate["fundingRate"] == next_rate
    settled_at, settled_rate = last_funding_at_or_before("BTC", NOW_MS + 5 * 60_000)
    assert settled_at == NOW_MS - 4 * H1 and settled_rate != next_rate  # 08:00 UTC: a different number
    [last] = run(fake, lambda ex: ex.fetch_funding_rate_history(BTC, None, 1))
    assert (last["timestamp"], last["fundingRate"]) == (settled_at, settled_rate)
    assert rate["fundingTimestamp"] == NOW_MS + 4 * H1  # next settlement, 16:00 UTC
    assert rate["markPrice"] == csv_rows("3m", "BTCUSDT-3m")[NOW_MS + 3 * 60_000][3]
    assert rate["symbol"] == BTC


def test_fetch_open_interest_is_a_positive_amount(fake):
    interest = run(fake, lambda ex: ex.fetch_open_interest(BTC))
    assert interest["symbol"] == BTC
    assert interest["openInterestAmount"] > 0  # synthetic (no OI history in the data): only its sign is meaningful
    assert interest["timestamp"] == NOW_MS


def test_unknown_symbol_interval_and_path_answer_like_binance(fake):
    with pytest.raises(ccxt.BadSymbol):
        run(fake, lambda ex: ex.fapiPublicGetKlines({"symbol": "FOOUSDT", "interval": "3m"}))
    with pytest.raises(ccxt.BadRequest, match="-1120"):
        run(fake, lambda ex: ex.fapiPublicGetKlines({"symbol": "BTCUSDT", "interval": "1d"}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{fake.url}/fapi/v1/nope", timeout=2)
    assert caught.value.code == 404 and json.loads(caught.value.read())["code"] == -5
    with urllib.request.urlopen(f"{fake.url}/fapi/v1/time", timeout=2) as response:
        assert json.loads(response.read()) == {"serverTime": NOW_MS}


# -- faults: the ccxt 4.5.90 exception class each one raises -----------------------------------


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("429", ccxt.DDoSProtection),
        ("418", ccxt.DDoSProtection),
        ("500", ccxt.OperationFailed),
        ("502", ccxt.ExchangeNotAvailable),
        ("503", ccxt.ExchangeNotAvailable),
        ("invalid_symbol", ccxt.BadSymbol),
    ],
)
def test_http_faults_raise_these_ccxt_classes(fake, kind, error):
    fake.inject(kind, path="/fapi/v1/klines")

    async def body(ex):
        await ex.load_markets()  # exchangeInfo is not faulted
        return await ex.fetch_ohlcv(BTC, "3m", limit=10)

    with pytest.raises(ccxt.BaseError) as caught:
        run(fake, body)
    assert type(caught.value) is error


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("429", 429, -1003),
        ("418", 418, -1003),
        ("500", 500, -1001),
        ("502", 502, None),
        ("503", 503, None),
        ("invalid_symbol", 400, -1121),
    ],
)
def test_http_faults_send_binance_status_and_body(fake, kind, status, code):
    """ccxt maps some faults by body code before status, so check the raw answer as well."""
    fake.inject(kind, symbol="BTCUSDT", times=1)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{fake.url}/fapi/v1/klines?symbol=BTCUSDT&interval=3m&limit=2", timeout=2)
    body = caught.value.read().decode()
    assert caught.value.code == status
    if code is None:
        assert caught.value.headers["Content-Type"].startswith("text/html")
    else:
        assert json.loads(body)["code"] == code
    with urllib.request.urlopen(f"{fake.url}/fapi/v1/klines?symbol=BTCUSDT&interval=3m&limit=2", timeout=2) as response:
        assert len(json.loads(response.read())) == 2  # times=1: cleared


def test_exception_hierarchy_facts_that_error_handling_relies_on():
    # 429/418 are not RateLimitExceeded (a sibling); a JSON 500 is neither a network nor an exchange error.
    assert not issubclass(ccxt.DDoSProtection, ccxt.RateLimitExceeded)
    assert issubclass(ccxt.DDoSProtection, ccxt.NetworkError)
    assert not issubclass(ccxt.OperationFailed, (ccxt.NetworkError, ccxt.ExchangeError))
    assert issubclass(ccxt.ExchangeNotAvailable, ccxt.NetworkError)


def test_a_hang_raises_request_timeout_after_the_ccxt_timeout(fake):
    previous, fake.hang_seconds = fake.hang_seconds, 3
    try:
        fake.inject("timeout", path="/fapi/v1/exchangeInfo", times=1)
        # ccxt raises RequestTimeout only from its own timer; a hang that ran out first
        # would close the connection unanswered, a NetworkError of another kind.
        with pytest.raises(ccxt.RequestTimeout):
            run(fake, lambda ex: ex.load_markets(), timeout_ms=500)
        assert fake.count("/fapi/v1/exchangeInfo") == 1
    finally:
        fake.hang_seconds = previous


def test_malformed_200_does_not_raise_in_ccxt(fake):
    """ccxt swallows an unparsable 200 body: callers must validate what they get."""

    async def body(ex):
        await ex.load_markets()
        fake.inject("malformed", times=3)
        return (
            await ex.fetch_ohlcv(BTC, "3m", limit=500),
            await ex.fetch_funding_rate(BTC),
            await ex.fetch_open_interest(BTC),
        )

    candles, funding, interest = run(fake, body)
    assert candles and all(row == [None] * 6 for row in candles)
    assert funding["fundingRate"] is None and funding["markPrice"] is None
    assert interest["openInterestAmount"] is None


def test_malformed_exchange_info_loads_zero_markets(fake):
    fake.inject("malformed", path="/fapi/v1/exchangeInfo")
    assert run(fake, loaded).markets == {}


def test_null_rows_reach_the_caller_unvalidated(fake):
    fake.inject("null_rows", path="/fapi/v1/klines", symbol="BTCUSDT")

    async def body(ex):
        await ex.load_markets()
        return await ex.fetch_ohlcv(BTC, "3m", limit=500), await ex.fetch_ohlcv("ETH/USDT:USDT", "3m", limit=5)

    btc, eth = run(fake, body)
    assert btc and all(row == [7, None, None, None, None, None] for row in btc)
    assert len(eth) == 5 and all(isinstance(value, float) for row in eth for value in row[1:])


def test_a_fault_with_times_clears_and_only_hits_its_symbol(fake):
    fake.inject("500", path="/fapi/v1/klines", symbol="ETHUSDT", times=1)

    async def body(ex):
        await ex.load_markets()
        btc = await ex.fetch_ohlcv(BTC, "3m", limit=5)  # other symbol: unaffected, does not use up the fault
        with pytest.raises(ccxt.OperationFailed):
            await ex.fetch_ohlcv("ETH/USDT:USDT", "3m", limit=5)
        return btc, await ex.fetch_ohlcv("ETH/USDT:USDT", "3m", limit=5)

    btc, eth = run(fake, body)
    assert len(btc) == 5 and len(eth) == 5
    assert fake.count("/fapi/v1/klines") == 3


# -- concurrency and the request log -------------------------------------------------------------


def test_rolling_window_sends_24_requests_together_despite_latency(fake):
    async def body(ex):
        await ex.load_markets()
        fake.latency_ms = 100
        calls = []
        for coin in COINS:
            symbol = f"{coin}/USDT:USDT"
            calls += [
                ex.fetch_ohlcv(symbol, "3m", limit=501),
                ex.fetch_ohlcv(symbol, "4h", limit=120),
                ex.fetch_funding_rate(symbol),
                ex.fetch_open_interest(symbol),
            ]
        return await asyncio.gather(*calls)

    results = run(fake, body)
    assert len(results) == 24 and all(results)
    served = [request for request in fake.requests if request.path != "/fapi/v1/exchangeInfo"]
    assert len(served) == 24
    assert max(r.at for r in served) - min(r.at for r in served) < 0.5  # arrived together, not one per 100 ms
    assert fake.count("/fapi/v1/klines") == 12
    assert fake.count("/fapi/v1/premiumIndex") == 6 and fake.count("/fapi/v1/openInterest") == 6
    assert {r.params["symbol"] for r in served} == {f"{coin}USDT" for coin in COINS}
    assert all(r.method == "GET" for r in fake.requests)


def test_a_misspelled_fault_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault 'http500'"):
        FakeExchange(DATA, now=NOW).inject("http500")
