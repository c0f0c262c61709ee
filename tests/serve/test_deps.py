"""What the server reads under running ticks: the last good state while the file is torn, the
journal index across a line being written and a rotation, the lock's holder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from bot.ops.state import BotState, StateStore
from bot.serve.deps import JournalIndex, StateReader
from bot.serve.series import TickPoint

T0 = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)


def tick(n: int, equity: float | None, prices: dict[str, float], outcome: str = "ok") -> TickPoint:
    return TickPoint(
        tick=n, as_of=T0 + timedelta(minutes=3 * (n - 1)), outcome=outcome, equity_usd=equity, prices=prices
    )


def journal_line(n: int, equity: float) -> str:
    return (
        json.dumps(
            {
                "tick_id": f"t{n}",
                "tick": n,
                "as_of": (T0 + timedelta(minutes=3 * n)).isoformat(),
                "outcome": "ok",
                "account": {"equity_usd": equity},
                "usage": {"calls": 1, "input_tokens": 100, "cost_usd": 0.5},
            }
        )
        + "\n"
    )


def test_state_reader_serves_the_last_good_state_while_the_file_is_torn(tmp_path):
    store = StateStore(tmp_path / "state.json")
    store.save(BotState.fresh(mode="replay", initial_equity_usd=10_000.0).model_copy(update={"tick": 4}))
    reader = StateReader(store, pause_seconds=0.0)
    state, problem = reader.read()
    assert state.tick == 4 and problem == ""
    good = store.path.read_text()
    store.path.write_text(good[: len(good) // 2])  # a half-written file (as a non-atomic writer would leave)
    state, problem = reader.read()
    assert state.tick == 4 and "corrupt or truncated" in problem and problem.endswith("(showing the last good state)")
    store.path.write_text(good.replace('"tick": 4', '"tick": 5'))
    assert reader.read()[0].tick == 5
    fresh = StateReader(StateStore(tmp_path / "other.json"), pause_seconds=0.0)
    (tmp_path / "other.json").write_text("{")
    assert fresh.read()[0] is None and "corrupt" in fresh.read()[1]  # nothing good yet: the route answers 503


def test_journal_index_waits_for_a_line_being_written_and_restarts_on_rotation(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(journal_line(1, 10_000.0) + journal_line(2, 10_100.0))
    index = JournalIndex(path).refresh()
    assert [t.equity_usd for t in index.ticks] == [10_000.0, 10_100.0]
    line = journal_line(3, 10_200.0)
    with open(path, "a") as handle:
        handle.write(line[:25])  # a tick is appending right now
    assert [t.tick for t in index.refresh().ticks] == [1, 2]
    with open(path, "a") as handle:
        handle.write(line[25:] + "not json\n")  # the rest, and a torn line
        handle.write(
            journal_line(9, 10_000.0).replace('"equity_usd": 10000.0', '"equity_usd": "lots"') + "[1, 2]\n"
        )  # foreign lines
        handle.write(
            json.dumps({"tick": 9, "as_of": T0.isoformat(), "outcome": "ok", "prices": {"BTC": 0}}) + "\n"
        )  # a price of 0
    assert [t.tick for t in index.refresh().ticks] == [1, 2, 3]
    assert index.outcomes["ok"] == 3 and index.usage.calls == 3 and index.usage.cost_usd == pytest.approx(1.5)
    os.rename(path, tmp_path / "journal.jsonl.1")  # rotated: a new, shorter file
    path.write_text(journal_line(4, 9_000.0))
    assert [t.tick for t in index.refresh().ticks] == [4]
    path.unlink()
    assert index.refresh().ticks == []


def test_lock_holder_names_the_running_tick_without_taking_the_lock(tmp_path):
    from bot.ops.state import TickLock
    from bot.serve.deps import lock_holder

    path = tmp_path / "tick.lock"
    assert lock_holder(path) is None  # no lock file yet
    with TickLock(path).acquire(started_at=T0):
        assert lock_holder(path) == f"pid {os.getpid()} since 2025-06-02 01:00:00 UTC"
    assert lock_holder(path) is None  # released: the file stays, nobody holds it


def test_journal_index_counts_the_rotated_parts_from_their_indexes_once(tmp_path):
    from bot.ops.journal import Journal

    path = tmp_path / "journal.jsonl"
    journal = Journal(path, max_bytes=len(journal_line(1, 10_000.0)) * 3)  # three lines a file
    for n in range(1, 8):  # ticks 1-3 and 4-6 in two parts, tick 7 in the file
        path.parent.mkdir(exist_ok=True)
        if path.exists() and path.stat().st_size >= journal.max_bytes:
            journal._rotate()
        with open(path, "a") as handle:
            handle.write(journal_line(n, 10_000.0 + n))
    journal._rotate()  # 7 alone into a third part
    path.write_text(journal_line(8, 10_008.0) + "garbage\n")
    parts = journal.parts()
    assert len(parts) == 3
    index = JournalIndex(path).refresh()
    assert [t.tick for t in index.ticks] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert index.outcomes["ok"] == 8 and index.usage.calls == 8 and index.unreadable == 1
    assert index.ticks[3].equity_usd == 10_004.0
    for part in parts:  # the parts themselves are not read again: their rows are kept
        part.write_bytes(b"")
    path.write_text(journal_line(9, 10_009.0))  # replaced: read again from its start
    assert [t.tick for t in index.refresh().ticks] == [1, 2, 3, 4, 5, 6, 7, 9]
    fresh = JournalIndex(path)  # a new server: the parts' rows come from their indexes, not the (now empty) parts
    assert [t.tick for t in fresh.refresh().ticks] == [1, 2, 3, 4, 5, 6, 7, 9]
