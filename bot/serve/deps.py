"""How a route gets the bot's data: state.json and the journal, read while cron's ticks
replace them, through the same plain-data functions the CLI uses.

- state.json is replaced atomically (rename), so a read sees the old file or the new one.
  A read that still fails (a file left half-written by hand, a newer schema) is retried
  briefly, then the last good state is served with a warning; none yet: 503, one line.
- The journal is followed incrementally: only complete lines past the last offset are
  parsed (a line being appended waits for its newline), and a file that shrank or was
  replaced (rotated) is read again from its start. Each request costs one ``stat``. The
  compressed parts before it count too: each part's summary rows come from its index
  (``bot.ops.journal_index``), read once per part and kept (a part never changes).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config import Settings
from bot.errors import StateError
from bot.models import Fill, Usage
from bot.ops.journal import Journal
from bot.ops.journal_index import read_part_index, rows_of, scan
from bot.ops.state import BotState, StateStore
from bot.serve.schemas import ClosedTradeRow, DecisionRecord
from bot.serve.series import TickPoint, equity_curve
from bot.serve.trades import Readers, closed_trades

_BLOCK = 1 << 20


class StateReader:
    """The parsed state, re-read only when the file changed; the last good one kept."""

    def __init__(self, store: StateStore, *, retries: int = 3, pause_seconds: float = 0.02) -> None:
        self.store = store
        self._retries, self._pause = retries, pause_seconds
        self._key: tuple[int, int, int] | None = None
        self._state: BotState | None = None
        self._lock = threading.Lock()

    def read(self) -> tuple[BotState | None, str]:
        """(state, problem): the problem is "" when the state is fresh from the file."""
        problem = ""
        with self._lock:
            for attempt in range(self._retries):
                try:
                    stat = os.stat(self.store.path)
                except FileNotFoundError:
                    return (
                        self._state,
                        "" if self._state is None else f"{self.store.path} disappeared; showing the last state read",
                    )
                key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if key == self._key:
                    return self._state, ""
                try:
                    state = self.store.load()
                except StateError as exc:
                    problem = str(exc)
                    time.sleep(self._pause * (attempt + 1))
                    continue
                self._key, self._state = key, state
                return state, ""
        return self._state, problem if self._state is None else f"{problem} (showing the last good state)"


@dataclass
class JournalIndex:
    """What the dashboard needs from the whole journal, kept up to date incrementally."""

    path: Path
    ticks: list[TickPoint] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    usage: Usage = field(default_factory=Usage)
    unreadable: int = 0  # lines that are not a record (torn, foreign): counted, not drawn
    fills: list[Fill] = field(default_factory=list)  # every fill, journal order: the closed trades
    funding: list[tuple[str, datetime, float]] = field(default_factory=list)  # (coin, time, USD received)
    version: int = 0  # grows with every block read: what a cached curve is keyed by
    _parts: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)  # part name -> its summary rows
    _key: tuple[int, int] | None = None
    _offset: int = 0
    _pending: bytes = b""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self) -> JournalIndex:
        with self._lock:
            try:
                handle = open(self.path, "rb")  # noqa: SIM115  (closed by the `with` below: a missing file is not an error)
            except FileNotFoundError:
                self._reset(None)
                return self
            with handle:
                stat = os.fstat(handle.fileno())
                if (stat.st_dev, stat.st_ino) != self._key or stat.st_size < self._offset:
                    self._reset((stat.st_dev, stat.st_ino))
                handle.seek(self._offset)
                while self._offset < stat.st_size:  # in blocks: a long journal is read once, in bounded memory
                    chunk = handle.read(min(_BLOCK, stat.st_size - self._offset))
                    if not chunk:
                        break
                    self._offset += len(chunk)
                    lines = (self._pending + chunk).split(b"\n")
                    self._pending = lines.pop()  # "" after a newline, else a line still being written
                    for line in lines:
                        self._add(line)
                    self.version += 1
        return self

    def _reset(self, key: tuple[int, int] | None) -> None:
        """From the start: the parts' rows (oldest first), then the file from its first byte."""
        self.ticks, self.outcomes, self.usage, self.unreadable = [], Counter(), Usage(), 0
        self.fills, self.funding = [], []
        self.version += 1
        self._key, self._offset, self._pending = key, 0, b""
        for part in reversed(Journal(self.path).parts()):
            if part.name not in self._parts:
                self._parts[part.name] = _part_rows(part)
            for row in self._parts[part.name]:
                self._add_record(row)

    def _add(self, line: bytes) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        self._add_record(record)

    def _add_record(self, record: Any) -> None:
        if record is None:  # a row of a part that was not a record
            self.unreadable += 1
            return
        try:
            equity = (record.get("account") or {}).get("equity_usd")
            point = TickPoint(
                tick=int(record["tick"]),
                as_of=datetime.fromisoformat(record["as_of"]),
                outcome=str(record["outcome"]),
                equity_usd=None if equity is None else _number(equity),
                prices={str(coin): _positive(price) for coin, price in (record.get("prices") or {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            self.unreadable += 1  # a torn or foreign line: skipped and counted, as `bot journal` does
            return
        self.ticks.append(point)
        self.outcomes[point.outcome] += 1
        usage = record.get("usage")
        if isinstance(usage, dict) and usage.get("calls"):
            with contextlib.suppress(ValidationError):  # a foreign usage record counts nothing
                self.usage = self.usage.plus(Usage.model_validate(usage))
        for fill in record.get("fills") or ():
            with contextlib.suppress(ValidationError):  # a fill of another version: not a trade
                self.fills.append(Fill.model_validate(fill))
        for payment in record.get("funding") or ():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self.funding.append(
                    (str(payment["coin"]), datetime.fromisoformat(payment["at"]), _number(payment["amount_usd"]))
                )


def _part_rows(part: Path) -> list[dict[str, Any] | None]:
    """A part's summary rows from its index (None per unreadable line); a part from before
    indexes is read whole, once (the next tick's append indexes it)."""
    index = read_part_index(part)
    if index is not None:
        with contextlib.suppress(OSError, ValueError):
            return [*json.loads(rows_of(part).read_bytes()), *([None] * len(index.bad))]
    import gzip

    counted = scan(gzip.decompress(part.read_bytes()), part.name, rows=True)
    return [*counted.rows, *([None] * len(counted.bad))]


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _positive(value: object) -> float:
    if _number(value) <= 0:
        raise ValueError(f"not a price: {value!r}")
    return float(value)


def decision_records(journal: Journal, *, count: int) -> list[DecisionRecord]:
    """The last ``count`` ticks' decisions and verdicts, oldest first."""
    fields = ("tick_id", "tick", "as_of", "strategy", "outcome", "decisions", "verdicts")
    records: list[DecisionRecord] = []
    for record in journal.newest_first():
        if len(records) >= count:
            break
        try:
            records.append(DecisionRecord.model_validate({name: record.get(name) for name in fields}))
        except ValidationError:
            continue  # a line of another version: skipped
    return records[::-1]


def lock_holder(path: Path) -> str | None:
    """Who holds the tick lock now ("pid N since …"), from /proc/locks: taking the lock to
    find out would make a tick starting at that moment exit as locked."""
    try:
        inode = os.stat(path).st_ino
        text = path.read_text(errors="replace").strip()
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    held = any(
        "FLOCK" in line and any(part.endswith(f":{inode}") for part in line.split()) for line in locks.splitlines()
    )
    return (text or "unknown") if held else None


@dataclass
class Sources:
    """Everything a route reads or changes, for one account (live-data or replay)."""

    settings: Settings
    replay: bool
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    readers: Readers = field(default_factory=Readers)  # what the layers above plug in (closed trades, the arena)
    var: Path = field(init=False)
    state: StateReader = field(init=False)
    journal: Journal = field(init=False)
    index: JournalIndex = field(init=False)
    _curve: tuple[tuple[int, float, int], bytes] | None = field(default=None, init=False)
    _trades: tuple[int, list[ClosedTradeRow]] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.var = self.settings.run_dir(replay=self.replay)
        self.state = StateReader(StateStore(self.var / "state.json"))
        self.journal = Journal(self.var / "journal.jsonl")
        self.index = JournalIndex(self.var / "journal.jsonl")

    def curve_json(self, *, initial_equity_usd: float, max_points: int) -> bytes:
        """The equity curve as JSON, computed again only when the journal grew."""
        index = self.index.refresh()
        key = (index.version, initial_equity_usd, max_points)
        cached = self._curve
        if cached is None or cached[0] != key:
            curve = equity_curve(index.ticks, initial_equity_usd=initial_equity_usd, max_points=max_points)
            cached = self._curve = (key, curve.model_dump_json().encode())
        return cached[1]

    def closed_trades(self) -> list[ClosedTradeRow]:
        """Every closed round trip in the journal, oldest exit first; paired again only when it grew."""
        index = self.index.refresh()
        cached = self._trades
        if cached is None or cached[0] != index.version:
            cached = self._trades = (index.version, closed_trades(self.readers, index.fills, index.funding))
        return cached[1]

    def journal_age_seconds(self, state: BotState) -> float | None:
        """Wall seconds since the last tick was recorded: the tick's own clock live, the
        journal's modification time in replay (its clock is simulated)."""
        now = self.clock()
        if not self.replay:
            return (now - state.last_tick_at).total_seconds() if state.last_tick_at else None
        try:
            return now.timestamp() - os.stat(self.journal.path).st_mtime
        except FileNotFoundError:
            return None

    def record_control(self, entry: dict[str, Any]) -> None:
        """One JSON line per control request in control.jsonl (the tick journal holds ticks only)."""
        self.var.mkdir(parents=True, exist_ok=True)
        with open(self.var / "control.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"at": self.clock().isoformat(), **entry}) + "\n")
