"""The intel sources: recorded answers parse, items without a date are dropped."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.intel.sources import parse_cryptopanic, parse_fear_greed, parse_feed
from tests.fakes.intel import ANSWERS


def test_recorded_answers_parse_and_items_without_a_date_are_dropped():
    fear_greed = parse_fear_greed((ANSWERS / "fear_greed.json").read_bytes())
    # 8 rows: "oops" is no value and one has no timestamp; oldest first, the future 12-01 included (the tick cuts it)
    assert [(p.at.day, p.value, p.label) for p in fear_greed] == [
        (26, 40, "Fear"),
        (27, 48, "Neutral"),
        (28, 55, "Neutral"),
        (29, 65, "Greed"),
        (30, 72, "Greed"),
        (1, 90, "Extreme Greed"),
    ]
    rss = parse_feed((ANSWERS / "coindesk.rss").read_bytes(), source="coindesk", priority=1)
    assert [item.title for item in rss] == [
        "SEC approves spot Solana ETF",
        "Bitcoin steadies near $95,000 as traders wait for data",
        "Bitcoin hits record as ETF inflows surge",
        "Crypto exchange outage halts withdrawals",
        "Dogecoin rallies 10%",
    ]  # the upgrade item has no pubDate
    assert rss[0].published_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    atom = parse_feed((ANSWERS / "decrypt.atom").read_bytes(), source="decrypt", priority=1)
    assert [(item.title, item.published_at.hour) for item in atom] == [
        ("SEC Approves Spot Solana ETF!", 10),
        ("XRP and ETH lead altcoin gains", 8),
        ("PEPE soars", 7),
    ]
    posts = parse_cryptopanic((ANSWERS / "cryptopanic.json").read_bytes(), priority=2)
    assert [(p.title[:12], p.votes, p.coins) for p in posts] == [
        ("Bitcoin mine", 12, ["BTC"]),
        ("Shiba Inu bu", 30, ["SHIB"]),
        ("BNB Chain up", 0, ["BNB"]),
        ("Ethereum ETF", 40, ["ETH"]),
    ]
