"""Intel on disk: the per-source answer cache (var/cache/intel, a TTL each) and the archive
in the data folder that backtests read (``intel/fear_greed.json``: the index's daily
history; ``intel/headlines.jsonl``: every headline as fetched, appended, one per line).

``ArchiveIntel`` is the backtest's ``Intel``: at simulated time t it shows the Fear &
Greed value published by t and headlines published by t, never one after, exactly
what a live tick at t could have fetched (if the archive was being built then). Nothing
learned later leaks in: CryptoPanic's votes were counted when the archive was
downloaded, hours or days after a post, so a backtest ranks without them (as of the tick
they are unknown); and of a headline published twice the earliest copy is the one kept,
so a later, higher-scoring copy never hides the first until it appears.
"""

from __future__ import annotations

import bisect
import os
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import Field, ValidationError

from bot.config.intel import IntelSettings
from bot.intel.rank import headlines, select
from bot.intel.sources import Item
from bot.models import StrictModel
from bot.tick.briefing import Briefing, Sentiment

FEAR_GREED = "fear_greed.json"
HEADLINES = "headlines.jsonl"
SENTIMENT_FRESH = timedelta(days=2)  # a daily index older than this no longer counts as coverage


class Answer(StrictModel):
    """A source's last answer, parsed, with the tick time it was fetched at."""

    fetched_at: datetime
    items: list[Item] = Field(default_factory=list)
    points: list[Sentiment] = Field(default_factory=list)


class _Points(StrictModel):
    points: list[Sentiment]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def read_answer(cache_dir: Path, key: str) -> Answer | None:
    """The cached answer, or None when there is none or it is unreadable (fetched again)."""
    try:
        return Answer.model_validate_json((cache_dir / f"{key}.json").read_bytes())
    except (OSError, ValidationError, ValueError):
        return None


def write_answer(cache_dir: Path, key: str, answer: Answer) -> None:
    _write(cache_dir / f"{key}.json", answer.model_dump_json())


def fresh(answer: Answer | None, *, now: datetime, ttl_minutes: float) -> bool:
    return answer is not None and answer.fetched_at <= now < answer.fetched_at + timedelta(minutes=ttl_minutes)


def read_points(folder: Path) -> list[Sentiment]:
    try:
        return _Points.model_validate_json((folder / "intel" / FEAR_GREED).read_bytes()).points
    except FileNotFoundError:
        return []
    except (OSError, ValidationError, ValueError) as exc:
        from bot.errors import ConfigError

        raise ConfigError(
            f"{folder / 'intel' / FEAR_GREED} is unreadable ({type(exc).__name__}); move it away and run `bot "
            f"download --intel` again"
        ) from None


def save_points(folder: Path, points: list[Sentiment]) -> int:
    """Merge ``points`` into the archived history (one value per day); returns the count."""
    merged = {point.at: point for point in [*read_points(folder), *points]}
    ordered = [merged[at] for at in sorted(merged)]
    _write(folder / "intel" / FEAR_GREED, _Points(points=ordered).model_dump_json())
    return len(ordered)


def read_items(folder: Path) -> list[Item]:
    """Archived headlines; a line that does not parse (a write cut short) is passed over."""
    path = folder / "intel" / HEADLINES
    if not path.exists():
        return []
    items = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            items.append(Item.model_validate_json(line))
        except (ValidationError, ValueError):
            continue
    return items


def append_items(folder: Path, items: list[Item]) -> int:
    """Append the items not archived yet (same source, title and time); returns how many."""
    if not items:
        return 0
    seen = {(item.source, item.title, item.published_at) for item in read_items(folder)}
    new = [item for item in items if (item.source, item.title, item.published_at) not in seen]
    if new:
        path = folder / "intel" / HEADLINES
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as archive:
            archive.write("".join(item.model_dump_json() + "\n" for item in new))
    return len(new)


def sentiment_at(points: list[Sentiment], times: list[datetime], now: datetime) -> Sentiment | None:
    """The latest value published by ``now``, with the one before it as ``previous``."""
    index = bisect.bisect_right(times, now)
    if index == 0:
        return None
    latest = points[index - 1]
    return latest.model_copy(update={"previous": points[index - 2].value if index >= 2 else None})


class ArchiveIntel:
    """The backtest's intel: the archive, cut at each simulated tick."""

    def __init__(self, folder: Path, *, coins: list[str], settings: IntelSettings) -> None:
        self.folder, self.coins, self.settings = folder, coins, settings
        self.points = read_points(folder)
        self._point_times = [point.at for point in self.points]
        items = [item.model_copy(update={"votes": 0}) for item in read_items(folder)]  # votes as of the tick: none
        found = sorted(
            headlines(items, coins=coins, settings=settings, earliest=True), key=lambda headline: headline.published_at
        )
        self.headlines = found
        self._times = [headline.published_at for headline in found]

    def _window(self, now: datetime) -> list:
        start = bisect.bisect_left(self._times, now - timedelta(hours=self.settings.max_age_hours))
        return self.headlines[start : bisect.bisect_right(self._times, now)]

    async def briefing(self, coins: list[str], now: datetime) -> Briefing:
        return Briefing(
            as_of=now,
            sentiment=sentiment_at(self.points, self._point_times, now),
            headlines=select(self._window(now), coins=coins, now=now, settings=self.settings),
        )

    def coverage(self, start: datetime, end: datetime, step: timedelta) -> dict[str, float]:
        """% of the ticks from ``start`` to ``end`` with a Fear & Greed value under 2 days
        old, with at least one headline in the window, and with either."""
        ticks = sentiment = news = either = 0
        now = start
        while now <= end:
            ticks += 1
            index = bisect.bisect_right(self._point_times, now)
            has_sentiment = index > 0 and now - self._point_times[index - 1] < SENTIMENT_FRESH
            has_news = bool(self._window(now))
            sentiment += has_sentiment
            news += has_news
            either += has_sentiment or has_news
            now += step
        share = (lambda count: round(100.0 * count / ticks, 1)) if ticks else (lambda count: 0.0)
        return {"sentiment_pct": share(sentiment), "headlines_pct": share(news), "any_pct": share(either)}
