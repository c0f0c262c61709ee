"""The journal past its size: compressed parts, every record still read, a kill mid-rotation harmless."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

from bot.models import Outcome, TickReport
from bot.ops.control import daily_summary
from bot.ops.state import BotState, Journal

T0 = datetime(2025, 6, 2, 23, 51, tzinfo=UTC)


def _report(index: int) -> TickReport:
    at = T0 + timedelta(minutes=3 * index)
    return TickReport(
        tick_id=f"{at:%y%m%dT%H%M}",
        tick=index + 1,
        mode="replay",
        dry_run=True,
        as_of=at,
        strategy="rules",
        outcome=Outcome.OK,
    )


def test_a_full_journal_becomes_a_gzip_part_and_every_record_is_still_read(tmp_path):
    size = len(_report(0).model_dump_json()) + 1  # every record has the same length
    journal = Journal(tmp_path / "journal.jsonl", max_bytes=3 * size)  # three records a file
    for index in range(8):
        journal.append(_report(index))
    # 8 records: two full parts of three, then two in the file
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "journal.250602T2357.jsonl.gz",
        "journal.250603T0006.jsonl.gz",
        "journal.jsonl",
    ]
    assert [record["tick"] for record in journal.tail(20)] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [record["tick"] for record in journal.tail(3)] == [6, 7, 8]
    assert len(gzip.decompress((tmp_path / "journal.250602T2357.jsonl.gz").read_bytes()).splitlines()) == 3
    # ticks 1-3 ran 23:51 .. 23:57 on 06-02, ticks 4-8 00:00 .. 00:12 on 06-03: the summary counts across parts
    state = BotState.fresh(mode="replay", initial_equity_usd=10_000)
    assert "ticks: 5 ok;" in daily_summary(state, journal, day="2025-06-03").body
    assert "ticks: 3 ok;" in daily_summary(state, journal, day="2025-06-02").body


def test_a_rotation_killed_after_writing_the_part_is_finished_without_a_duplicate(tmp_path):
    size = len(_report(0).model_dump_json()) + 1
    journal = Journal(tmp_path / "journal.jsonl", max_bytes=3 * size)
    for index in range(3):
        journal.append(_report(index))
    part = tmp_path / "journal.250602T2357.jsonl.gz"
    part.write_bytes(gzip.compress(journal.path.read_bytes()))  # killed after the part, before the file went
    journal.append(_report(3))
    assert [record["tick"] for record in journal.tail(20)] == [1, 2, 3, 4]
