"""`Arena`: the daily rotation, at its time, on the scores of its window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.arena.arena import ReportList, memory_arena
from bot.config import Settings
from bot.ops.notify import Notifier
from bot.strategies import HoldStrategy
from tests.arena.arenakit import FIRST, _report
from tests.fakes.notify import NotifyEndpoint


def test_rotation_runs_once_a_day_at_its_time_on_the_window_scores():
    settings = Settings(
        _env_file=None,
        arena={
            "candidates": [{"name": "inc", "strategy": "rules"}, {"name": "new", "strategy": "rules"}],
            "rotation": {
                "enabled": True,
                "time": "12:00",
                "metric": "return",
                "min_ticks": 2,
                "margin": 1.0,
                "window_days": 3,
            },
        },
    )
    arena = memory_arena(settings, make_strategy=lambda _own: HoldStrategy())
    inc, new = arena.players
    inc.journal.reports = [_report(1, 10_100), _report(2, 10_200)]  # +2 %
    new.journal.reports = [_report(1, 10_100), _report(2, 10_250)]  # +2.5 %: inside the margin
    assert isinstance(inc.journal, ReportList)
    noon = FIRST.replace(hour=12)
    assert arena.rotate(noon - timedelta(minutes=3)) == ""  # before its time: nothing scored
    note = arena.rotate(noon)
    assert arena.active == "inc" and "within the margin 1" in note
    assert arena.record.rotations[-1].scores == {"inc": pytest.approx(2.0), "new": pytest.approx(2.5)}
    new.journal.reports.append(_report(3, 10_302))  # +3.02 %: beyond the margin, but the day was scored already
    assert arena.rotate(noon + timedelta(minutes=3)) == "" and arena.active == "inc"
    next_noon = noon + timedelta(days=1)
    with NotifyEndpoint() as endpoint:
        arena.notifier = Notifier([endpoint.url])
        note = arena.rotate(next_noon)
        [message] = endpoint.messages()
    assert arena.active == "new" and arena.record.since == next_noon and "beats inc" in note
    assert message["title"] == "arena: new now runs the account"
    assert (
        message["message"]
        == "new (3.02) beats inc (2) by more than the margin 1. Scores (return, 3 days): inc 2, new 3.02"
    )
    assert [(r.incumbent, r.chosen) for r in arena.record.rotations] == [
        ("inc", "inc"),
        ("inc", "new"),
    ]  # both journaled
