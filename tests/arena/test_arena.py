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


def _book(returns, *, first=1):
    """Reports of a book growing by ``returns`` from 10,000, a tick apart from tick ``first``."""
    equity, reports = 10_000.0, []
    for i, value in enumerate(returns):
        equity *= 1 + value
        reports.append(_report(first + i, equity))
    return reports


def test_rotation_with_min_probability_waits_until_the_challenger_is_significantly_better():
    """A day of ticks (480, the minimum sample); the incumbent never trades (Sharpe exactly 0).
    Day 1 the challenger alternates +1 % / -0.9 %: (1.01 x 0.991)^240 = 1.243961, +24.4 %, far
    beyond the margin; but its per-tick Sharpe is 0.0005 / (0.0095 x sqrt(480/479)) = 0.052577,
    two-point returns have skewness 0 and kurtosis 1, so the PSR is Z(0.052577 x sqrt(479)) =
    Z(1.15070) = 0.87493 + 0.07 x 0.00205 = 0.87507 (normal tables): it waits. Day 2 it
    alternates +1 % / -0.85 % (+40.4 %): Sharpe 0.00075 / (0.00925 x sqrt(480/479)) = 0.080997,
    Z(1.77270) = 0.96164 + 0.27 x 0.00082 = 0.96186: it switches."""
    settings = Settings(
        _env_file=None,
        arena={
            "candidates": [{"name": "inc", "strategy": "rules"}, {"name": "new", "strategy": "rules"}],
            "rotation": {
                "enabled": True,
                "time": "12:00",
                "metric": "return",
                "min_ticks": 480,
                "margin": 1.0,
                "window_days": 3,
                "min_probability": 0.95,
            },
        },
    )
    arena = memory_arena(settings, make_strategy=lambda _own: HoldStrategy())
    inc, new = arena.players
    inc.journal.reports = _book([0.0] * 480)
    new.journal.reports = _book([0.01, -0.009] * 240)
    noon = (FIRST + timedelta(days=1)).replace(hour=12)  # after the day of ticks
    note = arena.rotate(noon)
    assert arena.active == "inc"
    assert note.endswith(
        "new (24.4) beats inc (0) by more than the margin 1 but P(Sharpe above the incumbent's) = 0.875 < 0.95: "
        "not distinguishable yet, no switch"
    )
    assert arena.record.rotations[-1].probabilities == {"new": pytest.approx(0.87507, abs=2e-5)}
    assert arena.leaderboard(noon).standings[0].verdict == "not distinguishable yet"

    new.journal.reports = _book([0.01, -0.0085] * 240)
    note = arena.rotate(noon + timedelta(days=1))
    assert arena.active == "new"
    assert note.endswith(
        "new (40.4) beats inc (0) by more than the margin 1 and P(Sharpe above the incumbent's) = 0.962 >= 0.95"
    )
    assert arena.record.rotations[-1].probabilities == {"new": pytest.approx(0.96186, abs=2e-5)}
    board = {entry.name: entry.verdict for entry in arena.leaderboard(noon + timedelta(days=1)).standings}
    assert board == {"new": "incumbent", "inc": "behind"}  # now inc is the challenger, and a flat book is behind


def test_instances_are_books_of_their_own_and_rotation_scores_the_candidate(tmp_path):
    from bot.arena.arena import open_arena

    settings = Settings(
        _env_file=None,
        arena={
            "candidates": [
                {"name": "inc", "strategy": "rules"},
                {"name": "new", "strategy": "rules", "instances": 3},
            ],
            "rotation": {"enabled": True, "time": "12:00", "metric": "return", "min_ticks": 2, "margin": 1.0},
        },
    )
    asked = []

    def make_strategy(own, instance=1):
        asked.append(instance)
        return HoldStrategy()

    arena = open_arena(settings, tmp_path / "arena", make_strategy=make_strategy)
    assert [(p.name, p.candidate) for p in arena.players] == [
        ("inc", "inc"),
        ("new", "new"),
        ("new.2", "new"),
        ("new.3", "new"),
    ]
    assert asked == [1, 1, 2, 3]  # one strategy per book: its own calls
    assert arena.players[2].store.path == tmp_path / "arena" / "new.2" / "state.json"

    memory = memory_arena(settings, make_strategy=lambda _own, instance=1: HoldStrategy())
    inc, *books = memory.players
    inc.journal.reports = [_report(1, 10_000), _report(2, 10_000)]
    for player, equity in zip(books, (10_300, 10_100, 10_200), strict=True):  # +3, +1, +2 %: mean +2 %
        player.journal.reports = [_report(1, 10_000), _report(2, equity)]
    note = memory.rotate(FIRST.replace(hour=12))
    assert memory.active == "new" and note.endswith("new (2) beats inc (0) by more than the margin 1")
    assert memory.record.rotations[-1].scores == {"inc": 0.0, "new": pytest.approx(2.0, abs=1e-9)}
    board = memory.leaderboard(FIRST.replace(hour=12))
    assert {entry.name: entry.verdict for entry in board.standings if entry.candidate == "new"} == {
        "new": "incumbent",
        "new.2": "incumbent",
        "new.3": "incumbent",
    }
    [spread] = board.spreads
    assert (spread.candidate, spread.instances) == ("new", 3)
    assert spread.return_pct == pytest.approx((1.0, 3.0), abs=1e-9)


def test_instances_must_be_between_1_and_8():
    with pytest.raises(ValueError, match="instances"):
        Settings(_env_file=None, arena={"candidates": [{"name": "a", "strategy": "rules", "instances": 0}]})
