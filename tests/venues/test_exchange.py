"""The ccxt client per venue: Hyperliquid's quote and credentials, every venue's testnet."""

from __future__ import annotations

import asyncio

import pytest

from bot.config import Settings
from bot.errors import ConfigError
from bot.venues.exchange import create_exchange


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
        assert exchange.options["approvedBuilderFee"] is False  # no order carries ccxt's builder
        assert asyncio.run(exchange.handle_builder_fee_approval()) is True  # and no approval is sent
        assert exchange.options["fetchMarkets"]["types"] == ["swap"]
    finally:
        asyncio.run(exchange.close())


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
