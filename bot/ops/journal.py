"""History between cron runs: journal.jsonl, one TickReport per line, append-only.

Past ``JOURNAL_MAX_BYTES`` the file is compressed into a part (written atomically like
state.json) and a new file starts; readers go through the file, then the parts, newest first.
What is kept beside it (the parts' indexes, the running totals) is ``bot.ops.journal_index``.

A run killed mid-append leaves a torn last line (no newline). The next append sets it aside
in a side file (``journal.torn-<crc>.jsonl``, said once: in that tick's report and its log)
before writing, so its record starts on a line of its own; a line that still cannot be read
(edited by hand, from an older bot) is never dropped silently: readers list it in
``Journal.unreadable``, and journal.index.json counts and names every one.
"""

from __future__ import annotations

import errno
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.errors import StateError
from bot.models import Fill, TickReport
from bot.ops.journal_index import BadLine, member_lines, parse, read_part_index, update_totals, write_part
from bot.ops.state import fsync_dir, write_atomic

log = logging.getLogger(__name__)  # stdlib, as in backoff: `bot status` imports this module
JOURNAL_MAX_BYTES = 5_000_000  # ~3 days of ticks; then the file is compressed into a part


class Journal:
    """Append-only JSON lines, one TickReport per tick. Past ``max_bytes`` the file becomes
    a gzip part, ``journal.<last tick id>.jsonl.gz`` (about a tenth of the size), and a new
    file starts; reading goes through the file, then the parts, newest first, so `bot
    journal` and the daily summary see every record. Parts are never deleted."""

    def __init__(self, path: Path, *, max_bytes: int = JOURNAL_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.unreadable: list[BadLine] = []  # the lines the last read passed over, as met

    def check_writable(self) -> None:
        """Before a tick runs: a journal it could not append to (say, left by `sudo bot
        tick`) would let the state move on without the tick's record."""
        try:
            if self.path.exists():
                open(self.path, "a").close()  # opening an existing file for append creates nothing
            elif not os.access(self.path.parent, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        except OSError as exc:
            raise self._unwritable(exc, "nothing ran, the state is unchanged") from None

    def append(self, report: TickReport) -> None:
        """Mend a torn last line (the report says so in ``journal_note``), rotate a full file,
        append the record, then bring the totals beside it up to date."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if note := self._mend():
                report.journal_note = note
                log.info("journal_torn_line_set_aside: %s", note)  # info: the tick prints the note itself
            if self.path.exists() and self.path.stat().st_size >= self.max_bytes:
                self._rotate()
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(report.model_dump_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise self._unwritable(exc, f"tick {report.tick_id} is in the state but not in the journal") from None
        try:
            update_totals(self.path, self.parts(), [side.name for side in self.set_aside()])
        except OSError as exc:  # the record is in: totals that lag are rebuilt by the next append
            log.warning("journal_index_not_written: %s", exc.strerror or exc)

    def _mend(self) -> str:
        """A last line without its newline (a run killed mid-append): a whole record gets
        its newline; anything else is moved to a side file, then cut off. Killed in between,
        the next append does the same again into the same side file (named by its content)."""
        try:
            handle = open(self.path, "r+b")  # noqa: SIM115  (closed by the `with` below: only its absence is caught)
        except FileNotFoundError:
            return ""
        with handle:
            size = handle.seek(0, os.SEEK_END)
            if size == 0 or os.pread(handle.fileno(), 1, size - 1) == b"\n":
                return ""
            start = size
            while start > 0:  # back to the last newline, a block at a time
                block = os.pread(handle.fileno(), min(1 << 16, start), max(0, start - (1 << 16)))
                cut = block.rfind(b"\n")
                if cut >= 0:
                    start = start - len(block) + cut + 1
                    break
                start -= len(block)
            tail = os.pread(handle.fileno(), size - start, start)
            if parse(tail) is not None:
                handle.write(b"\n")
                os.fsync(handle.fileno())
                return ""
            side = self.path.with_name(f"{self.path.stem}.torn-{zlib.crc32(tail):08x}{self.path.suffix}")
            write_atomic(side, tail)
            handle.truncate(start)
            os.fsync(handle.fileno())
        return (
            f"{self.path.name} ended in a torn line ({len(tail):,} bytes from byte {start:,}, a run killed "
            f"mid-append?): set aside in {side.name} before this record"
        )

    def set_aside(self) -> list[Path]:
        """The side files holding torn lines, oldest name first."""
        return sorted(self.path.parent.glob(f"{self.path.stem}.torn-*{self.path.suffix}"))

    def parts(self) -> list[Path]:
        """The compressed parts, newest first (tick ids sort as times)."""
        return sorted(self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}.gz"), reverse=True)

    def _rotate(self) -> None:
        """The file into a part (gzip members and their index), then a fresh file. Killed in
        between, the part is whole (written atomically) and the next append only removes
        the file it came from."""

        last = next(self.newest_first(), {}).get("tick_id", "unknown")
        part = self.path.with_name(f"{self.path.stem}.{last}{self.path.suffix}.gz")
        if not part.exists() or read_part_index(part) is None:
            write_part(part, self.path.read_bytes())
        self.path.unlink()
        fsync_dir(self.path.parent)

    def _unwritable(self, exc: OSError, what: str) -> StateError:
        return StateError(
            f"{self.path}: cannot append ({exc.strerror or exc}); {what}: make it writable by this user "
            f"(`sudo chown $USER {self.path}`) or free disk space, then run again"
        )

    def last(self) -> dict | None:
        """The newest record, None if there is none."""
        return next(self.newest_first(), None)

    def last_fills(self) -> list[Fill]:
        """The newest record's fills: a run killed after saving the state and before
        appending its line booked fills these do not hold (the tick recovers them)."""
        return [Fill.model_validate(fill) for fill in (self.last() or {}).get("fills", [])]

    def tail(self, count: int) -> list[dict]:
        """The last ``count`` records, oldest first."""
        records = []
        for record in self.newest_first():
            if len(records) >= count:
                break
            records.append(record)
        return records[::-1]

    def newest_first(
        self,
        block_bytes: int = 1 << 16,
        *,
        decode: Callable[[bytes], Any] | None = None,
        before_tick: int | None = None,
    ) -> Iterator[Any]:
        """Records from the end of the file backwards, reading only as much as is consumed:
        months of ticks make a large journal, and status/journal must stay fast. ``decode``
        (e.g. a model's ``model_validate_json``) replaces ``json.loads`` for a reader that
        needs a few fields. ``before_tick``: a page further back; the parts' members holding
        only later ticks are skipped unread (records are not filtered: the caller does).
        Unreadable lines met on the way are added to ``unreadable``."""
        self.unreadable = []
        name = self.path.name
        try:
            handle = open(self.path, "rb")  # noqa: SIM115  (closed by the `with` below: only its absence is caught)
        except FileNotFoundError:
            handle = None
        if handle is not None:
            with handle:
                position = handle.seek(0, os.SEEK_END)
                pending = b""
                while position > 0:
                    step = min(block_bytes, position)
                    position -= step
                    handle.seek(position)
                    lines = (handle.read(step) + pending).split(b"\n")
                    pending = lines.pop(0)  # may be the tail of a line that starts in the previous block
                    yield from self._parsed(name, position + len(pending) + 1, lines, decode)
                yield from self._parsed(name, 0, [pending], decode)
        for part in self.parts():  # only reached when the reader wants older records
            for start, lines in member_lines(part, read_part_index(part), before_tick=before_tick):
                yield from self._parsed(part.name, start, lines, decode)

    def _parsed(self, file: str, byte: int, lines: list[bytes], decode: Callable[[bytes], Any] | None) -> Iterator[Any]:
        """``lines`` in file order, the first starting at ``byte``: their records newest first."""
        offsets = []
        at = byte
        for line in lines:
            offsets.append(at)
            at += len(line) + 1
        for line, offset in zip(reversed(lines), reversed(offsets), strict=True):
            if not line.strip():
                continue
            try:
                record = decode(line) if decode else parse(line)
            except ValueError:  # a foreign line (bad JSON, bad UTF-8, not the model)
                record = None
            if record is None:
                self.unreadable.append(BadLine(file=file, byte=offset, chars=len(line)))
                continue
            yield record
