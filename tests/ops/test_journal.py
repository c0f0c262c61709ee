"""The journal (bot/ops/journal.py, with what bot/ops/journal_index.py keeps beside it): read
backwards, rotated into indexed gzip parts, a torn last line set aside before the next record,
every unreadable line counted and named."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from itertools import islice

from bot.models import Outcome, TickReport
from bot.ops.control import daily_summary
from bot.ops.journal import Journal
from bot.ops.journal_index import read_part_index, read_totals, rows_of
from bot.ops.state import BotState

T0 = datetime(2025, 6, 2, 23, 51, tzinfo=UTC)


def _report(index: int, **fields) -> TickReport:
    at = T0 + timedelta(minutes=3 * index)
    return TickReport(
        tick_id=f"{at:%y%m%dT%H%M}",
        tick=index + 1,
        mode="replay",
        dry_run=True,
        as_of=at,
        strategy="rules",
        outcome=Outcome.OK,
        **fields,
    )


def _lines(n: int, pad: int = 0) -> str:
    return "".join(json.dumps({"tick": t, "pad": "y" * pad}) + "\n" for t in range(1, n + 1))


def test_a_reader_skips_a_torn_line_and_names_it(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.path.write_text('{"tick": 1}\n{"tick": 2, "outc')
    assert journal.tail(5) == [{"tick": 1}]
    assert [str(bad) for bad in journal.unreadable] == ["journal.jsonl byte 12 (17 chars)"]


def test_journal_reads_backwards_across_blocks(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.path.write_text("".join(json.dumps({"tick": n, "pad": "y" * (n % 7) * 40}) + "\n" for n in range(1, 301)))
    assert [r["tick"] for r in journal.newest_first(block_bytes=97)] == list(range(300, 0, -1))
    assert [r["tick"] for r in journal.tail(3)] == [298, 299, 300]


def test_a_full_journal_becomes_a_gzip_part_and_every_record_is_still_read(tmp_path):
    size = len(_report(0).model_dump_json()) + 1  # every record has the same length
    journal = Journal(tmp_path / "journal.jsonl", max_bytes=3 * size)  # three records a file
    for index in range(8):
        journal.append(_report(index))
    # 8 records: two full parts of three, then two in the file
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "journal.250602T2357.index.json",
        "journal.250602T2357.jsonl.gz",
        "journal.250602T2357.rows.json",
        "journal.250603T0006.index.json",
        "journal.250603T0006.jsonl.gz",
        "journal.250603T0006.rows.json",
        "journal.index.json",
        "journal.jsonl",
    ]
    assert read_totals(journal.path).records == 8
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


def test_a_torn_last_line_is_set_aside_before_the_next_record_and_said_once(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    for index in range(3):
        journal.append(_report(index))
    whole = journal.path.read_bytes()
    journal.path.write_bytes(whole[:-100])  # `truncate -s -100`: a run killed mid-append
    torn = whole[:-100].rsplit(b"\n", 1)[1]
    report = _report(3)
    journal.append(report)
    (side,) = journal.set_aside()
    assert side.read_bytes() == torn and len(torn) == len(whole) // 3 - 100
    assert report.journal_note == (
        f"journal.jsonl ended in a torn line ({len(torn):,} bytes from byte {2 * len(whole) // 3:,}, a run killed "
        f"mid-append?): set aside in {side.name} before this record"
    )
    assert [r["tick"] for r in journal.tail(10)] == [1, 2, 4] and journal.unreadable == []
    assert journal.path.read_bytes() == whole[: 2 * len(whole) // 3] + report.model_dump_json().encode() + b"\n"
    totals = read_totals(journal.path)
    assert (totals.records, totals.bad_count, totals.set_aside) == (3, 0, [side.name])
    later = _report(4)
    journal.append(later)
    assert later.journal_note == "" and journal.set_aside() == [side]  # said once


def test_a_last_record_missing_only_its_newline_is_kept(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.path.write_text('{"tick": 1}\n{"tick": 2}')
    report = _report(2)
    journal.append(report)
    assert [r["tick"] for r in journal.tail(10)] == [1, 2, 3]
    assert report.journal_note == "" and journal.set_aside() == []


def test_an_unreadable_line_in_the_middle_is_counted_and_named_by_line(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.path.write_text('{"tick": 1}\n[1, 2]\nnot json\n{"tick": 2}\n')
    assert [r["tick"] for r in journal.newest_first()] == [2, 1]
    assert [str(bad) for bad in journal.unreadable] == [
        "journal.jsonl byte 19 (8 chars)",
        "journal.jsonl byte 12 (6 chars)",
    ]
    journal.append(_report(2))
    totals = read_totals(journal.path)
    assert (totals.records, totals.bad_count) == (3, 2)
    assert [str(bad) for bad in totals.bad] == [
        "journal.jsonl line 2, byte 12 (6 chars)",
        "journal.jsonl line 3, byte 19 (8 chars)",
    ]


def test_a_page_from_a_part_unzips_only_its_members(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl", max_bytes=1)  # every append rotates the file before it
    journal.path.write_text(_lines(4000, pad=200))  # ~880 KB: four members of at most 256 KiB
    journal.append(_report(4000))
    (part,) = journal.parts()
    index = read_part_index(part)
    # a line is 222 bytes + its tick's digits; a member ends at the last whole line within 262,144
    # bytes: 9 x 223 + 90 x 224 + 900 x 225 = 224,667, then 165 x 226; then 1,159 x 226 twice; the rest
    assert [m.records for m in index.members] == [1164, 1159, 1159, 518] and index.records == 4000
    assert len(gzip.decompress(part.read_bytes()).splitlines()) == 4000  # still one gzip stream to zcat
    with open(part, "r+b") as handle:  # the oldest member destroyed: a page that does not need it still reads
        handle.write(b"\0" * index.members[0].length)
    assert [r["tick"] for r in journal.tail(1000)] == list(range(3002, 4002))
    page = islice((r["tick"] for r in journal.newest_first(before_tick=2000) if r["tick"] < 2000), 100)
    assert list(page) == list(range(1999, 1899, -1))  # members 3 and 4 skipped unread, 2 read
    rows = json.loads(rows_of(part).read_text())
    assert [row["tick"] for row in rows[:2]] == [1, 2] and len(rows) == 4000


def test_a_part_from_before_indexes_is_read_whole_then_indexed_by_the_next_append(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    part = tmp_path / "journal.250602T2300.jsonl.gz"
    part.write_bytes(gzip.compress(_lines(3).encode() + b"garbage\n"))
    assert [r["tick"] for r in journal.tail(5)] == [1, 2, 3]
    assert [str(bad) for bad in journal.unreadable] == ["journal.250602T2300.jsonl.gz byte 69 (7 chars)"]
    journal.append(_report(10))
    index = read_part_index(part)
    assert index.records == 3 and [str(bad) for bad in index.bad] == [
        "journal.250602T2300.jsonl.gz line 4, byte 69 (7 chars)"
    ]
    totals = read_totals(journal.path)
    assert (totals.records, totals.bad_count) == (4, 1)
    assert [r["tick"] for r in journal.tail(5)] == [1, 2, 3, 11]
