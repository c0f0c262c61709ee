"""Durable state between cron runs: BotState in state.json (history is in the journal,
``bot.ops.journal``).

state.json stays small (account, positions, counters, running statistics) and is
replaced atomically: the new version is written to a temporary file, fsynced and
renamed over the old one, after the old one was copied to state.json.bak. A crash at
any point leaves either the old or the new file, never half of one. A file that cannot
be read is never overwritten: the tick stops and says how to recover. A file that cannot
be written (disk full, read-only folder) stops the tick the same way, the old file intact.

Schema versions: every state.json carries ``version``. An older file is migrated in
memory on load (``_MIGRATIONS``, one step per version) and written back in the new
version by the next save, the old file kept as the backup; a newer file is refused.

One tick at a time: ``TickLock`` holds an flock on ``tick.lock`` beside state.json. The
kernel drops an flock when its holder dies, even by SIGKILL, so no stale lock survives.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from pydantic import Field, ValidationError

from bot.errors import ConfigError, LockedError, StateError
from bot.exchange_models import ExchangeView, OrderIntent
from bot.models import (
    Decision,
    Fill,
    FundingPayment,
    Outcome,
    Position,
    ReturnStats,
    RiskMemory,
    RiskVerdict,
    Side,
    StrictModel,
)
from bot.ops.budget import LlmLedger
from bot.untrusted import Reasoning

STATE_VERSION = 2
NOTIFIED_KEEP = 500  # dedupe keys of sent notifications kept in state
CLOSED_TRADES_KEPT = 50  # llm.memory_trades is at most 50; older trades are in the journal


class PausedBy(StrEnum):
    USER = "user"  # `bot pause`
    AUTO = "auto"  # too many consecutive failed ticks

    @property
    def who(self) -> str:
        """For messages: "paused by the bot itself", not "paused by auto"."""
        return "the bot itself" if self is PausedBy.AUTO else "user"


class ClosedTrade(StrictModel):
    """A position from its opening to its full close: what the trade memory shows Claude."""

    coin: str
    side: Side
    amount: float
    entry_price: float
    exit_price: float  # the closing fills' volume-weighted price
    opened_at: datetime
    closed_at: datetime
    net_pnl_usd: float  # realized PnL after the entry and exit fees, funding included
    exit_reason: str  # decision | stop_loss | take_profit | liquidation | ...
    reasoning: Reasoning = ""  # the one line Claude (or the rules) gave when opening it: cleaned, capped


class BookedFill(StrictModel):
    """A fill booked into the state that the journal may not hold yet: a kill between the two
    must lose neither the fill nor its count. ``counted``: the risk memory has it."""

    fill: Fill
    counted: bool = False


class BotState(StrictModel):
    version: int = STATE_VERSION
    mode: str = "paper"
    tick: int = 0
    last_tick_at: datetime | None = None  # the tick's clock: wall time live, simulated time in replay
    last_tick_id: str | None = None
    last_outcome: Outcome | None = None
    last_duration_ms: float | None = None
    last_message: str = ""
    consecutive_errors: int = 0
    paused: bool = False  # no new positions; protective exits still run
    pause_reason: str = ""
    paused_at: datetime | None = None
    paused_by: PausedBy | None = None
    stop_requested: bool = False  # `bot serve`'s stop: paused, and every position closes at the next tick
    close_requested: dict[str, str] = Field(
        default_factory=dict
    )  # `bot close COIN`: coin -> the owner's reason; closed at the next tick, dropped once flat
    backoff_until: datetime | None = None  # after a failed tick: runs before this exit at once
    last_skipped_at: datetime | None = None  # last run skipped by the backoff
    last_prices: dict[str, float] = Field(default_factory=dict)  # the last tick's prices, to value positions offline
    max_drawdown_pct: float = 0.0  # largest fall from a peak of equity, %
    notified: list[str] = Field(default_factory=list)  # keys of notifications already sent, newest last
    initial_equity_usd: float
    cash_usd: float
    positions: dict[str, Position] = Field(default_factory=dict)
    last_equity_usd: float
    peak_equity_usd: float
    return_stats: ReturnStats = Field(default_factory=ReturnStats)
    last_decisions: list[Decision] = Field(default_factory=list)
    last_verdicts: list[RiskVerdict] = Field(default_factory=list)  # what the risk step did with them (no plans)
    last_context: str = ""  # the news and sentiment block the last tick's prompt held ("" without [intel])
    fees_paid_usd: float = 0.0
    realized_pnl_usd: float = 0.0  # before fees and funding
    funding_usd: float = 0.0  # net funding received (+) or paid (-)
    funding_payments: list[FundingPayment] = Field(
        default_factory=list
    )  # booked by the last tick (all of them are in the journal)
    risk: RiskMemory = Field(default_factory=RiskMemory)
    closed_trades: list[ClosedTrade] = Field(
        default_factory=list
    )  # the last CLOSED_TRADES_KEPT, oldest first (the trade memory)
    entry_reasons: dict[str, str] = Field(
        default_factory=dict
    )  # coin -> the reasoning given when its open position was opened
    llm: LlmLedger = Field(default_factory=LlmLedger)
    pending_intents: list[OrderIntent] = Field(
        default_factory=list
    )  # live: saved before sending, removed once recorded
    leverage_set: dict[str, float] = Field(default_factory=dict)  # live: symbol -> leverage set on the exchange
    exchange: ExchangeView | None = None  # live: the exchange's account as last reconciled
    booked_fills: list[BookedFill] = Field(default_factory=list)  # since the last journal line (see BookedFill)

    @property
    def last_run_at(self) -> datetime | None:
        """The clock of the last run, ticked or skipped (the replay clock moves on from here)."""
        runs = [time for time in (self.last_tick_at, self.last_skipped_at) if time]
        return max(runs) if runs else None

    @classmethod
    def fresh(cls, *, mode: str, initial_equity_usd: float) -> BotState:
        return cls(
            mode=mode,
            initial_equity_usd=initial_equity_usd,
            cash_usd=initial_equity_usd,
            last_equity_usd=initial_equity_usd,
            peak_equity_usd=initial_equity_usd,
        )


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _v1_to_v2(data: dict) -> dict:
    """v2 records who paused the bot and when; a v1 pause can only have been the user's."""
    if data.get("paused"):
        data.setdefault("paused_by", PausedBy.USER.value)
    return {**data, "version": 2}


# from-version -> function returning the next version's dict
_MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}


class StateStore:
    """state.json with a backup of the previous good version beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup = path.with_name(path.name + ".bak")

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> BotState | None:
        """The saved state, None if there is none yet; StateError if it cannot be trusted."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read ({exc.strerror})") from None
        recover = (
            f"restore the copy from before the last tick with `cp {self.backup} {self.path}` "
            "(that tick then runs again: the journal keeps both records)"
            if self.backup.exists()
            else "move it away to start a fresh account"
        )
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateError(f"{self.path} is corrupt or truncated ({exc}); {recover}") from None
        if not isinstance(data, dict):
            raise StateError(f"{self.path} is not a state file (a JSON object was expected); {recover}")
        version = data.get("version", 1)
        if not isinstance(version, int) or version < 1:
            raise StateError(f"{self.path} has no valid schema version ({version!r}); {recover}")
        if version > STATE_VERSION:
            raise StateError(
                f"{self.path} has schema version {version}, newer than this bot understands ({STATE_VERSION}): "
                f"it was written by a newer bot; upgrade the bot (pip install -U), or {recover}"
            )
        while version < STATE_VERSION:
            data = _MIGRATIONS[version](data)
            version = data["version"]
        try:
            return BotState.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "top level"
            raise StateError(f"{self.path} is invalid at `{where}` ({first['msg']}); {recover}") from None

    def save(self, state: BotState) -> None:
        """Replace state.json atomically, keeping the previous copy; StateError if it cannot be written."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                write_atomic(self.backup, self.path.read_bytes())
            write_atomic(self.path, state.model_dump_json(indent=1).encode())
        except OSError as exc:
            raise StateError(
                f"{self.path}: cannot write the new state ({exc.strerror or exc}); the previous state is intact: "
                f"free disk space or make {self.path.parent} writable, then run again"
            ) from None


class TickLock:
    """An exclusive flock on ``tick.lock``: one process at a time changes a state file.

    The file holds the holder's pid and start time, for the message a second run prints.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, *, wait_seconds: float = 0.0, started_at: datetime | None = None) -> TickLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(
                f"{self.path}: cannot create the lock file ({exc.strerror}); make {self.path.parent} writable"
            ) from None
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise LockedError(
                        f"another bot process is running on {self.path.parent} (holder: {holder}); "
                        "this run did nothing. "
                        "It ends on its own; the lock is released even if that process is killed"
                    ) from None
                time.sleep(0.05)
        stamp = (started_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {stamp}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays for the next run
            self._fd = None

    def __enter__(self) -> TickLock:
        return self if self._fd is not None else self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def check_mode(store: StateStore, mode: str) -> None:
    """A paper account and a live one never share a state file: live reconciliation would
    wipe the paper positions, and the paper broker would invent fills on real positions."""
    state = store.load()
    if state is None or state.tick == 0 or state.mode == mode or "live" not in (state.mode, mode):
        return
    raise ConfigError(
        f"{store.path} holds the {state.mode} account but this tick is {mode}; "
        f"move {store.path.parent} away or set `paths.var_dir` to another folder for the {mode} account"
    )


class AuditLog:
    """One JSON file per tick under var/llm/: the prompt, the raw answer and the decisions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, tick_id: str, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self.folder / f"{tick_id}.json", json.dumps({"tick_id": tick_id, **record}, indent=1).encode())
