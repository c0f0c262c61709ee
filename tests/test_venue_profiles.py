"""Venue profiles (bot/venues/profiles.py): what differs between Binance, Hyperliquid and
Bybit, and the funding interval each market settles at, in paper, backtests and downloads."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.config import PaperSettings, Settings
from bot.errors import ConfigError
from bot.models import CoinMarket, MarketInfo, OrderPlan, Side, Snapshot
from bot.ops.state import BotState
from bot.venues.exchange import create_exchange
from bot.venues.history import HistoryMarket, funding_interval_h
from bot.venues.paper import PaperBroker, funding_times_ms
from bot.venues.profiles import builder_fee_pct, is_bot_order, profile_for

HOUR = 3_600_000
M3 = timedelta(minutes=3)


def test_hyperliquid_client_ids_are_0x_and_32_hex_digits_derived_from_the_intent():
    hl = profile_for("hyperliquid")
    entry, stop = hl.client_id("bot-20250603T1200-BTC-entry"), hl.client_id("bot-20250603T1200-BTC-sl")
    assert re.fullmatch(r"0x[0-9a-f]{32}", entry) and re.fullmatch(r"0x[0-9a-f]{32}", stop)
    assert entry == hl.client_id("bot-20250603T1200-BTC-entry")  # a re-run tick asks for the same order
    assert entry != stop and is_bot_order(entry) and is_bot_order(stop)
    assert not is_bot_order("0x" + "1" * 32) and not is_bot_order("my-own-order")  # the owner's are left alone


def test_binance_and_bybit_keep_the_bots_own_ids():
    for venue in ("binanceusdm", "bybit"):
        assert profile_for(venue).client_id("bot-20250603T1200-BTC-entry") == "bot-20250603T1200-BTC-entry"


@pytest.mark.parametrize(
    ("venue", "market", "hours"),
    [
        ("hyperliquid", {"info": {}}, 1.0),
        ("bybit", {"info": {"fundingInterval": "240"}}, 4.0),  # minutes, per symbol
        ("bybit", {"info": {"fundingInterval": "480"}}, 8.0),
        ("bybit", {"info": {}}, 8.0),  # not published: Bybit's usual 8 h
        ("binanceusdm", {"info": {"fundingInterval": "60"}}, 8.0),  # Binance's exchangeInfo has no such field
    ],
)
def test_the_funding_interval_comes_from_the_market(venue, market, hours):
    assert profile_for(venue).funding_interval_h(market) == hours


def test_hyperliquid_refuses_a_usdt_quote_with_the_fix():
    settings = Settings(exchange={"id": "hyperliquid"})
    with pytest.raises(ConfigError) as error:
        create_exchange(settings)
    assert (
        str(error.value)
        == "`trading.quote` is 'USDT', but hyperliquid settles its perpetuals in USDC: set trading.quote = \"USDC\""
    )


def test_hyperliquid_credentials_are_the_wallet_address_and_the_api_wallets_key_and_the_builder_fee_is_off():
    settings = Settings(
        exchange={"id": "hyperliquid"},
        trading={"quote": "USDC", "coins": ["BTC"]},
        exchange_api_key="0x" + "ab" * 20,
        exchange_secret="0x" + "cd" * 32,
    )
    exchange = create_exchange(settings, credentials=True)
    try:
        assert exchange.walletAddress == "0x" + "ab" * 20 and exchange.privateKey == "0x" + "cd" * 32
        assert not exchange.apiKey and not exchange.secret
        assert exchange.options["builderFee"] is False and exchange.options["refSet"] is True
        assert exchange.options["fetchMarkets"]["types"] == ["swap"]
    finally:
        asyncio.run(exchange.close())


def test_builder_fee_is_charged_in_paper_only_when_the_owner_opted_in():
    assert builder_fee_pct("hyperliquid", opted_in=False) == 0.0
    assert builder_fee_pct("hyperliquid", opted_in=True) == 0.01
    assert builder_fee_pct("binanceusdm", opted_in=True) == 0.0
    broker = PaperBroker(PaperSettings(taker_fee_pct=0.045, slippage_pct=0.0), builder_fee_pct=0.01)
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000.0)
    plan = OrderPlan(
        coin="BTC",
        symbol="BTC/USDC:USDC",
        side=Side.LONG,
        amount=0.1,
        reference_price=100_000.0,
        leverage=5,
        client_order_id="bot-x-BTC-entry",
    )
    [fill] = asyncio.run(
        broker.execute([plan], book=book, prices={"BTC": 100_000.0}, now=datetime(2025, 6, 3, 12, tzinfo=UTC))
    )
    assert fill.fee_usd == pytest.approx(10_000 * 0.00055)  # 0.1 BTC x 100,000 x (0.045 % + 0.01 %) = 5.50


def test_funding_times_follow_the_interval():
    start = 1_748_952_000_000  # 2025-06-03 12:00 UTC
    assert funding_times_ms(start, start + 3 * HOUR, interval_h=1.0) == [
        start + HOUR,
        start + 2 * HOUR,
        start + 3 * HOUR,
    ]
    assert funding_times_ms(start, start + 5 * HOUR, interval_h=8.0) == [start + 4 * HOUR]  # 16:00 only
    assert funding_times_ms(start, start + 5 * HOUR, interval_h=4.0) == [
        start + 4 * HOUR
    ]  # 16:00 (12:00 itself is not after start)


def test_an_hourly_market_is_charged_every_hour_in_paper():
    """Long 0.1 BTC at 100,000 from 12:00 to 15:00 on a 1 h market at +0.01 %: three
    settlements (13:00, 14:00, 15:00) of 0.0001 x 0.1 x 100,000 = 1 USD each; an 8 h market
    would have charged none."""
    opened = datetime(2025, 6, 3, 12, tzinfo=UTC)
    info = MarketInfo(symbol="BTC/USDC:USDC", amount_step=0.001, price_step=0.1, funding_interval_h=1.0)
    broker = PaperBroker(PaperSettings(taker_fee_pct=0.0, slippage_pct=0.0))
    book = BotState.fresh(mode="paper", initial_equity_usd=10_000.0)
    plan = OrderPlan(
        coin="BTC",
        symbol=info.symbol,
        side=Side.LONG,
        amount=0.1,
        reference_price=100_000.0,
        leverage=5,
        client_order_id="bot-x-BTC-entry",
    )
    asyncio.run(broker.execute([plan], book=book, prices={"BTC": 100_000.0}, now=opened))
    candles = np.array(
        [[(opened + i * M3).timestamp() * 1000, 100_000, 100_050, 99_950, 100_000, 1.0] for i in range(61)]
    )  # to 15:03
    market = CoinMarket(
        coin="BTC",
        info=info,
        candles_3m=candles,
        candles_4h=np.empty((0, 6)),
        last_price=100_000.0,
        funding_rate=0.0001,
    )
    asyncio.run(
        broker.settle(book=book, snapshot=Snapshot(as_of=opened + 61 * M3, coins={"BTC": market}), now=opened + 61 * M3)
    )
    assert [p.at.hour for p in book.funding_payments] == [13, 14, 15]
    assert book.funding_usd == pytest.approx(-3.0) and book.cash_usd == pytest.approx(10_000.0 - 3.0)


def test_a_data_folder_keeps_its_venues_interval_and_rules(tmp_path):
    """Hourly settlements in funding_8h/ and markets.json beside them: the history market
    answers Hyperliquid's 1 h and $10 minimum, not Binance's bundled 8 h and $100."""
    start = 1_748_908_800_000  # 2025-06-03 00:00 UTC
    for tf, step in (("3m", 180_000), ("4h", 14_400_000)):
        (tmp_path / tf).mkdir()
        rows = "\n".join(f"{start + i * step},1,1,1,1,1" for i in range(3))
        (tmp_path / tf / f"BTCUSDC-{tf}.csv").write_text("timestamp,open,high,low,close,volume\n" + rows + "\n")
    (tmp_path / "funding_8h").mkdir()
    (tmp_path / "funding_8h" / "BTCUSDC-funding-8h.csv").write_text(
        "timestamp,funding_rate\n" + "\n".join(f"{start + i * HOUR},0.0000125" for i in range(5)) + "\n"
    )
    rules = {
        "BTC": {
            "symbol": "BTC/USDC:USDC",
            "amount_step": 0.00001,
            "price_step": 1.0,
            "min_notional_usd": 10.0,
            "max_leverage": 40.0,
            "funding_interval_h": 1.0,
        }
    }
    (tmp_path / "markets.json").write_text(json.dumps(rules))
    info = HistoryMarket(tmp_path, quote="USDC").info("BTC")
    assert (info.symbol, info.min_notional_usd, info.max_leverage, info.funding_interval_h) == (
        "BTC/USDC:USDC",
        10.0,
        40.0,
        1.0,
    )
    (tmp_path / "markets.json").unlink()
    assert HistoryMarket(tmp_path, quote="USDC").info("BTC").funding_interval_h == 1.0  # from the settlements' spacing


def test_the_interval_of_recorded_settlements_is_their_usual_spacing():
    assert funding_interval_h(np.array([0, 8 * HOUR, 16 * HOUR, 24 * HOUR])) == 8.0
    assert funding_interval_h(np.array([0, HOUR, 2 * HOUR, 5 * HOUR, 6 * HOUR])) == 1.0  # a gap does not change it
    assert funding_interval_h(np.array([0])) is None


def test_the_prompt_says_when_a_coins_funding_is_not_8_hourly():
    from bot.models import CoinFeatures, Context4h
    from bot.tick.prompt import _coin_block

    h4 = Context4h(ema20=1, ema50=1, atr3=1, atr14=1, volume=1, volume_avg=1, macd=[0.0], rsi14=[50.0])
    base = dict(
        coin="BTC",
        as_of_ms=0,
        price=1,
        ema20=1,
        ema50=1,
        macd=0,
        macd_signal=0,
        rsi7=50,
        rsi14=50,
        atr3=1,
        atr14=1,
        volume=1,
        series={name: [1.0] for name in ("price", "ema20", "macd", "rsi7", "rsi14")},
        h4=h4,
        funding_rate=0.0000125,
    )
    assert "| funding 0.0013% | OI" in _coin_block(CoinFeatures(**base))  # 8-hourly: as before
    assert "| funding 0.0013% per 1h (settles every 1 h, not 8 h) | OI" in _coin_block(
        CoinFeatures(**base, funding_interval_h=1.0)
    )


@pytest.mark.parametrize(
    ("venue", "quote", "host"),
    [
        ("hyperliquid", "USDC", "api.hyperliquid-testnet.xyz"),
        ("bybit", "USDT", "api-testnet.{hostname}"),
        ("binanceusdm", "USDT", "testnet.binancefuture.com"),
    ],
)
def test_sandbox_points_every_venue_at_its_testnet(venue, quote, host):
    exchange = create_exchange(Settings(exchange={"id": venue, "sandbox": True}, trading={"quote": quote}))
    try:
        urls = exchange.urls["api"]
        assert any(host in url for url in (urls.values() if isinstance(urls, dict) else [urls]) if isinstance(url, str))
    finally:
        asyncio.run(exchange.close())
