"""Market data, paper ticks and downloads on Hyperliquid and Bybit: the real ccxt against each
venue's fake on 127.0.0.1 (tests/fakes/hyperliquid.py, tests/fakes/bybit.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.venues.download import Downloader
from bot.venues.history import HistoryMarket
from bot.venues.market import CcxtMarket
from tests.conftest import NOW, data_dir, run_bot
from tests.fakes.bybit import FakeBybit
from tests.fakes.hyperliquid import FakeHyperliquid

VENUES = {"hyperliquid": (FakeHyperliquid, "USDC"), "bybit": (FakeBybit, "USDT")}
# What one paper tick asks for, per venue (the live tick's calls are in tests/test_live_venues.py).
TICK_CALLS = {
    "hyperliquid": [
        ("/info", "spotMeta"),
        ("/info", "metaAndAssetCtxs"),  # markets (ccxt always loads the currencies)
        *[
            ("/info", kind)
            for _ in ("BTC", "ETH")
            for kind in ("candleSnapshot", "candleSnapshot", "metaAndAssetCtxs", "metaAndAssetCtxs", "fundingHistory")
        ],
    ],
    "bybit": [
        ("/v5/market/instruments-info", None),
        ("/v5/market/instruments-info", "PreLaunch"),
        *[
            (path, None)
            for _ in ("BTC", "ETH")
            for path in (
                "/v5/market/kline",
                "/v5/market/kline",
                "/v5/market/open-interest",
                "/v5/market/tickers",
                "/v5/market/funding/history",
            )
        ],
    ],
}


def _venue_settings(venue: str, fake, **extra) -> Settings:
    return Settings(
        exchange={"id": venue, "api_url": fake.url, "timeout_ms": 2000, "retries": 0},
        trading={"coins": ["BTC", "ETH"], "quote": VENUES[venue][1]},
        **extra,
    )


def _calls(venue: str, fake) -> list:
    key = "type" if venue == "hyperliquid" else "status"
    return sorted(((r.path, r.params.get(key)) for r in fake.requests), key=str)


@pytest.mark.parametrize("venue", list(VENUES))
def test_a_snapshot_reads_the_venues_symbols_rules_and_funding_interval(venue):
    with VENUES[venue][0](data_dir(), now=NOW, follow_wall_clock=True, coins=("BTC", "ETH")) as fake:
        snapshot = asyncio.run(CcxtMarket(_venue_settings(venue, fake)).snapshot(["BTC", "ETH"], datetime.now(UTC)))
        calls = _calls(venue, fake)
    assert snapshot.errors == {}
    btc, eth = snapshot.coins["BTC"], snapshot.coins["ETH"]
    assert len(btc.candles_3m) == len(eth.candles_4h) == 500
    if venue == "hyperliquid":
        assert (btc.info.symbol, btc.info.min_notional_usd, btc.info.amount_step, btc.info.max_leverage) == (
            "BTC/USDC:USDC",
            10.0,
            1e-05,
            40.0,
        )
        assert (btc.info.funding_interval_h, eth.info.funding_interval_h) == (1.0, 1.0)
        assert btc.info.tiers == [(1e15, 1 / 80, 0.0, 40.0)]  # maintenance: half the initial margin at 40x
    else:
        assert (btc.info.symbol, btc.info.min_notional_usd, btc.info.amount_step) == ("BTC/USDT:USDT", 100.0, 0.001)
        assert (btc.info.funding_interval_h, eth.info.funding_interval_h) == (
            8.0,
            4.0,
        )  # per symbol: fundingInterval 480 / 240 min
    assert calls == sorted(TICK_CALLS[venue], key=str)


@pytest.mark.parametrize("venue", list(VENUES))
def test_a_paper_tick_on_the_venues_live_data(project, venue):
    with VENUES[venue][0](data_dir(), now=NOW, follow_wall_clock=True, coins=("BTC", "ETH")) as fake:
        env = {
            "BOT_EXCHANGE__ID": venue,
            "BOT_EXCHANGE__API_URL": fake.url,
            "BOT_TRADING__QUOTE": VENUES[venue][1],
            "BOT_TRADING__COINS": '["BTC", "ETH"]',
        }
        result = run_bot("tick", "--dry-run", cwd=project, env=env)
    assert result.returncode in (0, 4), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    [record] = [json.loads(line) for line in (project / "var" / "journal.jsonl").read_text().splitlines()]
    assert record["errors"] == {} and record["mode"] == "paper"


def test_hyperliquid_with_a_usdt_quote_stops_in_one_line(project):
    result = run_bot("tick", "--dry-run", cwd=project, env={"BOT_EXCHANGE__ID": "hyperliquid"})
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: `trading.quote` is 'USDT', but hyperliquid settles its perpetuals in USDC: set trading.quote = \"USDC\"\n"
    )


@pytest.mark.parametrize(("venue", "hours"), [("hyperliquid", 1), ("bybit", 4)])
def test_a_download_keeps_the_venues_funding_interval_and_rules_for_the_backtest(tmp_path, venue, hours):
    """ETH from 2025-06-01 00:00 to the fake's now (06-03 12:00), 60 hours: a settlement at both
    ends and every hour between on Hyperliquid (61), every 4 hours on Bybit's 240-minute ETH (16)."""
    since, until = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 6, 4, tzinfo=UTC)
    with VENUES[venue][0](data_dir(), now=NOW, coins=("BTC", "ETH")) as fake:
        downloader = Downloader(_venue_settings(venue, fake), folder=tmp_path, now=NOW)
        asyncio.run(
            downloader.run(
                ["ETH"],
                ["3m", "4h", "funding"],
                since_ms=int(since.timestamp() * 1000),
                until_ms=int(until.timestamp() * 1000),
            )
        )
    quote = VENUES[venue][1]
    funding = (tmp_path / "funding_8h" / f"ETH{quote}-funding-8h.csv").read_text().splitlines()[1:]
    times = [int(line.split(",")[0]) for line in funding]
    assert {b - a for a, b in zip(times, times[1:], strict=False)} == {hours * 3_600_000}
    assert times[0] == int(since.timestamp() * 1000) and times[-1] <= int(NOW.timestamp() * 1000)
    assert len(times) == 60 // hours + 1
    rules = json.loads((tmp_path / "markets.json").read_text())
    assert rules["ETH"]["funding_interval_h"] == hours and rules["ETH"]["symbol"] == f"ETH/{quote}:{quote}"
    assert HistoryMarket(tmp_path, quote=quote).info("ETH").funding_interval_h == hours


def test_live_trading_on_a_bybit_account_in_hedge_mode_is_refused_in_one_line_before_any_order(project):
    from bot.config import LIVE_CONFIRMATION

    with FakeBybit(data_dir(), now=NOW, follow_wall_clock=True, coins=("BTC", "ETH"), hedged=True) as fake:
        fake.account.api_key, fake.account.api_secret = "bybit-key-123", "bybit-secret-456"
        fake.account.open_by_hand("ETH", "BUY", 1.0)  # the owner's own position, listed with positionIdx 1
        env = {
            "BOT_EXCHANGE__ID": "bybit",
            "BOT_EXCHANGE__API_URL": fake.url,
            "BOT_TRADING__COINS": '["BTC", "ETH"]',
            "BOT_ENABLE_TRADING": "true",
            "BOT_LIVE__CONFIRM": LIVE_CONFIRMATION,
            "EXCHANGE_API_KEY": "bybit-key-123",
            "EXCHANGE_SECRET": "bybit-secret-456",
        }
        result = run_bot("tick", cwd=project, env=env)
        sent = [r.path for r in fake.requests if r.method == "POST"]
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        "error: the bybit account is in hedge mode (positionIdx 1 / 2), and the bot trades one-way mode only: "
        "switch the USDT perpetuals to one-way mode in the exchange's position settings, then run again\n"
    )
    assert sent == [] and "bybit-secret-456" not in result.stdout + result.stderr
