"""The sweep's report: the ranked cells, each fold's winner in and out of sample, the
deflated Sharpe ratio of each selection; then renderings (rich, JSON, a folder with
cells.csv, report.json and a heatmap PNG of two axes).

The grid is data first (``SweepReport``), the plotting a separate step. The heatmap
shows, for each pair of values of its two axes, the best metric over the other axes
(and folds), as backtesting.py's ``plot_heatmaps`` does by default.

A cell that made no trade stayed flat: a return of 0 and no Sharpe, Sortino or Calmar of
its own. It is ranked where a flat line sits, at 0 (below every cell that gained, above
every cell that lost; after a cell that traded to exactly 0) and shown as "no trades",
never as a Sharpe of 0. A walk-forward fold whose best is such a cell picks it (staying
flat beat every cell that traded) and says so; its test window runs the same settings.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bot.backtest.report import rejections_line
from bot.models import StrictModel
from bot.sweep.cell import CellRow
from bot.sweep.spec import METRICS, Fold, Spec
from bot.sweep.stats import REFERENCE, THRESHOLD, deflated_sharpe


class CellResult(StrictModel):
    values: dict[str, Any]  # the cell's axis values
    window: Literal["span", "train", "test"]
    fold: int | None
    start: datetime
    end: datetime
    source: Literal["computed", "cached", "failed"]
    row: CellRow
    rank: int | None = None  # by the metric, within its selection (the span, or its fold's train window)


class FoldResult(StrictModel):
    fold: int
    train_start: datetime
    train_end: datetime
    test_start: datetime
    test_end: datetime
    winner: dict[str, Any] | None
    in_sample: float | None  # the metric of the winner on its train window
    out_of_sample: float | None  # the same cell's metric on the test window
    in_sample_return_pct: float | None
    out_of_sample_return_pct: float | None
    winner_traded: bool | None = None  # False: the winner made no trade on its train window
    selection: str | None = None  # what the pick did with the cells that made no trade (None: there were none)


class Selection(StrictModel):
    """Is the best cell of a selection luck? Its deflated Sharpe ratio."""

    name: str  # "span" or "fold N"
    statistic: str = "deflated Sharpe ratio"
    reference: str = REFERENCE
    trials: int
    best_sharpe_per_tick: float | None
    deflated_sharpe: float | None
    threshold: float = THRESHOLD
    warning: str | None


class SweepReport(StrictModel):
    """Everything `bot sweep` prints; `--json` is this model."""

    spec: str
    metric: str
    start: datetime
    end: datetime
    axes: list[str]
    heatmap_axes: list[str]
    computed: int
    cached: int
    failed: int
    llm_cost_usd: float
    cells: list[CellResult]  # ranked within each selection; failed cells last
    folds: list[FoldResult] = Field(default_factory=list)
    selections: list[Selection] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def score(row: CellRow, metric: str) -> float | None:
    value = getattr(row, METRICS[metric]) if row.ok else None
    return value if value is not None and math.isfinite(value) else None


def flat(row: CellRow) -> bool:
    """The cell finished without a trade."""
    return row.ok and row.trades == 0


def rank_score(row: CellRow, metric: str) -> float | None:
    """What a cell is ranked by: its metric, 0 for a cell that made no trade (see the module's docstring)."""
    return 0.0 if flat(row) else score(row, metric)


def order(row: CellRow, metric: str) -> tuple[bool, float, bool]:
    """Sort key: the best score first, a flat cell at 0 after a traded one at 0, cells without a
    score (failed, or too short for the metric) last; ties keep spec order."""
    value = rank_score(row, metric)
    return (value is None, -(value or 0.0), flat(row))


def build_report(
    spec: Spec, results: list[CellResult], *, folds: list[Fold], start: datetime, end: datetime
) -> SweepReport:
    selections, ranked = [], []
    groups = [("span", None)] if not folds else [(f"fold {fold.index}", fold.index) for fold in folds]
    for name, fold in groups:
        members = [r for r in results if r.window in ("span", "train") and r.fold == fold]
        ordered = sorted(members, key=lambda r: order(r.row, spec.metric))
        ranked += [r.model_copy(update={"rank": index + 1 if r.row.ok else None}) for index, r in enumerate(ordered)]
        selections.append(_selection(name, ordered))
    ranked += [r for r in results if r.window == "test"]
    fold_rows = [_fold(fold, ranked, spec.metric) for fold in folds]
    warnings = [s.warning for s in selections if s.warning]
    unique = {r.row.key: r for r in results}.values()
    return SweepReport(
        spec=str(spec.path),
        metric=spec.metric,
        start=start,
        end=end,
        axes=list(spec.axes),
        heatmap_axes=spec.heatmap,
        computed=sum(r.source == "computed" for r in unique),
        cached=sum(r.source == "cached" for r in unique),
        failed=sum(r.source == "failed" for r in unique),
        llm_cost_usd=sum(r.row.llm_cost_usd or 0.0 for r in unique if r.source == "computed"),
        cells=ranked,
        folds=fold_rows,
        selections=selections,
        warnings=warnings,
    )


def _selection(name: str, ordered: list[CellResult]) -> Selection:
    done = [r.row for r in ordered if r.row.ok]
    if not done:
        return Selection(
            name=name, trials=0, best_sharpe_per_tick=None, deflated_sharpe=None, warning=f"{name}: no cell finished"
        )
    best = done[0]
    trials = [row.sharpe_per_tick or 0.0 for row in done]  # a trial all the same: a flat cell counts at 0
    dsr = None
    if best.sharpe_per_tick is not None and best.skewness is not None and best.kurtosis is not None:
        dsr = deflated_sharpe(
            best.sharpe_per_tick,
            trial_sharpes=trials,
            observations=best.returns,
            skewness=best.skewness,
            kurtosis=best.kurtosis,
        )
    if flat(best):
        warning = f"{name}: the best cell made no trade (staying flat beat every cell that traded): no luck to judge"
    elif dsr is None:
        warning = f"{name}: the best cell has no Sharpe ratio (no returns to judge); nothing can be said about luck"
    elif dsr < THRESHOLD:
        warning = (
            f"OVERFITTING: {name}: the best of {len(done)} cells has a deflated Sharpe ratio of {dsr:.3f} (< "
            f"{THRESHOLD}): "
            "its Sharpe is what luck alone gives the best of that many tries; do not trust it (Bailey & López de "
            "Prado 2014)"
        )
    else:
        warning = None
    return Selection(
        name=name, trials=len(done), best_sharpe_per_tick=best.sharpe_per_tick, deflated_sharpe=dsr, warning=warning
    )


def _fold(fold: Fold, results: list[CellResult], metric: str) -> FoldResult:
    train = next(
        (
            r
            for r in results
            if r.fold == fold.index and r.window == "train" and r.rank == 1 and rank_score(r.row, metric) is not None
        ),
        None,
    )
    test = next((r for r in results if r.fold == fold.index and r.window == "test"), None)
    train_rows = [r.row for r in results if r.fold == fold.index and r.window == "train" and r.row.ok]
    return FoldResult(
        fold=fold.index,
        train_start=fold.train_start,
        train_end=fold.train_end,
        test_start=fold.test_start,
        test_end=fold.test_end,
        winner=train.values if train else None,
        in_sample=score(train.row, metric) if train else None,
        out_of_sample=score(test.row, metric) if test else None,
        in_sample_return_pct=train.row.total_return_pct if train else None,
        out_of_sample_return_pct=test.row.total_return_pct if test else None,
        winner_traded=not flat(train.row) if train else None,
        selection=_flat_note(train_rows, train.row if train else None, metric),
    )


def _flat_note(rows: list[CellRow], winner: CellRow | None, metric: str) -> str | None:
    """What a fold's pick did with its cells that made no trade, in a line."""
    flats = sum(map(flat, rows))
    traded = [value for row in rows if not flat(row) and (value := score(row, metric)) is not None]
    if not flats or winner is None:
        return None
    if not traded:
        return f"no cell traded on the train window ({flats} flat): the winner is the first in spec order"
    if flat(winner):
        return (
            f"the winner made no trade: staying flat beat the {len(traded)} cells that traded (best {metric} "
            f"{max(traded):.2f}); {flats} cells were flat"
        )
    return f"{flats} of {len(rows)} cells made no trade: ranked as flat (0), below the winner"


# ----- renderings --------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:{spec}}"


def _value(value: Any) -> str:
    return (
        ",".join(map(str, value))
        if isinstance(value, list)
        else f"{value:.4g}"
        if isinstance(value, float)
        else str(value)
    )


def print_report(report: SweepReport, *, console=None, top: int = 30) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(highlight=False)
    console.print(
        f"sweep {report.spec} · {report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} UTC · ranked by "
        f"{report.metric} · "
        f"{report.computed} computed, {report.cached} cached, {report.failed} failed"
    )
    table = Table(
        "#",
        *(["fold"] if report.folds else []),
        *report.axes,
        "return",
        "Sharpe",
        "Sortino",
        "max DD",
        "trades",
        "fees",
        "exposure",
        "risk rejections",
        title="cells",
    )
    shown = [c for c in report.cells if c.window != "test"]
    for cell in shown[:top] if len(shown) > top else shown:
        r = cell.row
        metrics = (
            [
                _fmt(r.total_return_pct, "+.2f") + " %",
                "no trades" if flat(r) else _fmt(r.sharpe),
                _fmt(r.sortino),
                _fmt(r.max_drawdown_pct) + " %",
                str(r.trades),
                _fmt(r.fees_usd, ",.2f"),
                _fmt(r.exposure_pct, ".1f") + " %",
                rejections_line(r.rejections),
            ]
            if r.ok
            else [f"[red]failed: {r.error}[/]", "", "", "", "", "", "", ""]
        )
        table.add_row(
            str(cell.rank or "-"),
            *([str(cell.fold)] if report.folds else []),
            *(_value(cell.values.get(axis)) for axis in report.axes),
            *metrics,
        )
    from bot.backtest.tables import fit

    if dropped := fit(
        table, console.width, drop=("risk rejections", "exposure", "fees", "Sortino", "trades", "max DD")
    ):
        table.caption = f"not shown at {console.width} columns: {', '.join(dropped)} (cells.csv and --json have them)"
    console.print(table)
    if len(shown) > top:
        console.print(f"({len(shown) - top} more cells in --json and cells.csv)")
    if report.folds:
        folds = Table(
            "fold",
            "train",
            "test",
            "winner",
            f"in-sample {report.metric}",
            f"out-of-sample {report.metric}",
            "IS return",
            "OOS return",
            title="walk-forward",
        )
        for f in report.folds:
            folds.add_row(
                str(f.fold),
                f"{f.train_start:%m-%d %H:%M} → {f.train_end:%m-%d %H:%M}",
                f"{f.test_start:%m-%d %H:%M} → {f.test_end:%m-%d %H:%M}",
                " ".join(f"{k}={_value(v)}" for k, v in (f.winner or {}).items()) or "-",
                "no trades" if f.winner_traded is False else _fmt(f.in_sample),
                _fmt(f.out_of_sample),
                _fmt(f.in_sample_return_pct, "+.2f") + " %",
                _fmt(f.out_of_sample_return_pct, "+.2f") + " %",
            )
        fit(folds, console.width, drop=("IS return", "train", "test"))
        console.print(folds)
        for f in report.folds:
            if f.selection:
                console.print(f"fold {f.fold}: {f.selection}")
    for s in report.selections:
        dsr = _fmt(s.deflated_sharpe, ".3f")
        console.print(
            f"{s.name}: deflated Sharpe ratio of the best of {s.trials} cells: {dsr} (luck below {s.threshold}; "
            f"{s.reference})"
        )
    for warning in report.warnings:
        console.print(f"[bold red]WARNING:[/] {warning}")


def write_folder(folder: Path, report: SweepReport) -> list[Path]:
    """cells.csv, report.json and (with two axes) heatmap.png in ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    cells_path, json_path = folder / "cells.csv", folder / "report.json"
    fields = ["rank", "window", "fold", "start", "end", *report.axes, "source", *CellRow.model_fields]
    with open(cells_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for cell in report.cells:
            row = cell.row.model_dump(mode="json")
            row.update({key: json.dumps(value) for key, value in row.items() if isinstance(value, dict)})
            values = {axis: json.dumps(cell.values.get(axis)) for axis in report.axes}
            writer.writerow(
                {
                    "rank": cell.rank,
                    "window": cell.window,
                    "fold": cell.fold,
                    "start": cell.start.isoformat(),
                    "end": cell.end.isoformat(),
                    **values,
                    "source": cell.source,
                    **row,
                }
            )
    json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    written = [cells_path, json_path]
    if report.heatmap_axes and heatmap_grid(report)[2]:
        written.append(_heatmap(folder / "heatmap.png", report))
    return written


def heatmap_grid(report: SweepReport) -> tuple[list[Any], list[Any], dict[tuple[str, str], float]]:
    """The two axes' values (in order of first appearance) and the best metric per pair."""
    x_axis, y_axis = report.heatmap_axes
    xs, ys, best = [], [], {}
    for cell in report.cells:
        if cell.window == "test":
            continue
        x, y = cell.values.get(x_axis), cell.values.get(y_axis)
        xs += [x] if x not in xs else []
        ys += [y] if y not in ys else []
        value = score(cell.row, report.metric)
        pair = (json.dumps(x), json.dumps(y))
        if value is not None and (pair not in best or value > best[pair]):
            best[pair] = value
    return _sorted(xs), _sorted(ys), best


def _sorted(values: list[Any]) -> list[Any]:
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return sorted(values) if numeric else values


def _heatmap(path: Path, report: SweepReport) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt
    import numpy as np

    xs, ys, best = heatmap_grid(report)
    grid = np.array([[best.get((json.dumps(x), json.dumps(y)), np.nan) for x in xs] for y in ys])
    figure, axes = plt.subplots(figsize=(1.2 * len(xs) + 3, 0.8 * len(ys) + 2.5))
    image = axes.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
    axes.set_xticks(range(len(xs)), [_value(x) for x in xs])
    axes.set_yticks(range(len(ys)), [_value(y) for y in ys])
    axes.set_xlabel(report.heatmap_axes[0])
    axes.set_ylabel(report.heatmap_axes[1])
    low, high = np.nanmin(grid), np.nanmax(grid)
    for (row, column), value in np.ndenumerate(grid):
        if math.isfinite(value):
            bright = high > low and (value - low) / (high - low) > 0.6  # viridis turns yellow: dark text there
            axes.text(
                column, row, f"{value:.2f}", ha="center", va="center", color="black" if bright else "white", fontsize=9
            )
    figure.colorbar(image, ax=axes, label=f"best {report.metric}")
    axes.set_title(f"sweep {Path(report.spec).stem}: {report.metric}, best over the other axes")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
