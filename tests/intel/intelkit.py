"""An intel archive written by hand (sentiment points and headlines by the day) for the
briefing, the archive's coverage and the rules' sentiment filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.intel.archive import append_items, save_points
from bot.intel.sources import Item
from bot.tick.briefing import Sentiment

START = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)  # inside the bundled sample
COINS = ["BTC", "ETH"]


def _day(day: int, value: int, label: str) -> Sentiment:
    return Sentiment(value=value, label=label, at=datetime(2025, 6, day, tzinfo=UTC))


def _archive(folder: Path, *, minutes: range, points: list[Sentiment]) -> Path:
    """One BTC headline a minute, its title naming its own publication time."""
    save_points(folder, points)
    items = [
        Item(
            source="tape",
            title=f"Bitcoin tape {START + timedelta(minutes=m):%H:%M}",
            published_at=START + timedelta(minutes=m),
        )
        for m in minutes
    ]
    append_items(folder, items)
    return folder
