"""The intel archive: coverage counts the ticks with a fresh value or a headline in the window."""

from __future__ import annotations

from datetime import timedelta

from bot.config.intel import IntelSettings
from bot.intel.archive import ArchiveIntel
from tests.intel.intelkit import COINS, START, _archive, _day


def test_coverage_counts_the_ticks_with_a_fresh_value_or_a_headline_in_the_window(tmp_path):
    folder = _archive(tmp_path, minutes=range(0, 1), points=[_day(3, 61, "Greed")])  # one headline at 12:00
    intel = ArchiveIntel(folder, coins=COINS, settings=IntelSettings(enabled=True, max_age_hours=1))
    # 12:00 .. 14:00: 41 ticks; the 12:00 headline is in the 1 h window of the 21 ticks 12:00 .. 13:00
    assert intel.coverage(START, START + timedelta(hours=2), timedelta(minutes=3)) == {
        "sentiment_pct": 100.0,
        "headlines_pct": 51.2,
        "any_pct": 100.0,
    }
    # before any value and any headline: nothing
    assert intel.coverage(START - timedelta(days=2), START - timedelta(days=2), timedelta(minutes=3)) == {
        "sentiment_pct": 0.0,
        "headlines_pct": 0.0,
        "any_pct": 0.0,
    }
