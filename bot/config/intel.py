"""The `[intel]` settings: news and sentiment sources for the prompt (``bot.intel``).

Held as ``Settings.intel``; the token, CRYPTOPANIC_TOKEN, is a secret of ``Settings``
like the others.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.config.base import URL, Section


class Feed(Section):
    name: str = Field(pattern=r"^[a-z0-9_-]{1,30}$", description="short name shown in the prompt and the tick report")
    url: str = Field(pattern=URL)
    priority: int = Field(1, ge=0, le=3, description="impact points every headline of this feed starts with")


DEFAULT_FEEDS = [
    Feed(name="coindesk", url="https://www.coindesk.com/arc/outboundfeeds/rss/"),
    Feed(name="cointelegraph", url="https://cointelegraph.com/rss"),
    Feed(name="decrypt", url="https://decrypt.co/feed"),
]
DEFAULT_COIN_NAMES = {
    "BTC": ["bitcoin"],
    "ETH": ["ethereum", "ether"],
    "SOL": ["solana"],
    "BNB": ["bnb chain", "binance coin"],
    "DOGE": ["dogecoin"],
    "XRP": ["ripple"],
    "ADA": ["cardano"],
    "AVAX": ["avalanche"],
    "LINK": ["chainlink"],
}
DEFAULT_KEYWORDS = [
    "hack",
    "exploit",
    "etf",
    "sec",
    "lawsuit",
    "ban",
    "bankrupt",
    "delist",
    "halt",
    "outage",
    "liquidat",
    "tariff",
    "rate cut",
    "rate hike",
]
RESERVED = {"fear_greed", "cryptopanic", "archive", "intel"}  # the other names in a tick's `sources_skipped`
DEFAULT_TTL_MINUTES = {"fear_greed": 60.0, "feeds": 10.0, "cryptopanic": 10.0}


class IntelSettings(Section):
    """Every source is optional; a failing one is skipped and named, it never fails a tick."""

    enabled: bool = Field(False, description="fetch the sources each tick and give the model a context block")
    fear_greed_url: str = Field(
        "https://api.alternative.me/fng/",
        pattern=rf"({URL})?",
        description="alternative.me's Fear & Greed API; empty = off",
    )
    feeds: list[Feed] = Field(default_factory=lambda: list(DEFAULT_FEEDS), description="RSS / Atom feeds of headlines")
    cryptopanic_url: str = Field(
        "https://cryptopanic.com/api/developer/v2/posts/",
        pattern=URL,
        description="asked only when CRYPTOPANIC_TOKEN is set",
    )
    cryptopanic_priority: int = Field(2, ge=0, le=3, description="impact points every CryptoPanic post starts with")
    timeout_s: float = Field(4.0, gt=0, le=30, description="per source request; a slower source is skipped this tick")
    ttl_minutes: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_TTL_MINUTES),
        description="reuse a source's answer cached in var/cache/intel this long",
    )
    max_age_hours: float = Field(24.0, gt=0, le=24 * 14, description="older headlines are left out")
    headlines_per_coin: int = Field(
        2, ge=0, le=20, description="at most this many headlines per coin (and for the market as a whole)"
    )
    max_tokens: int = Field(
        600, ge=50, le=4000, description="the context block's cap, counted as 3 characters per token"
    )
    archive: bool = Field(
        False, description="append every fetched headline to <data folder>/intel/headlines.jsonl for backtests"
    )
    coin_names: dict[str, list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_COIN_NAMES),
        description="names a headline may use for a coin besides its symbol",
    )
    keywords: list[str] = Field(
        default_factory=lambda: list(DEFAULT_KEYWORDS),
        description="a headline with a word starting with one of these gets 2 impact points",
    )

    @field_validator("feeds")
    @classmethod
    def _feed_names_are_unique(cls, feeds: list[Feed]) -> list[Feed]:
        names = [feed.name for feed in feeds]
        for name in names:
            if names.count(name) > 1 or name in RESERVED:
                raise ValueError(
                    f"feed name {name!r} is {'listed twice' if name not in RESERVED else 'reserved'}: "
                    "give each feed its own name"
                )
        return feeds
