"""The live ``Intel``: every configured source asked at once (or read from its cache while
its TTL lasts), each bounded by ``intel.timeout_s``; one that fails is named in
``Briefing.skipped`` and the others still count."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.intel import archive
from bot.intel.rank import headlines, select
from bot.intel.sources import SourceError, fetch, parse_cryptopanic, parse_fear_greed, parse_feed
from bot.log import scrub
from bot.tick.briefing import Briefing

USER_AGENT = "bot/0.1 (crypto trading bot; news headlines)"


@dataclass(frozen=True)
class _Source:
    key: str  # fear_greed | feed name | cryptopanic: the name in `skipped` and the cache file
    ttl: str  # the `intel.ttl_minutes` entry
    url: str
    params: dict[str, str]


def sources(settings: Settings, coins: list[str], *, history: bool = False) -> list[_Source]:
    """What the settings ask for; ``history``: the Fear & Greed index's whole history."""
    intel = settings.intel
    found = []
    if intel.fear_greed_url:
        found.append(_Source("fear_greed", "fear_greed", intel.fear_greed_url, {"limit": "0" if history else "2"}))
    found += [_Source(feed.name, "feeds", feed.url, {}) for feed in intel.feeds]
    token = settings.cryptopanic_token.get_secret_value() if settings.cryptopanic_token else ""
    if token:
        found.append(
            _Source(
                "cryptopanic",
                "cryptopanic",
                intel.cryptopanic_url,
                {"auth_token": token, "public": "true", "currencies": ",".join(coins)},
            )
        )
    return found


def parse(source: _Source, data: bytes, settings: Settings, now: datetime) -> archive.Answer:
    if source.key == "fear_greed":
        return archive.Answer(fetched_at=now, points=parse_fear_greed(data))
    if source.key == "cryptopanic":
        return archive.Answer(
            fetched_at=now, items=parse_cryptopanic(data, priority=settings.intel.cryptopanic_priority)
        )
    priority = next(feed.priority for feed in settings.intel.feeds if feed.name == source.key)
    return archive.Answer(fetched_at=now, items=parse_feed(data, source=source.key, priority=priority))


async def ask_all(
    settings: Settings, wanted: list[_Source], now: datetime, *, cache_dir: Path | None
) -> tuple[dict[str, archive.Answer], dict[str, str]]:
    """Each source's answer (cached while fresh), and why each failing one failed."""
    import aiohttp

    async def one(session: aiohttp.ClientSession, source: _Source) -> archive.Answer:
        cached = archive.read_answer(cache_dir, source.key) if cache_dir else None
        if archive.fresh(cached, now=now, ttl_minutes=settings.intel.ttl_minutes.get(source.ttl, 0.0)):
            return cached
        data = await fetch(session, source.url, params=source.params, timeout_s=settings.intel.timeout_s)
        answer = await asyncio.to_thread(
            parse, source, data, settings, now
        )  # feedparser is slow: the market's requests go on meanwhile
        if cache_dir:
            archive.write_answer(cache_dir, source.key, answer)
        return answer

    async with aiohttp.ClientSession(headers={"User-Agent": USER_AGENT}) as session:
        results = await asyncio.gather(*(one(session, source) for source in wanted), return_exceptions=True)
    answers, failed = {}, {}
    for source, result in zip(wanted, results, strict=True):
        if isinstance(result, archive.Answer):
            answers[source.key] = result
        elif isinstance(result, SourceError):
            failed[source.key] = scrub(str(result))
        elif isinstance(result, Exception):  # a bug or a disk error in one source: the others still count
            failed[source.key] = scrub(f"{type(result).__name__}: {result}")
        else:
            raise result  # cancellation: the tick is ending
    return answers, failed


class LiveIntel:
    def __init__(self, settings: Settings, *, cache_dir: Path, archive_dir: Path | None = None) -> None:
        self.settings, self.cache_dir, self.archive_dir = settings, cache_dir, archive_dir

    async def briefing(self, coins: list[str], now: datetime) -> Briefing:
        wanted = sources(self.settings, coins)
        previous = (
            {source.key: archive.read_answer(self.cache_dir, source.key) for source in wanted}
            if self.archive_dir
            else {}
        )
        answers, failed = await ask_all(self.settings, wanted, now, cache_dir=self.cache_dir)
        items = [item for answer in answers.values() for item in answer.items]
        if self.archive_dir is not None:
            try:
                self._archive(answers, previous)
            except OSError as exc:
                failed["archive"] = f"not written: {exc.strerror or exc}"
        points = answers["fear_greed"].points if "fear_greed" in answers else []
        found = headlines(items, coins=coins, settings=self.settings.intel)
        return Briefing(
            as_of=now,
            sentiment=archive.sentiment_at(points, [point.at for point in points], now),
            headlines=select(found, coins=coins, now=now, settings=self.settings.intel),
            skipped=failed,
        )

    def _archive(self, answers: dict[str, archive.Answer], previous: dict[str, archive.Answer | None]) -> None:
        """Only answers fetched this tick (a cached one was archived when it was fetched)."""
        for key, answer in answers.items():
            before = previous.get(key)
            if before is not None and before.fetched_at == answer.fetched_at:
                continue
            if answer.points:
                archive.save_points(self.archive_dir, answer.points)
            archive.append_items(self.archive_dir, answer.items)


async def archive_sources(settings: Settings, folder: Path, now: datetime) -> tuple[int, int, dict[str, str]]:
    """`bot download --intel`: the Fear & Greed history and the headlines the sources show
    now, merged into ``folder``/intel; returns (days archived, headlines added, failures)."""
    answers, failed = await ask_all(
        settings, sources(settings, settings.trading.coins, history=True), now, cache_dir=None
    )
    points = answers.pop("fear_greed").points if "fear_greed" in answers else []
    days = archive.save_points(folder, points) if points else len(archive.read_points(folder))
    added = archive.append_items(folder, [item for answer in answers.values() for item in answer.items])
    return days, added, failed
