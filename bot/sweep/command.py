"""`bot sweep` without its face: spec -> cells -> cost gate -> Dask -> rows -> report.

Without walk-forward, every cell runs over the spec's span and the best one (by
``sweep.metric``) is the selection the deflated Sharpe ratio judges. With walk-forward,
every cell runs on each fold's train window; the fold's best is then run on the test
window after it: the test window is scored by a cell chosen without it.

LLM guard, as `bot backtest`'s: Claude cells not yet in the sweep cache are priced
before anything starts (each decision tick as one uncached call, an upper bound; the
decision cache makes repeated prompts free) and above ``--max-cost`` the sweep stops
there unless ``--yes``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import TICK
from bot.config import Settings
from bot.errors import ConfigError
from bot.sweep.cache import RowCache
from bot.sweep.cell import CellRow, CellTask, cell_key, data_digest, strategy_of
from bot.sweep.cluster import dask_client, require_dask, run_tasks
from bot.sweep.report import CellResult, SweepReport, build_report
from bot.sweep.spec import Fold, Spec, cell_settings, folds_of, load_spec, points


class Options:
    """The command line's choices besides the spec."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        scheduler: str | None = None,
        workers: int | None = None,
        max_cost_usd: float | None = None,
        yes: bool = False,
    ) -> None:
        self.data_dir, self.scheduler, self.workers = data_dir, scheduler, workers
        self.max_cost_usd, self.yes = max_cost_usd, yes


class _Cell:
    """A planned cell: where it sits in the sweep and what it runs."""

    def __init__(self, *, values: dict[str, Any], window: str, fold: int | None, task: CellTask, key: str) -> None:
        self.values, self.window, self.fold, self.task, self.key = values, window, fold, task, key


def sweep_command(
    settings: Settings,
    spec_path: Path,
    options: Options,
    *,
    on_progress: Callable[[int, int, int], None] | None = None,
    notify: Callable[[str], None] = print,
) -> SweepReport:
    """Everything `bot sweep` does before rendering; ``on_progress(done, failed, total)`` per row."""
    require_dask()
    spec = load_spec(spec_path)
    base = cell_settings(settings, spec.settings, where=f"{spec.path}: [settings]")
    folder, start, end = _span(base, spec, options)
    digest = data_digest(folder or _sample())
    folds = folds_of(spec, start=start, end=end)
    grid = [(point, cell_settings(base, point, where=f"{spec.path}: [axes]")) for point in points(spec)]
    windows = [("train", fold.index, fold.train_start, fold.train_end) for fold in folds] or [
        ("span", None, start, end)
    ]

    def plan(
        values: dict[str, Any], cell: Settings, window: str, fold: int | None, first: datetime, last: datetime
    ) -> _Cell:
        task = CellTask(
            settings=cell,
            strategy=strategy_of(cell),
            start=first,
            end=last,
            decide_every=spec.decide_every,
            data_dir=folder,
        )
        return _Cell(values=values, window=window, fold=fold, task=task, key=cell_key(task, data_digest=digest))

    cells = [plan(values, cell, *window) for values, cell in grid for window in windows]
    cache = RowCache(base.var_dir / "cache" / "sweep")
    rows: dict[str, tuple[CellRow, str]] = {}
    for cell in cells:
        if (row := cache.get(cell.key)) is not None:
            rows[cell.key] = (row, "cached")
    _cost_gate(
        base,
        spec,
        options,
        [c for c in cells if c.key not in rows],
        folds=folds,
        grid=grid,
        folder=folder,
        notify=notify,
    )
    total = len({cell.key for cell in cells}) + len(folds)
    progress = _Tally(total, on_progress, cache, rows)
    progress.skip(len(rows))
    workers = options.workers if options.workers is not None else _cores()
    with contextlib.ExitStack() as stack:
        client = None

        def run(batch: dict[str, CellTask]) -> None:
            nonlocal client
            if batch and client is None:  # a fully cached sweep starts no cluster
                client = stack.enter_context(dask_client(scheduler=options.scheduler, workers=workers))
            if batch:
                run_tasks(client, batch, on_row=progress.record)

        run({c.key: c.task for c in cells if c.key not in rows})
        tests = []
        for fold in folds:
            best = _best([c for c in cells if c.fold == fold.index], rows, spec.metric)
            if best is not None:
                tests.append(plan(best.values, best.task.settings, "test", fold.index, fold.test_start, fold.test_end))
            else:
                progress.skip(1)  # no cell of the fold finished: nothing to test
        for cell in tests:
            if (row := cache.get(cell.key)) is not None:
                rows[cell.key] = (row, "cached")
                progress.skip(1)
        run({c.key: c.task for c in tests if c.key not in rows})
    results = [
        CellResult(
            values=c.values,
            window=c.window,
            fold=c.fold,
            start=c.task.start,
            end=c.task.end,
            source=rows[c.key][1],
            row=rows[c.key][0],
        )
        for c in [*cells, *tests]
    ]
    return build_report(spec, results, folds=folds, start=start, end=end)


def _sample() -> Path:
    from bot.venues.history import SAMPLE_DIR

    return SAMPLE_DIR


def _cores() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _span(base: Settings, spec: Spec, options: Options) -> tuple[Path | None, datetime, datetime]:
    """The data folder (None: the bundled sample) and the span, checked against the history here."""
    from bot.backtest.loop import span_of
    from bot.backtest.runner import BacktestRequest, history_for

    folder = base.data_dir(options.data_dir)
    if folder is not None:
        folder = folder.resolve()
        if not folder.is_dir():
            raise ConfigError(
                f"--data-dir {folder}: no such folder; pass a folder laid out like the bundled sample "
                "(bot download writes one)"
            )
    try:
        market = history_for(base, BacktestRequest(data_dir=folder))
        start, end = span_of(market, base.trading.coins, start=spec.start, end=spec.end)
    except ConfigError as exc:
        raise ConfigError(
            f"{spec.path}: "
            + str(exc).replace("--from", "sweep.from").replace("--to", "sweep.to").replace("--coins", "trading.coins")
        ) from None
    except (OSError, EOFError, ValueError) as exc:  # a damaged history file (cut short, not CSV)
        where = folder or "the bundled sample"
        raise ConfigError(
            f"history in {where} is unreadable for {', '.join(base.trading.coins)} ({type(exc).__name__}: {exc}); "
            "download it again (bot download)"
        ) from None
    return folder, start, end


def _best(cells: list[_Cell], rows: dict[str, tuple[CellRow, str]], metric: str) -> _Cell | None:
    """The fold's winner on its train window alone (rows of the train cells only)."""
    from bot.sweep.report import order, rank_score

    done = [c for c in cells if c.key in rows and rank_score(rows[c.key][0], metric) is not None]
    return min(done, key=lambda c: order(rows[c.key][0], metric)) if done else None


def _calls(first: datetime, last: datetime, decide_every: int) -> int:
    return math.ceil((int((last - first) / TICK) + 1) / decide_every)


def _cost_gate(
    base: Settings, spec: Spec, options: Options, uncached: list[_Cell], *, folds: list[Fold], grid, folder, notify
) -> None:
    """Price the uncached cells of paid kinds (Claude; and each fold's test, whoever wins)
    before anything runs."""
    from bot.strategies import KINDS

    claude = [cell for cell in uncached if KINDS[cell.task.strategy].paid]
    claude_points = [cell for _, cell in grid if KINDS[strategy_of(cell)].paid]
    if not claude and not (folds and claude_points):
        return
    for kind in (KINDS[name] for name in sorted({strategy_of(cell) for cell in claude_points})):
        if not kind.key(base):
            raise ConfigError(
                f'strategy.name = "{kind.name}" cells need {kind.key_name(base)} in the environment or in .env '
                "beside config.toml"
            )
    from bot.backtest.runner import per_call_cost
    from bot.venues.history import HistoryMarket

    market = HistoryMarket(folder, candles=base.trading.candles, quote=base.trading.quote)
    price: dict[tuple[str, datetime], float] = {}

    def per_call(settings: Settings, start: datetime) -> float:
        marker = (settings.llm.model, start)
        if marker not in price:
            price[marker] = per_call_cost(settings, market, start=start)
        return price[marker]

    cost = sum(
        per_call(c.task.settings, c.task.start) * _calls(c.task.start, c.task.end, spec.decide_every) for c in claude
    )
    for fold in folds:
        if claude_points:
            cost += max(per_call(s, fold.test_start) for s in claude_points) * _calls(
                fold.test_start, fold.test_end, spec.decide_every
            )
    calls = sum(_calls(c.task.start, c.task.end, spec.decide_every) for c in claude)
    notify(
        f"Claude cells: {len(claude)} not yet in the sweep cache, {calls:,} decisions; "
        f"estimated at up to {cost:.4f} USD (repeated prompts are free)"
    )
    limit = options.max_cost_usd if options.max_cost_usd is not None else base.backtest.max_cost_usd
    if not options.yes and cost > limit:
        raise ConfigError(
            f"the sweep's uncached Claude cells are estimated at up to {cost:.4f} USD, above --max-cost {limit:g} USD; "
            "raise --max-cost, shrink the grid or the span, raise sweep.decide_every, or pass --yes"
        )


class _Tally:
    """Records each arriving row (cache, tally) and reports progress."""

    def __init__(self, total: int, on_progress, cache: RowCache, rows: dict) -> None:
        self.total, self.on_progress, self.cache, self.rows = total, on_progress, cache, rows
        self.done = self.failed = 0

    def skip(self, count: int) -> None:
        self.done += count
        self._show()

    def record(self, row: CellRow) -> None:
        from bot.log import scrub

        if not row.ok:
            row = row.model_copy(update={"error": scrub(row.error or "")})
            self.failed += 1
        self.cache.put(row)
        self.rows[row.key] = (row, "computed" if row.ok else "failed")
        self.done += 1
        self._show()

    def _show(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.done, self.failed, self.total)
