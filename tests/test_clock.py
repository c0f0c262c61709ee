"""bot/clock.py: the tick grid every clock of the bot steps on."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from bot.clock import TICK, CandleEnds, on_tick_grid, tick_id_for


def test_a_moment_belongs_to_the_tick_that_began_at_or_before_it():
    assert on_tick_grid(datetime(2025, 6, 2, 1, 5, 59, 999, tzinfo=UTC)) == datetime(2025, 6, 2, 1, 3, tzinfo=UTC)
    assert on_tick_grid(datetime(2025, 6, 2, 1, 6, tzinfo=UTC)) == datetime(2025, 6, 2, 1, 6, tzinfo=UTC)
    # another offset is read in UTC; a naive moment is taken as UTC
    assert on_tick_grid(datetime(2025, 6, 2, 3, 8, tzinfo=timezone(timedelta(hours=2)))) == datetime(
        2025, 6, 2, 1, 6, tzinfo=UTC
    )
    assert on_tick_grid(datetime(2025, 6, 2, 1, 2)) == datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
    assert timedelta(minutes=3) == TICK


def test_a_tick_id_is_its_minute_and_the_same_on_a_retry():
    assert tick_id_for(datetime(2025, 6, 2, 1, 3, tzinfo=UTC)) == "250602T0103"
    assert tick_id_for(datetime(2031, 12, 31, 23, 57, 41, tzinfo=UTC)) == "311231T2357"


def test_candle_ends_by_arithmetic_on_even_spacing_and_by_lookup_otherwise():
    even = np.array([[t, 1, 1, 1, 1, 1] for t in (0, 180_000, 360_000)], dtype=float)
    ends = CandleEnds(even)
    assert [ends.get(0), ends.get(180_000), ends.get(360_000)] == [1, 2, 3]
    assert ends.get(540_000) is None and ends.get(90_000, -1) == -1  # past the end; off the grid
    gappy = np.array([[t, 1, 1, 1, 1, 1] for t in (0, 180_000, 720_000)], dtype=float)
    ends = CandleEnds(gappy)
    assert [ends.get(0), ends.get(180_000), ends.get(720_000), ends.get(360_000)] == [1, 2, 3, None]
