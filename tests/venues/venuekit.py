"""The venues a paper tick runs on (their fake, coins and quote) and their settings."""

from __future__ import annotations

from bot.config import Settings
from tests.fakes.bybit import FakeBybit
from tests.fakes.hyperliquid import FakeHyperliquid

VENUES = {"hyperliquid": (FakeHyperliquid, "USDC"), "bybit": (FakeBybit, "USDT")}


def _venue_settings(venue: str, fake, **extra) -> Settings:
    return Settings(
        exchange={"id": venue, "api_url": fake.url, "timeout_ms": 2000, "retries": 0},
        trading={"coins": ["BTC", "ETH"], "quote": VENUES[venue][1]},
        **extra,
    )
