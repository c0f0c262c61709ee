"""The intel archive: coverage counts the ticks with a fresh value or a headline in the window."""

from __future__ import annotations

import asyncio
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


def test_a_backtest_sees_no_votes_and_the_earliest_copy_of_a_headline(tmp_path):
    """Issue 33: the archive's CryptoPanic votes were counted at download time (a 01:00 post
    ranked [high] by votes cast later), and duplicates were merged across the whole archive
    keeping the higher-scoring copy (a 01:00 headline hidden until a 05:00 copy appeared)."""
    from bot.intel.archive import append_items
    from bot.intel.sources import Item
    from bot.tick.briefing import Impact

    one, five = START.replace(hour=1), START.replace(hour=5)
    append_items(
        tmp_path,
        [
            # CryptoPanic, 01:00, 40 "important" votes counted when the archive was downloaded: 2 + 2 points live
            Item(source="cryptopanic", title="Bitcoin whales move", published_at=one, priority=2, votes=40),
            # an RSS copy at 01:00 and a CryptoPanic copy with votes at 05:00 of the same story (live, the
            # 05:00 copy's 2 + 2 + 2 points beat the 01:00 copy's 3, so it was kept and the story hidden until 05:00)
            Item(source="coindesk", title="Solana network halts", published_at=one),
            Item(source="cryptopanic", title="Solana Network Halts!", published_at=five, priority=2, votes=40),
        ],
    )
    coins = ["BTC", "SOL"]
    intel = ArchiveIntel(tmp_path, coins=coins, settings=IntelSettings(enabled=True, max_age_hours=12))
    at_one = asyncio.run(intel.briefing(coins, one))
    # no votes as of the tick: priority 2, no keyword -> medium (it was high with the later votes)
    assert [(h.title, h.impact) for h in at_one.headlines["BTC"]] == [("Bitcoin whales move", Impact.MEDIUM)]
    # the 01:00 copy is news at 01:00 (it used to be merged into the 05:00 copy and hidden until then)
    assert [(h.source, h.published_at) for h in at_one.headlines["SOL"]] == [("coindesk", one)]
    at_six = asyncio.run(intel.briefing(coins, five.replace(hour=6)))
    # at 06:00 still the one copy, the first: coindesk's priority 1 + 2 for "halts" = high
    assert [(h.source, h.published_at, h.impact) for h in at_six.headlines["SOL"]] == [("coindesk", one, Impact.HIGH)]
