"""What is kept beside the journal so that no reader has to read all of it.

- A part (``journal.<last tick id>.jsonl.gz``) is a series of gzip members of about
  ``MEMBER_BYTES`` of whole lines each (a gzip file may hold several members: ``zcat`` and
  ``gzip.decompress`` read them as one stream), and its index (``journal.<last tick
  id>.index.json``, a ``PartIndex``) gives each member's byte range and ticks. A reader that
  wants a page from a part unzips one member (~256 KiB of lines), never the whole 5 MB part;
  ``bot serve`` takes the part's summary rows (tick, time, outcome, equity, prices, usage)
  from ``journal.<last tick id>.rows.json`` instead of its records (a file of its own: a
  reader of members does not parse them).
- ``journal.index.json`` (``JournalTotals``): the records and unreadable lines of the whole
  journal, the torn lines set aside. Every append brings it up to date by reading only the
  bytes added since (under the tick lock), a rotation by reading the new part's index: `bot
  status` reads it instead of the journal, so its cost does not grow with the journal's age.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from bot.models import StrictModel
from bot.ops.state import write_atomic

MEMBER_BYTES = 1 << 18  # lines per gzip member of a part: a page from a part unzips this much
BAD_NAMED = 20  # unreadable lines named in journal.index.json (all of them are counted)
TOTALS_VERSION = 1


class BadLine(StrictModel):
    """A journal line that is not a JSON object: torn by a crash, glued, edited by hand."""

    file: str
    byte: int  # where it starts in the file (uncompressed, for a part)
    chars: int
    line: int | None = None  # 1-based; unknown to a reader going backwards

    def __str__(self) -> str:
        where = f"line {self.line}, byte {self.byte:,}" if self.line else f"byte {self.byte:,}"
        return f"{self.file} {where} ({self.chars:,} chars)"


class Member(StrictModel):
    offset: int  # where the member starts in the .gz file
    length: int  # its compressed bytes
    start: int = 0  # where its lines start in the part's uncompressed lines
    records: int
    first_tick: int | None = None
    last_tick: int | None = None


class PartIndex(StrictModel):
    """A part's members and summary; written once, with the part, never changed."""

    part: str
    records: int
    bad: list[BadLine] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)


class PartCount(StrictModel):
    records: int
    bad: int


class JournalTotals(StrictModel):
    """journal.index.json: the whole journal counted, the file's bytes read so far."""

    version: int = TOTALS_VERSION
    records: int = 0  # readable records in the file and every part
    bad_count: int = 0  # unreadable lines in the file and every part
    bad: list[BadLine] = Field(default_factory=list)  # the first BAD_NAMED of them
    set_aside: list[str] = Field(default_factory=list)  # side files holding torn last lines, by name
    parts: dict[str, PartCount] = Field(default_factory=dict)
    file_inode: int = 0
    file_bytes: int = 0  # journal.jsonl read up to here (a line end)
    file_mark: int = 0  # crc32 of the 64 bytes before file_bytes: a file cut and written again shows here
    file_lines: int = 0
    file_records: int = 0
    file_bad: list[BadLine] = Field(default_factory=list)


class Scan(StrictModel):
    records: int = 0
    lines: int = 0
    bad: list[BadLine] = Field(default_factory=list)
    ticks: list[int] = Field(default_factory=list)
    rows: list[dict[str, Any]] = Field(default_factory=list)


def summary_row(record: dict[str, Any]) -> dict[str, Any]:
    """What the web face's curve and totals need of a record, under the record's own keys."""
    row = {key: record.get(key) for key in ("tick", "as_of", "outcome", "prices")}
    row["account"] = {"equity_usd": (record.get("account") or {}).get("equity_usd")}
    usage = record.get("usage")
    if isinstance(usage, dict) and usage.get("calls"):
        row["usage"] = usage
    for key in ("fills", "funding"):  # the closed trades and the profit tables (rare: most ticks have none)
        if record.get(key):
            row[key] = record[key]
    return row


def scan(data: bytes, file: str, *, byte: int = 0, line: int = 0, rows: bool = False) -> Scan:
    """Whole lines of ``data`` (starting at ``byte``, after ``line`` lines of ``file``): the
    records, the unreadable lines, the ticks (and the summary rows)."""
    result = Scan()
    for raw in data.split(b"\n")[:-1]:  # the last piece follows the last newline: nothing
        line += 1
        if raw.strip():
            record = parse(raw)
            if record is None:
                result.bad.append(BadLine(file=file, byte=byte, chars=len(raw), line=line))
            else:
                result.records += 1
                if isinstance(record.get("tick"), int):
                    result.ticks.append(record["tick"])
                if rows:
                    result.rows.append(summary_row(record))
        byte += len(raw) + 1
    result.lines = line
    return result


def parse(raw: bytes) -> dict[str, Any] | None:
    """A line as a record; None for one that is not a JSON object."""
    try:
        record = json.loads(raw)
    except ValueError:  # bad JSON, bad UTF-8
        return None
    return record if isinstance(record, dict) else None


def write_part(part: Path, data: bytes) -> PartIndex:
    """``data`` (whole lines) into ``part`` as members of about MEMBER_BYTES, and its index
    beside it; both written atomically, the index second (a part without one is still read)."""
    members, blobs, offset = [], [], 0
    start, total = 0, Scan()
    while start < len(data):
        end = data.rfind(b"\n", start, start + MEMBER_BYTES)
        end = data.find(b"\n", start + MEMBER_BYTES - 1) if end < start else end  # a line longer than a member
        end = len(data) if end < 0 else end + 1
        chunk = data[start:end]
        counted = scan(chunk, part.name, byte=start, line=total.lines, rows=True)
        blob = gzip.compress(chunk, mtime=0)
        members.append(
            Member(
                offset=offset,
                length=len(blob),
                start=start,
                records=counted.records,
                first_tick=counted.ticks[0] if counted.ticks else None,
                last_tick=counted.ticks[-1] if counted.ticks else None,
            )
        )
        blobs.append(blob)
        offset += len(blob)
        total.records += counted.records
        total.lines = counted.lines
        total.bad += counted.bad
        total.rows += counted.rows
        start = end
    index = PartIndex(part=part.name, records=total.records, bad=total.bad, members=members)
    write_atomic(part, b"".join(blobs))
    write_atomic(rows_of(part), json.dumps(total.rows).encode())
    write_atomic(index_of(part), index.model_dump_json().encode())
    return index


def index_of(part: Path) -> Path:
    """journal.X.jsonl.gz -> journal.X.index.json"""
    return part.with_name(part.name.removesuffix(".jsonl.gz") + ".index.json")


def rows_of(part: Path) -> Path:
    """journal.X.jsonl.gz -> journal.X.rows.json: ``summary_row`` of each record, oldest first."""
    return part.with_name(part.name.removesuffix(".jsonl.gz") + ".rows.json")


def read_part_index(part: Path) -> PartIndex | None:
    """The part's index; None when it has none (a part from before indexes) or it is unusable."""
    try:
        return PartIndex.model_validate_json(index_of(part).read_bytes())
    except (OSError, ValidationError):
        return None


def part_index(part: Path) -> PartIndex:
    """The part's index, written now for a part from before indexes (its members too): once."""
    index = read_part_index(part)
    if index is None:
        index = write_part(part, gzip.decompress(part.read_bytes()))
    return index


def member_lines(
    part: Path, index: PartIndex | None, *, before_tick: int | None = None
) -> Iterator[tuple[int, list[bytes]]]:
    """The part's lines, one member at a time, newest member first, each with the byte its
    lines start at; members holding only ticks at or after ``before_tick`` are not even
    read. Without an index: the whole part at once."""
    if index is None:
        yield 0, gzip.decompress(part.read_bytes()).split(b"\n")
        return
    with open(part, "rb") as handle:
        for member in reversed(index.members):
            if before_tick is not None and member.first_tick is not None and member.first_tick >= before_tick:
                continue
            handle.seek(member.offset)
            yield member.start, zlib.decompress(handle.read(member.length), wbits=31).split(b"\n")


def totals_path(journal: Path) -> Path:
    return journal.with_name(journal.stem + ".index.json")


def read_totals(journal: Path) -> JournalTotals | None:
    """journal.index.json, None when there is none yet (no append since it was introduced)."""
    try:
        return JournalTotals.model_validate_json(totals_path(journal).read_bytes())
    except (OSError, ValidationError):
        return None


def update_totals(journal: Path, parts: list[Path], set_aside: list[str]) -> JournalTotals:
    """Bring journal.index.json up to date after an append or a rotation: the bytes added
    to the file since, the parts added since (their indexes); from scratch only when the
    file was replaced or shrank under it."""
    totals = read_totals(journal) or JournalTotals()
    bad_before = totals.bad_count
    stat = os.stat(journal)
    with open(journal, "rb") as handle:
        if (stat.st_ino, _mark(handle, totals.file_bytes)) != (totals.file_inode, totals.file_mark):
            totals.file_inode, totals.file_bytes, totals.file_lines, totals.file_records = stat.st_ino, 0, 0, 0
            totals.file_bad = []
        handle.seek(totals.file_bytes)
        data = handle.read(max(0, stat.st_size - totals.file_bytes))
        data = data[: data.rfind(b"\n") + 1]  # whole lines only
        counted = scan(data, journal.name, byte=totals.file_bytes, line=totals.file_lines)
        totals.file_bytes += len(data)
        totals.file_lines = counted.lines
        totals.file_records += counted.records
        totals.file_bad += counted.bad
        totals.file_mark = _mark(handle, totals.file_bytes)
    names = {part.name for part in parts}
    totals.parts = {name: count for name, count in totals.parts.items() if name in names}
    for part in parts:
        if part.name not in totals.parts:
            index = part_index(part)
            totals.parts[part.name] = PartCount(records=index.records, bad=len(index.bad))
    totals.records = totals.file_records + sum(count.records for count in totals.parts.values())
    totals.bad_count = len(totals.file_bad) + sum(count.bad for count in totals.parts.values())
    if totals.bad_count != bad_before:  # name them again (rarely: a line went bad, a part came)
        named = [bad for part in sorted(parts) for bad in _bad_of(part, totals)] + totals.file_bad
        totals.bad = named[:BAD_NAMED]
    totals.set_aside = set_aside
    write_atomic(totals_path(journal), totals.model_dump_json(indent=1).encode())
    return totals


def _mark(handle: Any, end: int) -> int:
    return zlib.crc32(os.pread(handle.fileno(), min(end, 64), max(0, end - 64)))


def _bad_of(part: Path, totals: JournalTotals) -> list[BadLine]:
    if not totals.parts[part.name].bad:
        return []
    index = read_part_index(part)
    return index.bad if index else []
