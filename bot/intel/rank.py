"""Items into a briefing's headlines: tagged to coins, classified by impact, deduplicated,
bounded. Pure functions of the items, the coins and the `[intel]` settings.

The impact rule, on purpose simple enough to check by hand: a headline's points are its
source's ``priority`` (feeds 1 by default, CryptoPanic 2), plus 2 when a word of it starts
with one of ``keywords`` (hack, ETF, SEC, ...), plus 1 per 5 "important" votes on
CryptoPanic (at most 2). 3 points or more is high impact, 2 medium, less low.

Tagging: a coin's symbol as a word in capitals (``BTC``, ``$BTC``), or one of its names
in any case (``bitcoin``). A headline naming no coin is about the market as a whole
(``MARKET``); one naming only coins the bot does not trade is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.config.intel import IntelSettings
from bot.intel.sources import Item
from bot.tick.briefing import MARKET, Headline, Impact, rank_key


def _patterns(coins: Iterable[str], settings: IntelSettings) -> dict[str, re.Pattern[str]]:
    patterns = {}
    for coin in coins:
        names = "|".join(re.escape(name) for name in settings.coin_names.get(coin, []))
        symbol = rf"(?<![A-Za-z0-9])\$?{re.escape(coin)}(?![A-Za-z0-9])"
        patterns[coin] = re.compile(symbol + (rf"|(?i:\b(?:{names})\b)" if names else ""))
    return patterns


def impact_points(item: Item, keywords: re.Pattern[str] | None) -> int:
    keyword = 2 if keywords is not None and keywords.search(item.title) else 0
    return item.priority + keyword + min(2, item.votes // 5)


def _impact(points: int) -> Impact:
    return Impact.HIGH if points >= 3 else Impact.MEDIUM if points == 2 else Impact.LOW


def _dedup_key(title: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", title.lower()))


def headlines(
    items: Iterable[Item], *, coins: list[str], settings: IntelSettings, earliest: bool = False
) -> list[Headline]:
    """Every item as a tagged, classified headline, once: of the same title (any case or
    punctuation) the one with most points, then the earliest, is kept, with all its coins.
    ``earliest`` (an archive read by a backtest): the earliest copy, with its own coins only,
    since a later copy did not exist yet when the first was news."""
    patterns = _patterns(coins, settings)
    words = "|".join(re.escape(word) for word in settings.keywords)
    keywords = re.compile(rf"\b(?:{words})", re.IGNORECASE) if words else None
    best: dict[str, tuple[tuple[int, float], Headline]] = {}
    for item in items:
        tagged = [coin for coin, pattern in patterns.items() if coin in item.coins or pattern.search(item.title)]
        if not tagged and item.coins:
            continue  # about coins the bot does not trade
        points = impact_points(item, keywords)
        headline = Headline(
            title=item.title,
            source=item.source,
            published_at=item.published_at,
            impact=_impact(points),
            coins=tagged,
            url=item.url,
        )
        key = _dedup_key(item.title)
        order = (0, item.published_at.timestamp()) if earliest else (-points, item.published_at.timestamp())
        kept = best.get(key)
        if kept is not None and earliest:
            if order < kept[0]:
                best[key] = (order, headline)
        elif kept is not None:
            merged = [*kept[1].coins, *[coin for coin in tagged if coin not in kept[1].coins]]
            winner = headline if order < kept[0] else kept[1]
            best[key] = (min(order, kept[0]), winner.model_copy(update={"coins": merged}))
        else:
            best[key] = (order, headline)
    return [headline for _, headline in best.values()]


def select(
    found: Iterable[Headline], *, coins: list[str], now: datetime, settings: IntelSettings
) -> dict[str, list[Headline]]:
    """The best ``headlines_per_coin`` per coin (in ``coins`` order) and for MARKET, among
    those published in the last ``max_age_hours`` up to ``now``: never one from after it."""
    oldest = now - timedelta(hours=settings.max_age_hours)
    groups: dict[str, list[Headline]] = {coin: [] for coin in [*coins, MARKET]}
    for headline in found:
        if oldest <= headline.published_at <= now:
            for group in headline.coins or [MARKET]:
                if group in groups:
                    groups[group].append(headline)
    limit = settings.headlines_per_coin
    return {group: sorted(items, key=rank_key)[:limit] for group, items in groups.items() if items and limit}
