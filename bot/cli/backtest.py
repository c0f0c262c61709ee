"""`bot backtest` and `bot download`: history through the same tick, and the history itself."""

from __future__ import annotations

import gc
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.base import ConfigOption, app, coin_list, day_or_time, load, wall_clock, write_report
from bot.errors import ConfigError, ExitCode
from bot.strategies.kinds import BASELINE, names


@app.command()
def backtest(
    coins: Annotated[
        list[str] | None, typer.Option("--coins", help="coins to trade (default: trading.coins), e.g. --coins BTC ETH")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="first simulated tick, ISO date or time in UTC (default: the earliest with 500 closed candles)",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="last simulated tick, ISO date or time in UTC (default: the end of the history)"),
    ] = None,
    strategy: Annotated[str, typer.Option("--strategy", help=" | ".join(names()))] = BASELINE,
    initial_balance: Annotated[
        float | None, typer.Option("--initial-balance", help="starting cash, USDT (default: paper.initial_balance_usd)")
    ] = None,
    fee: Annotated[
        float | None, typer.Option("--fee", help="taker fee per fill, % of notional (default: paper.taker_fee_pct)")
    ] = None,
    slippage: Annotated[
        float | None, typer.Option("--slippage", help="adverse price move per fill, % (default: paper.slippage_pct)")
    ] = None,
    decide_every: Annotated[
        int,
        typer.Option(
            "--decide-every",
            min=1,
            help="ask the strategy every N ticks; stops and take-profits still settle every tick",
        ),
    ] = 1,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="history folder laid out like the bundled sample (default: paths.data_dir, else the bundled sample)",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="write trades.csv, equity.csv, report.json and equity.png into this folder"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON instead of tables")] = False,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            help="stop before calling the LLM if the estimated cost is above this, USD "
            "(default: backtest.max_cost_usd)",
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="run an LLM backtest whatever its estimated cost")] = False,
    arena: Annotated[
        bool,
        typer.Option(
            "--arena", help="every [arena] candidate in one pass: the leaderboard, the rotation simulated, one chart"
        ),
    ] = False,
    blind: Annotated[
        bool,
        typer.Option(
            "--blind",
            help="the strategy sees coins as labels, rescaled prices, times from the start, no news "
            "(default: backtest.blind)",
        ),
    ] = False,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare", help="run plain and blind over the same span and print the memory gap (two runs' LLM cost)"
        ),
    ] = False,
    no_skip: Annotated[
        bool,
        typer.Option(
            "--no-skip",
            help="run every tick, also those a rules backtest skips as quiet (the same report: for comparison)",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Replay history through the same tick: same engine, paper fills, a report against buy-and-hold."""
    settings = load(config)
    from bot.backtest.runner import BacktestRequest, backtest_command
    from bot.log import configure_logging

    gc.enable()  # thousands of ticks in one process: collect what they leave behind (see main)

    # errors on stderr only: a backtest writes nothing under var/ but the report and the decision cache
    configure_logging(log_file=None, console_level="ERROR", secrets=settings.secrets())
    request = BacktestRequest(
        coins=coin_list(coins),
        start=day_or_time("--from", start),
        end=day_or_time("--to", end),
        strategy=strategy,  # checked first thing by the backtest's preparation
        initial_balance_usd=initial_balance,
        fee_pct=fee,
        slippage_pct=slippage,
        decide_every=decide_every,
        data_dir=data_dir,
        max_cost_usd=max_cost,
        yes=yes,
        blind=True if blind else None,
        skip=not no_skip,
    )
    if compare:
        _compare(settings, request, arena=arena, out=out, as_json=as_json)
    if arena:
        _arena(settings, request, out=out, as_json=as_json)
    result = backtest_command(
        settings, request, progress=sys.stderr.isatty(), notify=lambda line: print(line, file=sys.stderr)
    )
    from bot.backtest.files import write_folder
    from bot.backtest.report import build_report, print_report

    report = build_report(result)
    if out is not None:
        write_report(out, lambda: write_folder(out, result, report))
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_report(report)
    raise typer.Exit(ExitCode.OK if set(report.outcomes) <= {"ok"} else ExitCode.DEGRADED)


def _compare(settings: Any, request: Any, *, arena: bool, out: Path | None, as_json: bool) -> None:
    """`--compare`: the plain and the blind run side by side, and the gap between them."""
    if arena or out is not None:
        raise ConfigError(
            f"--compare with {'--arena' if arena else '--out'}: the comparison prints one table; "
            "run each alone for its own report"
        )
    from bot.backtest.compare import compare_command, print_comparison

    comparison = compare_command(
        settings, request, progress=sys.stderr.isatty(), notify=lambda line: print(line, file=sys.stderr)
    )
    if as_json:
        typer.echo(comparison.model_dump_json(indent=2))
    else:
        print_comparison(comparison)
    outcomes = set(comparison.plain.outcomes) | set(comparison.blind.outcomes)
    raise typer.Exit(ExitCode.OK if outcomes <= {"ok"} else ExitCode.DEGRADED)


def _arena(settings: Any, request: Any, *, out: Path | None, as_json: bool) -> None:
    """`--arena`: the leaderboard over the span, then the account's own report (what rotation did)."""
    import json

    from bot.arena.backtest import arena_backtest, plot_arena
    from bot.backtest.files import write_folder
    from bot.backtest.report import build_report, print_report
    from bot.cli.leaderboard import print_leaderboard

    result = arena_backtest(settings, request, notify=lambda line: print(line, file=sys.stderr))
    report = build_report(result.account)

    def write() -> list[Path]:
        written = [*write_folder(out, result.account, report), out / "leaderboard.json", out / "arena.png"]
        written[-2].write_text(result.board.model_dump_json(indent=2), encoding="utf-8")
        plot_arena(written[-1], result)
        return written

    if out is not None:
        write_report(out, write)
    if as_json:
        typer.echo(
            json.dumps(
                {"leaderboard": result.board.model_dump(mode="json"), "account": report.model_dump(mode="json")},
                indent=2,
            )
        )
    else:
        print_leaderboard(result.board)
        print_report(report)
    raise typer.Exit(ExitCode.OK if set(report.outcomes) <= {"ok"} else ExitCode.DEGRADED)


@app.command()
def download(
    since: Annotated[
        str | None,
        typer.Option("--since", help="first candle to fetch, ISO date or time in UTC (not needed with --intel alone)"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="fetch candles opened before this, ISO date or time in UTC (default: now)"),
    ] = None,
    coins: Annotated[
        list[str] | None, typer.Option("--coins", help="coins (default: trading.coins), e.g. --coins BTC ETH")
    ] = None,
    timeframes: Annotated[
        list[str] | None,
        typer.Option("--timeframes", help="candle timeframes (default: 3m 4h); funding history is always fetched"),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="where to write (default: paths.data_dir, else var/data)")
    ] = None,
    intel: Annotated[
        bool,
        typer.Option(
            "--intel",
            help="also archive the [intel] sources into DIR/intel: Fear & Greed history, the headlines shown now",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Fetch OHLCV and funding history into a folder `bot backtest --data-dir` reads; re-runs fetch only
    what is missing."""
    settings = load(config)
    folder = settings.download_dir(data_dir)
    if since is None and not intel:
        raise ConfigError(
            "--since is required: the first candle to fetch, e.g. --since 2025-06-01 (or --intel alone to archive "
            "only news and sentiment)"
        )
    failed = _download_intel(settings, folder) if intel else {}
    if since is not None:
        _download_candles(settings, folder, since=since, until=until, coins=coins, timeframes=timeframes)
    if failed:
        raise typer.Exit(ExitCode.DEGRADED)


def _download_intel(settings: Any, folder: Path) -> dict[str, str]:
    import asyncio

    from bot.intel.live import archive_sources

    days, added, failed = asyncio.run(archive_sources(settings, folder, wall_clock()))
    typer.echo(f"{folder / 'intel'}: Fear & Greed {days:,} days, +{added:,} headlines")
    for source, why in sorted(failed.items()):
        typer.echo(f"intel source {source} skipped: {why}", err=True)
    return failed


def _download_candles(
    settings: Any, folder: Path, *, since: str, until: str | None, coins: list[str] | None, timeframes: list[str] | None
) -> None:
    import asyncio

    from bot.clock import TIMEFRAME_MS
    from bot.venues.download import FUNDING, Downloader

    names = coin_list(coins) or list(settings.trading.coins)
    frames = [name for value in timeframes or ["3m", "4h"] for name in value.split(",") if name]
    for frame in frames:
        if frame not in TIMEFRAME_MS:
            raise ConfigError(f"--timeframes {frame!r}: use some of {', '.join(TIMEFRAME_MS)}")
    start = day_or_time("--since", since)
    now = wall_clock()
    end = day_or_time("--until", until) or now
    if start is None or end <= start:
        raise ConfigError(f"--until {end:%Y-%m-%dT%H:%M} must be after --since {since}")
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    # the bar only on a terminal: in a log it left a blank line before an error
    columns = (TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), disable=not sys.stderr.isatty()) as bar:
        tasks: dict[str, Any] = {}

        def on_progress(key: str, done: int, total: int) -> None:
            if key not in tasks:
                tasks[key] = bar.add_task(key, total=total)
            bar.update(tasks[key], completed=done, total=total)

        downloader = Downloader(settings, folder=folder, now=now, on_progress=on_progress)
        results = asyncio.run(
            downloader.run(
                names, [*frames, FUNDING], since_ms=int(start.timestamp() * 1000), until_ms=int(end.timestamp() * 1000)
            )
        )
    asked = f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"
    if all(result.rows == 0 for result in results):
        raise ConfigError(
            f"--since/--until: {settings.exchange.id} has no candles for {', '.join(names)} in {asked}; pick a span "
            f"when they traded"
        )
    for result in results:
        if result.first_ms is None:
            typer.echo(f"{result.path}: nothing in {asked}")
            continue
        span = (
            f"{datetime.fromtimestamp(result.first_ms / 1000, UTC):%Y-%m-%d %H:%M} → "
            f"{datetime.fromtimestamp(result.last_ms / 1000, UTC):%Y-%m-%d %H:%M}"
        )
        typer.echo(f"{result.path}: +{result.added:,} rows, {result.rows:,} in all, {span} UTC")
        if result.note:
            typer.echo(f"note: {result.note}")
