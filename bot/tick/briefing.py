"""What the intel sources tell a tick (``Briefing``): the contract between ``bot.intel``,
which fetches and ranks, and the prompt and strategies, which read it.

Everything in a briefing was published before the tick's time: ``Briefing.before`` is
applied by the tick itself to whatever an ``Intel`` hands back, so neither a live clock
skew nor a backtest archive can show the model a headline from its future.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from bot.models import StrictModel
from bot.untrusted import Name, Title, Url

MARKET = "MARKET"  # the headlines about no coin in particular


class Impact(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


_ORDER = {Impact.HIGH: 0, Impact.MEDIUM: 1, Impact.LOW: 2}


class Sentiment(StrictModel):
    """The Crypto Fear & Greed index: 0 extreme fear .. 100 extreme greed, one value a day."""

    value: int = Field(ge=0, le=100)
    label: Name  # alternative.me's classification, e.g. "Greed" (cleaned: outside text)
    at: datetime  # the day the value is for (its publication time)
    previous: int | None = None  # the value of the day before, when known


class Headline(StrictModel):
    """Its texts are outsiders' (``bot.untrusted``): cleaned and capped whenever one is made or loaded."""

    title: Title
    source: Name  # the feed's name, or "cryptopanic"
    published_at: datetime
    impact: Impact
    coins: list[str] = Field(default_factory=list)  # tagged coins; empty: about the market as a whole
    url: Url = ""


def rank_key(headline: Headline) -> tuple[int, float]:
    """Best first: higher impact, then the newer."""
    return _ORDER[headline.impact], -headline.published_at.timestamp()


class Briefing(StrictModel):
    as_of: datetime
    sentiment: Sentiment | None = None
    headlines: dict[str, list[Headline]] = Field(default_factory=dict)  # coin or MARKET -> best first
    skipped: dict[str, str] = Field(default_factory=dict)  # source -> why it was left out this tick

    def before(self, now: datetime) -> Briefing:
        """Only what was published by ``now``: the tick's guard against look-ahead."""
        sentiment = self.sentiment if self.sentiment and self.sentiment.at <= now else None
        headlines = {
            group: kept
            for group, items in self.headlines.items()
            if (kept := [h for h in items if h.published_at <= now])
        }
        return self.model_copy(update={"sentiment": sentiment, "headlines": headlines})

    @property
    def empty(self) -> bool:
        return self.sentiment is None and not self.headlines
