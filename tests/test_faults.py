"""Fault matrix, exchange side: each fault a real deployment meets, injected into the fake
exchange, and the exact outcome of a `bot tick --dry-run` process run the way cron runs it:
exit code, tick outcome, the message or per-coin error, one journal record, the state file
still loadable with nothing lost, and never a traceback.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import data_dir, run_bot

ALL = ("BTC", "ETH", "SOL", "BNB", "DOGE", "XRP")


@dataclass
class Fault:
    kind: str | None = None  # a fault the fake exchange injects
    path: str | None = None
    symbol: str | None = None
    times: int | None = None
    lag: timedelta = timedelta(0)  # the exchange's data clock behind ours (a stale feed, or our clock ahead)
    delisted: tuple[str, ...] = ()  # coins missing from exchangeInfo
    env: dict[str, str] = field(default_factory=dict)
    refused: bool = False  # nothing listens at the exchange's address


@dataclass
class Expect:
    exit_code: int
    outcome: str
    loaded: tuple[str, ...]
    message: str = ""  # in the tick's message
    errors: dict[str, str] = field(default_factory=dict)  # coin -> the start of why it was skipped


SCENARIOS = {
    "429 on every candle request": (
        Fault("429", path="/fapi/v1/klines"),
        Expect(3, "failed", (), "every coin failed", {coin: "DDoSProtection" for coin in ALL}),
    ),
    "418 IP ban on exchangeInfo": (Fault("418", path="/fapi/v1/exchangeInfo"), Expect(3, "failed", (), "cannot load markets (DDoSProtection")),
    "500 with Binance's -1001 body for one coin": (
        Fault("500", symbol="ETHUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "ETH"), errors={"ETH": "OperationFailed"}),
    ),
    "502 everywhere": (Fault("502"), Expect(3, "failed", (), "cannot load markets (ExchangeNotAvailable")),
    "one 503 on open interest, retried": (Fault("503", path="/fapi/v1/openInterest", symbol="BTCUSDT", times=1), Expect(0, "ok", ALL)),
    "a hanging funding request times out": (
        Fault("timeout", path="/fapi/v1/premiumIndex", symbol="SOLUSDT", env={"BOT_EXCHANGE__TIMEOUT_MS": "1500"}),
        Expect(4, "degraded", tuple(c for c in ALL if c != "SOL"), errors={"SOL": "RequestTimeout"}),
    ),
    "connection refused": (Fault(refused=True), Expect(3, "failed", (), "cannot load markets (")),
    "a body that is not JSON (3m or 4h, whichever answers first)": (
        Fault("malformed", path="/fapi/v1/klines", symbol="XRPUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "XRP"), errors={"XRP": "only 0 closed "}),
    ),
    "a funding answer with its fields missing": (
        Fault("malformed", path="/fapi/v1/premiumIndex", symbol="BNBUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "BNB"), errors={"BNB": "malformed answer: no fundingRate"}),
    ),
    "candle rows of nulls": (
        Fault("null_rows", path="/fapi/v1/klines", symbol="DOGEUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "DOGE"), errors={"DOGE": "3m candles hold missing or non-positive values"}),
    ),
    "an invalid symbol answer": (
        Fault("invalid_symbol", path="/fapi/v1/openInterest", symbol="BTCUSDT"),
        Expect(4, "degraded", tuple(c for c in ALL if c != "BTC"), errors={"BTC": "BadSymbol"}),
    ),
    "a delisted coin": (
        Fault(delisted=("DOGE",)),
        Expect(4, "degraded", tuple(c for c in ALL if c != "DOGE"), errors={"DOGE": "unknown coin 'DOGE' on binanceusdm"}),
    ),
    "stale candles: the feed (or our clock) 30 minutes off": (
        Fault(lag=timedelta(minutes=30)),
        Expect(3, "failed", (), "every coin failed", {coin: "3m candles are stale" for coin in ALL}),
    ),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_exchange_fault(project, name):
    from tests.fakes.exchange import FakeExchange

    fault, expect = SCENARIOS[name]
    coins = tuple(coin for coin in ALL if coin not in fault.delisted)
    with FakeExchange(data_dir(), now=datetime(2025, 6, 3, 12, 0, tzinfo=UTC), coins=coins, follow_wall_clock=True, hang_seconds=4.0) as fake:
        if fault.lag:  # the feed serves candles only up to `lag` ago
            data_now, lag_ms = fake._data_now, int(fault.lag.total_seconds() * 1000)
            fake._data_now = lambda: data_now() - lag_ms
        if fault.kind:
            fake.inject(fault.kind, path=fault.path, symbol=fault.symbol, times=fault.times)
        url = f"http://127.0.0.1:{_free_port()}" if fault.refused else fake.url
        result = run_bot("tick", "--dry-run", cwd=project, env={"BOT_EXCHANGE__API_URL": url, **fault.env})

    assert result.returncode == expect.exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"outcome {expect.outcome}" in result.stdout
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert record["outcome"] == expect.outcome
    assert tuple(record["coins_loaded"]) == expect.loaded
    assert expect.message in record["message"]
    assert set(record["errors"]) == set(expect.errors)
    for coin, why in expect.errors.items():
        assert record["errors"][coin].startswith(why), record["errors"][coin]
        assert f"skipped {coin}: " in result.stdout
    state = json.loads((project / "var" / "state.json").read_text())
    assert state["tick"] == 1
    if expect.outcome == "failed":
        assert record["fills"] == [] and state["cash_usd"] == 10_000 and state["positions"] == {}
        assert state["consecutive_errors"] == 1
    else:
        assert state["consecutive_errors"] == 0
        fees = sum(fill["fee_usd"] for fill in record["fills"])
        assert state["cash_usd"] == pytest.approx(10_000 - fees)  # every fee booked, nothing else moved
