"""The arena: every candidate of `[arena]` trades every tick on its own paper book, and
the active one decides for the account.

A candidate's tick is ``run_tick`` itself, nested inside the account's: the same stages,
the same risk step, the paper broker, its own state.json and journal.jsonl in
var/arena/NAME/ (written atomically like the account's), its own LLM budget (over it,
it holds: said once a day). What the account's tick already fetched is handed down: the
snapshot, the features and the briefing, computed once. The candidates run concurrently
(``asyncio.gather``) while the account's strategy decides; one that fails holds alone.

The account's strategy is ``ActiveStrategy``: the active candidate's strategy (its model,
effort, rules) asked on the account's own prompt, so it sees the account's positions;
its decisions go through the account's risk and execute stages like any strategy's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import structlog
from pydantic import Field

from bot.arena.leaderboard import JournalRow, Spread, Standing, choose, judge, pooled, score, spreads, standing
from bot.backtest.significance import METHOD, THRESHOLD
from bot.config import Settings
from bot.config.arena import Candidate
from bot.config.file import with_overrides
from bot.errors import ConfigError, did_you_mean
from bot.models import CoinFeatures, Fill, Snapshot, StrictModel, TickReport
from bot.ops.arena_state import ArenaRecord, ArenaStore, RotationRecord
from bot.ops.budget import utc_day
from bot.ops.journal import Journal
from bot.ops.notify import Event, EventKind, Level, Notifier
from bot.ops.state import AuditLog, StateStore
from bot.strategies import HoldStrategy, kind_of
from bot.tick.briefing import Briefing
from bot.tick.context import TickContext
from bot.tick.engine import run_tick
from bot.tick.protocols import Auditor, Recorder, Store, Strategy, WrappedStrategy
from bot.venues.paper import paper_broker

log = structlog.get_logger(__name__)


def candidate_settings(base: Settings, candidate: Candidate, *, own_budget: bool = True) -> Settings:
    """The account's settings with the candidate's strategy, [llm] and [rules] keys (and,
    for its book, its own daily LLM budget); a bad key is one line naming the candidate."""
    kind_of(candidate.strategy, option=f"[[arena.candidates]] {candidate.name!r}: strategy")
    overrides = {"strategy.name": candidate.strategy}
    overrides |= {f"llm.{key}": value for key, value in candidate.llm.items()}
    if candidate.provider is not None:
        overrides["llm.provider"] = candidate.provider
    overrides |= {f"rules.{key}": value for key, value in candidate.rules.items()}
    if own_budget:
        overrides["llm.max_usd_per_day"] = candidate.max_usd_per_day
    if candidate.blind is not None:  # read by a backtest only
        overrides["backtest.blind"] = candidate.blind
    return with_overrides(base, overrides, where=f"[[arena.candidates]] {candidate.name!r}:")


@dataclass
class Player:
    """One candidate: its settings, its strategy, its book."""

    name: str
    settings: Settings
    strategy: Strategy
    store: Store
    journal: Recorder
    audit: Auditor | None = None  # var/arena/NAME/llm/: each of its LLM exchanges, like the account's var/llm/
    candidate: str = ""  # the [[arena.candidates]] entry it is a book of (NAME for NAME.2); "" = its name

    def __post_init__(self) -> None:
        self.candidate = self.candidate or self.name


class ReportList:
    """A candidate's journal in a backtest: its reports, in memory."""

    def __init__(self) -> None:
        self.reports: list[TickReport] = []

    def append(self, report: TickReport) -> None:
        self.reports.append(report)

    def last_fills(self) -> list[Fill]:
        return self.reports[-1].fills if self.reports else []


class _Handed:
    """The account's snapshot and briefing, handed to a candidate's pass as its market and intel."""

    def __init__(self, snapshot: Snapshot, briefing: Briefing | None) -> None:
        self._snapshot, self._briefing = snapshot, briefing

    async def snapshot(self, coins: list[str], now: datetime) -> Snapshot:
        return self._snapshot

    async def briefing(self, coins: list[str], now: datetime) -> Briefing:
        assert self._briefing is not None
        return self._briefing


class Leaderboard(StrictModel):
    """`bot arena` and `--json`: the standings, best score first, and who runs the account."""

    as_of: datetime | None
    window_start: datetime | None  # None: since each book's first tick
    metric: str
    active: str
    since: datetime | None
    pinned: bool
    rotation_enabled: bool
    standings: list[Standing]
    rotations: list[RotationRecord]
    bootstrap: str = METHOD  # how the intervals were computed
    verdict_probability: float = THRESHOLD  # "ahead" / "behind" at this PSR (rotation.min_probability, or 0.95)
    spreads: list[Spread] = Field(default_factory=list)  # candidates with `instances` > 1


@dataclass
class Arena:
    settings: Settings
    players: list[Player]
    record: ArenaRecord
    save_record: Callable[[ArenaRecord], None]
    make_strategy: Callable[..., Strategy]  # a candidate's strategy from its settings (and `instance=K` for book K > 1)
    notifier: Notifier | None = None
    _account: tuple[str, Strategy] | None = field(default=None, repr=False)

    @property
    def active(self) -> str:
        return self.record.active

    def account_strategy(self) -> Strategy:
        """The active candidate's strategy for the account: its keys, the account's budget."""
        if self._account is None or self._account[0] != self.active:
            candidate = self.settings.arena.candidate(self.active)
            assert candidate is not None  # open_arena checked the record against the candidates
            self._account = (
                self.active,
                self.make_strategy(candidate_settings(self.settings, candidate, own_budget=False)),
            )
        return self._account[1]

    async def play(
        self,
        *,
        snapshot: Snapshot,
        features: dict[str, CoinFeatures],
        briefing: Briefing | None,
        mode: str,
        now: datetime,
        clock: Callable[[], float],
    ) -> dict[str, str]:
        """Every candidate's pass on the account's tick (its snapshot, features and briefing
        handed down); returns candidate -> why it failed (it held)."""
        handed = _Handed(snapshot, briefing)
        mode = "paper" if mode == "live" else mode

        async def one(player: Player) -> TickReport:
            structlog.contextvars.bind_contextvars(candidate=player.name)  # this task's context only
            ctx = TickContext(
                settings=player.settings,
                mode=mode,
                dry_run=True,
                market=handed,
                strategy=player.strategy,
                broker=paper_broker(player.settings),  # the account's venue: the same fees on every book
                store=player.store,
                journal=player.journal,
                fallback=HoldStrategy(),
                features=lambda _snapshot: features,
                intel=handed if briefing is not None else None,
                clock=clock,
                audit=player.audit,
            )
            return await run_tick(ctx, now)

        results = await asyncio.gather(*(one(player) for player in self.players), return_exceptions=True)
        failed = {}
        for player, result in zip(self.players, results, strict=True):
            if isinstance(result, BaseException):
                log.error("arena_candidate_failed", candidate=player.name, error=f"{type(result).__name__}: {result}")
                failed[player.name] = f"{type(result).__name__}: {result} (it held this tick)"
        return failed

    def rotate(self, now: datetime) -> str:
        """The rotation rule, once a day at `rotation.time`; the note for the account's report."""
        rotation, record = self.settings.arena.rotation, self.record
        day = utc_day(now)
        if not rotation.enabled or record.pinned or record.last_rotation_day == day or now.time() < rotation.time:
            return ""
        board = self.leaderboard(now)
        in_order = sorted(board.standings, key=lambda entry: self._order(entry.name))
        scores, chances = pooled(in_order, incumbent=record.active)  # per candidate: its books pooled
        incumbent = record.active
        chosen, reason = choose(
            incumbent,
            scores,
            margin=rotation.margin,
            probabilities=chances,
            min_probability=rotation.min_probability,
        )
        record.last_rotation_day = day
        record.rotations.append(
            RotationRecord(
                at=now, incumbent=incumbent, chosen=chosen, scores=scores, reason=reason, probabilities=chances
            )
        )
        if chosen != incumbent:
            record.active, record.since = chosen, now
        self.save_record(record)  # saved before notifying: a rerun of the day never scores (or notifies) twice
        shown = ", ".join(f"{name} {'-' if value is None else f'{value:.4g}'}" for name, value in scores.items())
        log.info("arena_rotation", incumbent=incumbent, chosen=chosen, scores=scores, reason=reason)
        if chosen != incumbent and self.notifier is not None:
            body = f"{reason}. Scores ({rotation.metric}, {rotation.window_days:g} days): {shown}"
            self.notifier.send(
                [
                    Event(
                        key=f"arena:{day}",
                        kind=EventKind.ARENA_ROTATION,
                        level=Level.WARNING,
                        title=f"arena: {chosen} now runs the account",
                        body=body,
                    )
                ]
            )
        return f"arena rotation ({rotation.metric} over {rotation.window_days:g} days: {shown}): {reason}"

    def leaderboard(self, now: datetime | None, *, window_days: float | None = None) -> Leaderboard:
        """Every candidate over the rotation window ending at ``now`` (``window_days`` 0: all history)."""
        rotation = self.settings.arena.rotation
        days = rotation.window_days if window_days is None else window_days
        start = now - timedelta(days=days) if now is not None and days > 0 else None
        standings = []
        for player in self.players:
            reports, opening = history(player, start)
            entry = standing(
                player.name, self._kind(player.candidate), reports, opening_usd=opening, book=player.store.load()
            )
            entry.candidate = player.candidate
            entry.score = score(entry, metric=rotation.metric, min_ticks=rotation.min_ticks)
            standings.append(entry)
        threshold = rotation.min_probability or THRESHOLD
        judge(standings, incumbent=self.active, threshold=threshold)
        standings.sort(key=lambda entry: (entry.score is None, -(entry.score or 0.0), self._order(entry.name)))
        return Leaderboard(
            as_of=now,
            window_start=start,
            metric=rotation.metric,
            active=self.active,
            since=self.record.since,
            pinned=self.record.pinned,
            rotation_enabled=rotation.enabled,
            standings=standings,
            rotations=self.record.rotations,
            verdict_probability=threshold,
            spreads=spreads(sorted(standings, key=lambda entry: self._order(entry.name))),
        )

    def _kind(self, name: str) -> str:
        candidate = self.settings.arena.candidate(name)
        return candidate.strategy if candidate else "?"

    def _order(self, name: str) -> int:
        return [player.name for player in self.players].index(name)


class ActiveStrategy(WrappedStrategy):
    """The account's `Strategy`: whichever candidate is active when the tick decides (its
    strategy is the inner one, named after the candidate; its trace is forwarded)."""

    def __init__(self, arena: Arena) -> None:  # no fixed inner strategy: see `inner`
        self.arena = arena

    @property
    def inner(self) -> Strategy:
        return self.arena.account_strategy()

    @property
    def name(self) -> str:
        return self.arena.active


def history(player: Player, start: datetime | None) -> tuple[list[TickReport] | list[JournalRow], float]:
    """A candidate's reports since ``start`` (oldest first) and its equity before the first."""
    book = player.store.load()
    initial = book.initial_equity_usd if book else player.settings.paper.initial_balance_usd
    if isinstance(player.journal, ReportList):
        everything = player.journal.reports
        reports = [report for report in everything if start is None or report.as_of >= start]
        before = everything[len(everything) - len(reports) - 1] if len(reports) < len(everything) else None
        return reports, before.account.equity_usd if before is not None and before.account else initial
    rows, opening = [], initial
    # type: ignore[attr-defined]  (a Journal)
    for row in player.journal.newest_first(decode=JournalRow.model_validate_json):
        if start is not None and row.as_of < start:
            opening = row.account.equity_usd if row.account else initial
            break
        rows.append(row)
    return rows[::-1], opening


def check_name(settings: Settings, name: str) -> str:
    names = [candidate.name for candidate in settings.arena.candidates]
    if name not in names:
        raise ConfigError(
            f"no arena candidate named {name!r}{did_you_mean(name, names)} "
            f"(candidates: {', '.join(names) or 'none: add [[arena.candidates]]'})"
        )
    return name


def open_arena(
    settings: Settings, folder: Path, *, make_strategy: Callable[..., Strategy], notifier: Notifier | None = None
) -> Arena:
    """The arena on var/arena/: arena.json and one state.json + journal.jsonl per candidate."""
    players = []
    for candidate in settings.arena.candidates:
        own = candidate_settings(settings, candidate)
        for k, name in enumerate(candidate.books, start=1):
            books = folder / name
            players.append(
                Player(
                    name,
                    own,
                    _instance(make_strategy, own, k),
                    StateStore(books / "state.json"),
                    Journal(books / "journal.jsonl"),
                    AuditLog(books / "llm"),
                    candidate=candidate.name,
                )
            )
    store = ArenaStore(folder / "arena.json")
    record = store.load() or ArenaRecord(active=settings.arena.initial)
    if settings.arena.candidate(record.active) is None:  # the config dropped it: start again from `arena.active`
        record = ArenaRecord(active=settings.arena.initial, rotations=record.rotations)
    return Arena(
        settings=settings,
        players=players,
        record=record,
        save_record=store.save,
        make_strategy=make_strategy,
        notifier=notifier,
    )


def memory_arena(settings: Settings, *, make_strategy: Callable[..., Strategy]) -> Arena:
    """The arena of a backtest: books and journals in memory, the same rotation."""
    from bot.backtest.loop import _MemoryStore

    players = []
    for candidate in settings.arena.candidates:
        own = candidate_settings(settings, candidate)
        for k, name in enumerate(candidate.books, start=1):
            strategy = _instance(make_strategy, own, k)
            players.append(Player(name, own, strategy, _MemoryStore(), ReportList(), candidate=candidate.name))
    return Arena(
        settings=settings,
        players=players,
        record=ArenaRecord(active=settings.arena.initial),
        save_record=lambda _record: None,
        make_strategy=make_strategy,
    )


def _instance(make_strategy: Callable[..., Strategy], own: Settings, k: int) -> Strategy:
    """Book ``k`` of a candidate's ``instances``: its own strategy object (its own calls; in a
    backtest, its own decision-cache identity, so instances do not replay one another's answers)."""
    return make_strategy(own) if k == 1 else make_strategy(own, instance=k)
