"""One cell of a sweep: a pure function of (settings, span, data) -> a result row.

``run_cell`` is `bot backtest` without its face: the same ``backtest_command`` (overrides,
span check, strategy, decision cache for Claude, the engine) and the same
``build_report``; the row keeps the report's headline numbers plus what the deflated
Sharpe ratio needs (the per-tick Sharpe, skewness, kurtosis, number of returns). It
never raises: a failure is a row with its error, so one bad cell never stops a sweep.

The key is a SHA-256 of everything that can change the row: the cell's settings (paths,
logging, notifications and secrets left out), strategy, span, decide_every, the data's
content and the engine's source. A re-run with the same key is answered from the cache.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from bot.backtest.significance import moments as _moments
from bot.config import Settings
from bot.models import StrictModel
from bot.strategies.kinds import AUTO, BASELINE, kind_of

_NOT_HASHED = {"paths", "log", "notify", "anthropic_api_key", "exchange_api_key", "exchange_secret", "base_dir"}
_DATA_FOLDERS = ("3m", "4h", "funding_8h", "intel")  # intel: the archive a backtest with [intel] reads


class CellTask(StrictModel):
    """What a worker needs to run one cell (settings travel pickled, secrets included)."""

    settings: Settings
    strategy: str  # a kind of bot.strategies.KINDS
    start: datetime
    end: datetime
    decide_every: int = 1
    data_dir: Path | None = None  # None: the bundled sample, wherever the worker has it installed


class CellRow(StrictModel):
    """A cell's result: the numbers of its `bot backtest` report, or its error."""

    key: str
    ok: bool
    error: str | None = None
    total_return_pct: float | None = None
    sharpe: float | None = None
    sortino: float | None = None
    calmar: float | None = None
    max_drawdown_pct: float | None = None
    trades: int | None = None
    win_rate_pct: float | None = None
    fees_usd: float | None = None
    funding_received_usd: float | None = None  # received (+) or paid (-), as in the backtest report
    exposure_pct: float | None = None
    llm_cost_usd: float | None = None
    final_equity_usd: float | None = None
    ticks: int | None = None
    outcomes: dict[str, int] = Field(default_factory=dict)
    rejections: dict[str, int] = Field(default_factory=dict)  # the risk step's refusals by code, as the backtest's
    # for the deflated Sharpe ratio: per-tick (not annualised) Sharpe and the moments of the tick returns
    sharpe_per_tick: float | None = None
    skewness: float | None = None
    kurtosis: float | None = None  # not excess: 3 for normal returns
    returns: int = 0
    cache: dict[str, int] = Field(default_factory=dict)  # decision cache hits / misses (Claude)
    seconds: float = 0.0  # the cell's own wall time in its worker (not part of the result: it varies run to run)


def strategy_of(settings: Settings) -> str:
    """The kind a cell runs: its `strategy.name` (checked here, before any cell runs);
    "auto" runs the baseline, as `bot backtest` does: a backtest never picks a paid kind
    by itself."""
    name = settings.strategy.name
    kind_of(name, auto=True)
    return BASELINE if name == AUTO else name


def cell_key(task: CellTask, *, data_digest: str) -> str:
    settings = task.settings.model_dump(mode="json", exclude=_NOT_HASHED)
    what = {
        "settings": settings,
        "strategy": task.strategy,
        "start": task.start.isoformat(),
        "end": task.end.isoformat(),
        "decide_every": task.decide_every,
        "data": data_digest,
        "engine": engine_digest(),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:32]


@lru_cache(maxsize=1)
def engine_digest() -> str:
    """The source of everything a backtest runs (the CLI's rendering excluded): a changed engine misses the cache."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        if "cli" not in path.relative_to(package).parts[:1]:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def data_digest(folder: Path) -> str:
    """The content of the history a backtest reads (3m, 4h, funding, the intel archive), by name and bytes."""
    digest = hashlib.sha256()
    for sub in _DATA_FOLDERS:
        for path in sorted(p for p in (folder / sub).rglob("*") if p.is_file()) if (folder / sub).is_dir() else ():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def run_cell(task: CellTask, key: str) -> CellRow:
    """The cell's backtest through `bot backtest`'s own code; any failure becomes the row's error."""
    import gc

    gc.enable()  # a worker forked from a command with the collector off runs thousands of ticks
    import time

    _quiet_worker(task.settings)
    started = time.perf_counter()
    try:
        row = _run(task, key)
    except Exception as exc:  # recorded, never raised: the sweep goes on
        row = CellRow(key=key, ok=False, error=f"{type(exc).__name__}: {exc}" if not _is_user_error(exc) else str(exc))
    return row.model_copy(update={"seconds": time.perf_counter() - started})


def _quiet_worker(settings: Settings) -> None:
    """In a worker process, the engine's per-tick log lines would flood the worker's console: errors only."""
    import multiprocessing

    import structlog

    if multiprocessing.parent_process() is not None and not structlog.is_configured():
        from bot.log import configure_logging

        configure_logging(log_file=None, level="ERROR", console_level="ERROR", secrets=settings.secrets())


def _is_user_error(exc: Exception) -> bool:
    from bot.errors import BotError

    return isinstance(exc, BotError)


def _run(task: CellTask, key: str) -> CellRow:
    import numpy as np

    from bot.backtest.report import build_report, tick_returns
    from bot.backtest.runner import BacktestRequest, backtest_command

    request = BacktestRequest(
        start=task.start,
        end=task.end,
        strategy=task.strategy,
        decide_every=task.decide_every,
        data_dir=task.data_dir,
        yes=True,
    )
    result = backtest_command(task.settings, request, progress=False, notify=lambda _line: None)
    report = build_report(result)
    curve = np.concatenate(
        [[result.initial_usd], result.equity_usd]
    )  # as the report's curve: from the cash before tick 1
    returns = tick_returns(curve)
    moments = _moments(returns)
    s, t = report.strategy_metrics, report.trade_metrics
    return CellRow(
        key=key,
        ok=True,
        total_return_pct=s.total_return_pct,
        sharpe=s.sharpe,
        sortino=s.sortino,
        calmar=s.calmar,
        max_drawdown_pct=s.max_drawdown_pct,
        trades=t.trades,
        win_rate_pct=t.win_rate_pct,
        fees_usd=report.fees_usd,
        funding_received_usd=report.funding_received_usd,
        exposure_pct=report.exposure_pct,
        llm_cost_usd=report.llm_cost_usd,
        final_equity_usd=s.final_equity_usd,
        ticks=report.ticks,
        outcomes=report.outcomes,
        rejections=report.rejections,
        cache=report.cache,
        returns=len(returns),
        **moments,
    )
