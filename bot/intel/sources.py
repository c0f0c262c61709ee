"""The sources' answers into items: alternative.me's Fear & Greed JSON, RSS / Atom feeds
(feedparser), CryptoPanic's posts JSON. Parsing is pure; ``fetch`` is the one network edge.

An item without a publication time is dropped (its age is unknowable, and a backtest
could not place it in time); an answer with nothing usable in it is an error, so the
source is named as skipped instead of silently contributing nothing.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field

from bot.models import StrictModel
from bot.tick.briefing import Sentiment
from bot.untrusted import TITLE_CHARS, Name, Title, Url, clean


class Item(StrictModel):
    """One headline as a source published it, before tagging and ranking. Every text is an
    outsider's: cleaned and capped (``bot.untrusted``) before it is stored in the cache or
    the archive, shown or sent; an item whose title cleans to nothing is dropped."""

    source: Name
    title: Title
    published_at: datetime
    url: Url = ""
    priority: int = 1  # the source's impact points
    votes: int = 0  # CryptoPanic "important" votes
    coins: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{1,15}$")]] = Field(
        default_factory=list
    )  # coins the source itself tagged (CryptoPanic): symbols only


_SYMBOL = re.compile(r"^[A-Z0-9]{1,15}$")


class SourceError(Exception):
    """A source answered nothing usable; the message says why in a few words, never a URL."""


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SourceError("malformed JSON") from None


def _list_at(data: bytes, key: str) -> list[Any]:
    """The list under ``key`` of a JSON object answer, or a SourceError naming what is missing."""
    answer = _json(data)
    found = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(found, list):
        raise SourceError(f"no `{key}` list in the answer")
    return found


def parse_fear_greed(data: bytes) -> list[Sentiment]:
    """Daily values, oldest first; entries without a timestamp or a 0..100 value are dropped."""
    rows = _list_at(data, "data")
    points = []
    for row in rows:
        try:
            at = datetime.fromtimestamp(int(row["timestamp"]), tz=UTC)
            label = str(row.get("value_classification") or "")  # cleaned by the model: outside text
            points.append(Sentiment(value=int(row["value"]), label=label, at=at))
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            continue
    if not points:
        raise SourceError("no dated values in the answer")
    return sorted(points, key=lambda point: point.at)


def parse_feed(data: bytes, *, source: str, priority: int) -> list[Item]:
    import feedparser  # lazily: `bot status` and `bot --help` never parse a feed

    parsed = feedparser.parse(io.BytesIO(data))
    if not parsed.entries:
        raise SourceError("not an RSS or Atom feed" if parsed.bozo else "no entries in the feed")
    items = []
    for entry in parsed.entries:
        when = (
            entry.get("published_parsed")
            if "published_parsed" in entry
            else entry.get("updated_parsed")
            if "updated_parsed" in entry
            else None
        )
        title = clean(entry.get("title", ""), limit=TITLE_CHARS)
        if when is None or not title:
            continue
        published = datetime(*when[:6], tzinfo=UTC)
        items.append(
            Item(source=source, title=title, published_at=published, url=str(entry.get("link", "")), priority=priority)
        )
    if not items:
        raise SourceError("no entry with a title and a publication time")
    return items


def parse_cryptopanic(data: bytes, *, priority: int) -> list[Item]:
    posts = _list_at(data, "results")
    items = []
    for post in posts:
        try:
            published = datetime.fromisoformat(str(post["published_at"]).replace("Z", "+00:00"))
            title = clean(post["title"], limit=TITLE_CHARS)
        except (KeyError, TypeError, ValueError):
            continue
        if not title or published.tzinfo is None:
            continue
        votes = post.get("votes") if isinstance(post.get("votes"), dict) else {}
        tagged = post.get("currencies") or post.get("instruments") or []
        codes = [clean(c["code"], limit=20).upper() for c in tagged if isinstance(c, dict) and c.get("code")]
        coins = [code for code in codes if _SYMBOL.match(code)] if isinstance(tagged, list) else []
        important = votes.get("important", 0)
        items.append(
            Item(
                source="cryptopanic",
                title=title,
                published_at=published.astimezone(UTC),
                url=str(post.get("url") or ""),
                priority=priority,
                votes=important if isinstance(important, int) else 0,
                coins=coins,
            )
        )
    return items


async def fetch(session: Any, url: str, *, params: dict[str, str] | None = None, timeout_s: float) -> bytes:
    """One GET through an aiohttp session; anything but a 200 with a body is a ``SourceError``."""

    import aiohttp

    try:
        async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            if response.status != 200:
                raise SourceError(f"HTTP {response.status}")
            return await response.read()
    except TimeoutError:
        raise SourceError(f"no answer within {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise SourceError(f"connection failed ({type(exc).__name__})") from None
