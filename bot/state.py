"""Durable state between cron runs: BotState in state.json, history in journal.jsonl.

state.json stays small (account, positions, counters, running statistics) and is
replaced atomically: the new version is written to a temporary file, fsynced and
renamed over the old one, after the old one was copied to state.json.bak. A crash at
any point leaves either the old or the new file, never half of one. A file that cannot
be read is never overwritten: the tick stops and says how to recover.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from pydantic import Field, ValidationError

from bot.errors import ConfigError, StateError
from bot.models import Decision, ExchangeView, OrderIntent, Outcome, Position, ReturnStats, StrictModel, TickReport

STATE_VERSION = 1


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
    paused: bool = False
    pause_reason: str = ""
    initial_equity_usd: float
    cash_usd: float
    positions: dict[str, Position] = Field(default_factory=dict)
    last_equity_usd: float
    peak_equity_usd: float
    return_stats: ReturnStats = Field(default_factory=ReturnStats)
    last_decisions: list[Decision] = Field(default_factory=list)
    fees_paid_usd: float = 0.0
    realized_pnl_usd: float = 0.0
    pending_intents: list[OrderIntent] = Field(default_factory=list)  # live: saved before sending, removed once recorded
    leverage_set: dict[str, float] = Field(default_factory=dict)  # live: symbol -> leverage set on the exchange
    exchange: ExchangeView | None = None  # live: the exchange's account as last reconciled

    @classmethod
    def fresh(cls, *, mode: str, initial_equity_usd: float) -> BotState:
        return cls(
            mode=mode,
            initial_equity_usd=initial_equity_usd,
            cash_usd=initial_equity_usd,
            last_equity_usd=initial_equity_usd,
            peak_equity_usd=initial_equity_usd,
        )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


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
        recover = f"restore the previous good copy with `cp {self.backup} {self.path}`" if self.backup.exists() else "move it away to start a fresh account"
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateError(f"{self.path} is corrupt or truncated ({exc.msg} at byte {exc.pos}); {recover}") from None
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, int) and version > STATE_VERSION:
            raise StateError(
                f"{self.path} has schema version {version}, newer than this bot understands ({STATE_VERSION}); upgrade the bot"
            )
        try:
            return BotState.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(map(str, first["loc"])) or "top level"
            raise StateError(f"{self.path} is invalid at `{where}` ({first['msg']}); {recover}") from None

    def save(self, state: BotState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _write_atomic(self.backup, self.path.read_bytes())
        _write_atomic(self.path, state.model_dump_json(indent=1).encode())


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


class Journal:
    """Append-only JSON lines, one TickReport per tick."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, report: TickReport) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(report.model_dump_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def tail(self, count: int) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-count:]
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-append: skip it, keep the rest
        return records
