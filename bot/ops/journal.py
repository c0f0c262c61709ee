"""History between cron runs: journal.jsonl, one TickReport per line, append-only.

Past ``JOURNAL_MAX_BYTES`` the file is compressed into a part (written atomically like
state.json) and a new file starts; readers go through the file, then the parts, newest first.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bot.errors import StateError
from bot.models import Fill, TickReport
from bot.ops.state import fsync_dir, write_atomic

JOURNAL_MAX_BYTES = 5_000_000  # ~3 days of ticks; then the file is compressed into a part


class Journal:
    """Append-only JSON lines, one TickReport per tick. Past ``max_bytes`` the file becomes
    a gzip part, ``journal.<last tick id>.jsonl.gz`` (about a tenth of the size), and a new
    file starts; reading goes through the file, then the parts, newest first, so `bot
    journal` and the daily summary see every record. Parts are never deleted."""

    def __init__(self, path: Path, *, max_bytes: int = JOURNAL_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes

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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size >= self.max_bytes:
                self._rotate()
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(report.model_dump_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise self._unwritable(exc, f"tick {report.tick_id} is in the state but not in the journal") from None

    def _parts(self) -> list[Path]:
        """The compressed parts, newest first (tick ids sort as times)."""
        return sorted(self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}.gz"), reverse=True)

    def _rotate(self) -> None:
        """The file into a part, then a fresh file. Killed in between, the part is whole
        (written atomically) and the next append only removes the file it came from."""

        last = next(self.newest_first(), {}).get("tick_id", "unknown")
        part = self.path.with_name(f"{self.path.stem}.{last}{self.path.suffix}.gz")
        if not part.exists():
            write_atomic(part, gzip.compress(self.path.read_bytes(), mtime=0))
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
        self, block_bytes: int = 1 << 16, *, decode: Callable[[bytes], Any] | None = None
    ) -> Iterator[Any]:
        """Records from the end of the file backwards, reading only as much as is consumed:
        months of ticks make a large journal, and status/journal must stay fast. ``decode``
        (e.g. a model's ``model_validate_json``) replaces ``json.loads`` for a reader that
        needs a few fields."""
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
                    yield from _parsed(reversed(lines), decode)
                yield from _parsed([pending], decode)
        for part in self._parts():  # only reached when the reader wants older records
            yield from _parsed(reversed(gzip.decompress(part.read_bytes()).split(b"\n")), decode)


def _parsed(lines, decode: Callable[[bytes], Any] | None = None) -> Iterator[Any]:
    for line in lines:
        if not line.strip():
            continue
        try:
            record = decode(line) if decode else json.loads(line)
        except (
            ValueError
        ):  # a line torn by a crash mid-append (bad JSON, bad UTF-8, not the model): skip it, keep the rest
            continue
        if decode or isinstance(record, dict):
            yield record
