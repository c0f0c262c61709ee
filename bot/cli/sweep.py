"""`bot sweep`: many backtests on Dask (grid, seeded random samples, walk-forward), ranked."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.base import ConfigOption, app, load, write_report
from bot.errors import ExitCode


@app.command()
def sweep(
    spec: Annotated[
        Path,
        typer.Argument(
            help=(
                "the sweep's SPEC.toml: the span, the settings of every cell, the axes, optional walk-forward folds "
                "(README: Sweep)"
            )
        ),
    ],
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="history folder laid out like the bundled sample; workers must see the same path"
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="an existing Dask scheduler, e.g. tcp://host:8786 (default: a local cluster)"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=0, help="worker processes of the local cluster (default: one per core; 0: in this process)"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="write cells.csv, report.json and heatmap.png here (default: var/sweeps/<spec name>)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON instead of tables")] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help=(
                "stop before starting if the uncached Claude cells are estimated above this, USD (default: "
                "backtest.max_cost_usd)"
            ),
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="run the Claude cells whatever their estimated cost")] = False,
    config: ConfigOption = None,
) -> None:
    """Sweep settings over backtests on Dask: a ranked table, a heatmap, walk-forward, an overfitting check."""
    settings = load(config)
    from bot.log import configure_logging
    from bot.sweep.command import Options, sweep_command
    from bot.sweep.report import print_report, write_folder

    gc.enable()  # many backtests in one process (see `bot backtest`)
    configure_logging(
        log_file=settings.var_dir / "logs" / "sweep.log",
        level="WARNING",
        console_level="ERROR",
        secrets=settings.secrets(),
    )
    options = Options(data_dir=data_dir, scheduler=scheduler, workers=workers, max_cost_usd=max_cost, yes=yes)
    from bot.backtest.runner import ProgressBar

    bar = ProgressBar("sweep", "cells · {task.fields[failed]} failed", enabled=sys.stderr.isatty(), failed=0)
    with bar as update:
        on_progress = None if update is None else lambda done, failed, total: update(done, total, failed=failed)
        report = sweep_command(
            settings, spec, options, on_progress=on_progress, notify=lambda line: print(line, file=sys.stderr)
        )
    folder = out or settings.var_dir / "sweeps" / spec.stem
    write_report(folder, lambda: write_folder(folder, report))
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_report(report)
    raise typer.Exit(ExitCode.DEGRADED if report.failed else ExitCode.OK)
