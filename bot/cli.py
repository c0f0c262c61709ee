"""Command line: thin commands that import heavy modules only when they run.

Exit codes (one place, see ``bot.errors.ExitCode``): 0 ok, 1 internal error, 2 usage
or configuration error, 3 tick failed, 4 tick degraded, 5 state file unreadable or
unwritable, 6 skipped (backing off) or ran paused, 7 locked (another tick is running).
"""

from __future__ import annotations

import gc
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.errors import BotError, ConfigError, ExitCode

app = typer.Typer(
    name="bot",
    help="LLM-driven crypto perpetual-futures trading bot: cron runs `bot tick` every 3 minutes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="BOT_CONFIG", help="config file (default ./config.toml); var/ lives beside it"),
]


def _settings(config: Path | None):
    from bot.config import config_path, load_settings

    path = config_path(config)
    return load_settings(path, explicit=config is not None or path.name != "config.toml" or path.exists())


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--replay: {value!r} is not a time; use ISO format like 2025-06-02T01:00 (UTC)") from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.replace(second=0, microsecond=0)


@app.command()
def tick(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="paper broker only: never send an order, never need keys")] = False,
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            metavar="[TIME]",
            help="read the market from history (bundled sample or --data-dir); the simulated clock starts at TIME "
            "(ISO, UTC; default: the first time with enough history) and advances 3 minutes per tick",
        ),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="history folder laid out like the bundled sample")] = None,
    config: ConfigOption = None,
) -> None:
    """Run one pass: fetch, compute indicators, decide, check risk, execute, save state."""
    settings = _settings(config)
    live = settings.enable_trading and not dry_run and replay is None
    if live:
        from bot.config import require_live_ready

        require_live_ready(settings)  # keys and the written confirmation, before anything runs
    from bot.log import configure_logging
    from bot.state import TickLock

    # The lock first: a second tick leaves at once, before any logging set-up or import.
    with TickLock(settings.run_dir(replay=replay is not None) / "tick.lock").acquire():
        configure_logging(
            log_file=settings.var_dir / "logs" / "bot.log",
            level=settings.log.level,
            console_level=settings.log.console_level,
            secrets=settings.secrets(),
        )
        report = _skip_if_backing_off(settings, dry_run=dry_run, mode="live" if live else "paper") if replay is None else None
        if report is None:
            import asyncio

            report = asyncio.run(_tick(settings, dry_run=dry_run, replay=replay, data_dir=data_dir))
    from bot.summary import print_tick

    print_tick(report)
    raise typer.Exit(_exit_code(report))


def _exit_code(report: Any) -> ExitCode:
    """Failed and degraded win; then skipped or paused (6) so monitoring sees a bot not trading."""
    from bot.models import Outcome

    codes = {Outcome.OK: ExitCode.OK, Outcome.DEGRADED: ExitCode.DEGRADED, Outcome.FAILED: ExitCode.FAILED, Outcome.SKIPPED: ExitCode.SKIPPED}
    if report.outcome is Outcome.OK and report.paused:
        return ExitCode.SKIPPED
    return codes[report.outcome]


def _skip_if_backing_off(settings: Any, *, dry_run: bool, mode: str):
    """Live runs inside the backoff window end here: no market, no network, no asyncio."""
    from bot import ops
    from bot.state import StateStore

    store = StateStore(settings.var_dir / "state.json")
    state = store.load()
    now = datetime.now(UTC)
    skipped = ops.skip_reason(state, now) if state else None
    if not skipped:
        return None
    return ops.skip_run(store, state, now, reason=skipped, mode=mode, strategy=settings.strategy.name, dry_run=dry_run)


async def _tick(settings: Any, *, dry_run: bool, replay: str | None, data_dir: Path | None):
    from bot.state import AuditLog, Journal, StateStore, check_mode
    from bot.strategies import build_strategies

    strategy, fallback = build_strategies(settings)
    if replay is not None:
        from bot.history import HistoryMarket

        folder = data_dir or (settings.resolve(settings.paths.data_dir) if settings.paths.data_dir else None)
        market = HistoryMarket(folder, candles=settings.trading.candles, quote=settings.trading.quote)
        var = settings.run_dir(replay=True)
        store = StateStore(var / "state.json")
        now = _replay_time(market, settings.trading.coins, store, replay)
        mode = "replay"
    else:
        if data_dir is not None:
            raise ConfigError("--data-dir only applies with --replay")
        var = settings.var_dir
        store = StateStore(var / "state.json")
        now = datetime.now(UTC)
        mode = "live" if settings.enable_trading and not dry_run else "paper"
        from bot.market import CcxtMarket

        market = CcxtMarket(settings, cache_dir=settings.var_dir / "cache")
    from bot.broker.paper import PaperBroker
    from bot.engine import TickContext, run_tick
    from bot.notify import notifier_for

    broker: Any = PaperBroker(settings.paper)
    if mode == "live":
        from bot.broker.ccxt import CcxtBroker

        broker = CcxtBroker(settings, save=store.save)
    check_mode(store, mode)
    ctx = TickContext(
        settings=settings,
        mode=mode,
        dry_run=dry_run,
        market=market,
        strategy=strategy,
        fallback=fallback,
        broker=broker,
        store=store,
        journal=Journal(var / "journal.jsonl"),
        notifier=notifier_for(settings) if settings.notify.urls else None,
        audit=AuditLog(var / "llm"),
    )
    try:
        return await run_tick(ctx, now)
    finally:
        if mode == "live":
            await broker.aclose()


def _replay_time(market: Any, coins: list[str], store: Any, requested: str) -> datetime:
    """The simulated clock: TIME if given, else 3 minutes after the last replayed run."""
    from bot.status import TICK_INTERVAL

    first, last = market.span(coins)
    state = store.load()
    previous = state.last_run_at if state else None
    if requested:
        now = _parse_time(requested)
        if previous and now <= previous:
            raise ConfigError(
                f"the replay in {store.path.parent} is already at {previous:%Y-%m-%d %H:%M} UTC and cannot go back in time; "
                f"remove {store.path.parent} to start over"
            )
    else:
        now = previous + TICK_INTERVAL if previous else first
    now = now.replace(minute=now.minute - now.minute % 3)
    if now < first:
        raise ConfigError(f"--replay {now:%Y-%m-%dT%H:%M}: history needs 500 closed candles first; the earliest time is {first:%Y-%m-%dT%H:%M}")
    if now > last:
        raise ConfigError(
            f"the replay reached the end of its history ({last:%Y-%m-%d %H:%M} UTC); remove {store.path.parent} to start over "
            "or pass --data-dir with more history"
        )
    return now


ReplayOption = Annotated[bool, typer.Option("--replay", help="the replay account (var/replay/) instead of the live-data one")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output (stable, documented in the README)")]


@app.command()
def status(replay: ReplayOption = False, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Show mode, pause, last tick, backoff, equity, positions, last decisions (local files only, no network)."""
    from bot.state import StateStore
    from bot.status import TICK_INTERVAL, build_status

    settings = _settings(config)
    var = settings.run_dir(replay=replay)
    store = StateStore(var / "state.json")
    state = store.load()
    if state is None:
        hint = "bot tick --dry-run --replay" if replay else "bot tick --dry-run"
        raise ConfigError(f"no state in {var} yet: run `{hint}` first")
    now = datetime.now(UTC)
    if replay:  # the simulated clock: where the next replay tick would run
        now = state.last_run_at + TICK_INTERVAL if state.last_run_at else now
    report = build_status(state, settings=settings, state_file=store.path, now=now)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    from bot.summary import print_status

    print_status(report)


@app.command()
def journal(
    count: Annotated[int, typer.Option("-n", "--count", min=1, help="how many ticks (or trades) to show")] = 20,
    trades: Annotated[bool, typer.Option("--trades", help="list fills instead of ticks")] = False,
    replay: ReplayOption = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show the last N ticks (or trades) from the journal as a table."""
    from bot.state import Journal
    from bot.summary import journal_rows, print_journal

    settings = _settings(config)
    path = settings.run_dir(replay=replay) / "journal.jsonl"
    if not path.exists():
        raise ConfigError(f"no journal at {path} yet: run `bot tick --dry-run{' --replay' if replay else ''}` first")
    rows = journal_rows(Journal(path), count=count, trades=trades)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    print_journal(rows, trades=trades)


@app.command()
def pause(
    reason: Annotated[str, typer.Option("--reason", help="shown in status and notifications")] = "",
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Stop opening new positions until `bot resume`; open positions are still managed (stops, closes)."""
    from bot.control import pause_bot

    settings = _settings(config)
    state = pause_bot(settings, replay=replay, reason=reason, now=datetime.now(UTC))
    typer.echo(f"paused: {state.pause_reason}. Ticks keep managing open positions; `bot resume` trades again.")


@app.command()
def resume(replay: ReplayOption = False, config: ConfigOption = None) -> None:
    """Lift a pause (by hand or after failures) and any backoff: the next tick trades again."""
    from bot.control import resume_bot

    settings = _settings(config)
    _, lifted = resume_bot(settings, replay=replay, now=datetime.now(UTC))
    typer.echo(f"resumed: lifted {lifted}")


@app.command(name="notify-summary")
def notify_summary(
    day: Annotated[str | None, typer.Option("--day", help="UTC day YYYY-MM-DD (default today)")] = None,
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Send the daily summary (equity, PnL, ticks, trades) to notify.urls, once per day."""
    settings = _settings(config)
    from bot.log import configure_logging

    configure_logging(log_file=settings.var_dir / "logs" / "bot.log", level=settings.log.level, console_level=settings.log.console_level, secrets=settings.secrets())
    from bot.control import send_summary

    if day is not None:
        try:
            day = datetime.strptime(day, "%Y-%m-%d").date().isoformat()
        except ValueError:
            raise ConfigError(f"--day: {day!r} is not a date; use YYYY-MM-DD") from None
    event, sent = send_summary(settings, replay=replay, now=datetime.now(UTC), day=day)
    typer.echo(event.body)
    typer.echo("sent" if sent else f"not sent: the summary for {event.key.removeprefix('summary:')} was already sent")


def _coins(values: list[str] | None) -> list[str] | None:
    """`--coins BTC ETH`, `--coins BTC,ETH` or `--coins BTC --coins ETH`."""
    names = [name.strip().upper() for value in values or [] for name in value.split(",") if name.strip()]
    return names or None


def _day_or_time(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return _parse_time(value)
    except ConfigError:
        raise ConfigError(f"{option}: {value!r} is not a date; use ISO format like 2025-06-01 or 2025-06-01T12:00 (UTC)") from None


@app.command()
def backtest(
    coins: Annotated[list[str] | None, typer.Option("--coins", help="coins to trade (default: trading.coins), e.g. --coins BTC ETH")] = None,
    start: Annotated[str | None, typer.Option("--from", help="first simulated tick, ISO date or time in UTC (default: the earliest with 500 closed candles)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last simulated tick, ISO date or time in UTC (default: the end of the history)")] = None,
    strategy: Annotated[str, typer.Option("--strategy", help="rules | claude")] = "rules",
    initial_balance: Annotated[float | None, typer.Option("--initial-balance", help="starting cash, USDT (default: paper.initial_balance_usd)")] = None,
    fee: Annotated[float | None, typer.Option("--fee", help="taker fee per fill, % of notional (default: paper.taker_fee_pct)")] = None,
    slippage: Annotated[float | None, typer.Option("--slippage", help="adverse price move per fill, % (default: paper.slippage_pct)")] = None,
    decide_every: Annotated[int, typer.Option("--decide-every", min=1, help="ask the strategy every N ticks; stops and take-profits still settle every tick")] = 1,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="history folder laid out like the bundled sample (default: paths.data_dir, else the bundled sample)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write trades.csv, equity.csv, report.json and equity.png into this folder")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON instead of tables")] = False,
    max_cost: Annotated[float | None, typer.Option("--max-cost", help="stop before calling the LLM if the estimated cost is above this, USD (default: backtest.max_cost_usd)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="run an LLM backtest whatever its estimated cost")] = False,
    config: ConfigOption = None,
) -> None:
    """Replay history through the same tick: same engine, paper fills, a report against buy-and-hold."""
    settings = _settings(config)
    from bot.backtest_cmd import BacktestRequest, StrategyName, backtest_command
    from bot.log import configure_logging

    if strategy not in {name.value for name in StrategyName}:
        raise ConfigError(f"--strategy {strategy!r}: use one of {', '.join(name.value for name in StrategyName)}")
    configure_logging(
        log_file=settings.var_dir / "logs" / "backtest.log", level="WARNING", console_level="ERROR", secrets=settings.secrets()
    )
    request = BacktestRequest(
        coins=_coins(coins),
        start=_day_or_time("--from", start),
        end=_day_or_time("--to", end),
        strategy=StrategyName(strategy),
        initial_balance_usd=initial_balance,
        fee_pct=fee,
        slippage_pct=slippage,
        decide_every=decide_every,
        data_dir=data_dir,
        max_cost_usd=max_cost,
        yes=yes,
    )
    result = backtest_command(settings, request, progress=sys.stderr.isatty(), notify=lambda line: print(line, file=sys.stderr))
    from bot.report import build_report, print_report, write_folder

    report = build_report(result)
    if out is not None:
        try:
            written = write_folder(out, result, report)
        except OSError as exc:
            raise ConfigError(f"--out {out}: cannot write the report ({exc.strerror}); pick a writable folder") from None
        print(f"report written: {', '.join(str(path) for path in written)}", file=sys.stderr)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_report(report)
    raise typer.Exit(ExitCode.OK if set(report.outcomes) <= {"ok"} else ExitCode.DEGRADED)


@app.command()
def download(
    since: Annotated[str, typer.Option("--since", help="first candle to fetch, ISO date or time in UTC")],
    until: Annotated[str | None, typer.Option("--until", help="fetch candles opened before this, ISO date or time in UTC (default: now)")] = None,
    coins: Annotated[list[str] | None, typer.Option("--coins", help="coins (default: trading.coins), e.g. --coins BTC ETH")] = None,
    timeframes: Annotated[list[str] | None, typer.Option("--timeframes", help="candle timeframes (default: 3m 4h); funding history is always fetched")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="where to write (default: paths.data_dir, else var/data)")] = None,
    config: ConfigOption = None,
) -> None:
    """Fetch OHLCV and funding history into a folder `bot backtest --data-dir` reads; re-runs fetch only what is missing."""
    settings = _settings(config)
    import asyncio

    from bot.download import FUNDING, Downloader
    from bot.models import TIMEFRAME_MS

    names = _coins(coins) or list(settings.trading.coins)
    frames = [name for value in timeframes or ["3m", "4h"] for name in value.split(",") if name]
    for frame in frames:
        if frame not in TIMEFRAME_MS:
            raise ConfigError(f"--timeframes {frame!r}: use some of {', '.join(TIMEFRAME_MS)}")
    start = _day_or_time("--since", since)
    now = datetime.now(UTC)
    end = _day_or_time("--until", until) or now
    if start is None or end <= start:
        raise ConfigError(f"--until {end:%Y-%m-%dT%H:%M} must be after --since {since}")
    folder = data_dir or (settings.resolve(settings.paths.data_dir) if settings.paths.data_dir else settings.var_dir / "data")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        tasks: dict[str, Any] = {}

        def on_progress(key: str, done: int, total: int) -> None:
            if key not in tasks:
                tasks[key] = bar.add_task(key, total=total)
            bar.update(tasks[key], completed=done, total=total)

        downloader = Downloader(settings, folder=folder, now=now, on_progress=on_progress)
        results = asyncio.run(downloader.run(names, [*frames, FUNDING], since_ms=int(start.timestamp() * 1000), until_ms=int(end.timestamp() * 1000)))
    for result in results:
        span = "empty" if result.first_ms is None else (
            f"{datetime.fromtimestamp(result.first_ms / 1000, UTC):%Y-%m-%d %H:%M} → {datetime.fromtimestamp(result.last_ms / 1000, UTC):%Y-%m-%d %H:%M}"
        )
        typer.echo(f"{result.path}: +{result.added:,} rows, {result.rows:,} in all, {span} UTC")


def _optional_replay_value(argv: list[str]) -> list[str]:
    """Let `tick --replay` stand alone: Typer's options always need a value, so a bare
    `--replay` (end of line or followed by another option) becomes `--replay=`."""
    if "tick" not in argv:
        return _spread_list_options(argv)
    result = []
    for index, arg in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else None
        result.append("--replay=" if arg == "--replay" and (following is None or following.startswith("-")) else arg)
    return result


_LIST_OPTIONS = ("--coins", "--timeframes")


def _spread_list_options(argv: list[str]) -> list[str]:
    """Let list options take several values (`--coins BTC ETH`): Click options take one
    value each, so `--coins BTC ETH` becomes `--coins BTC --coins ETH`."""
    result, current = [], None
    for arg in argv:
        if arg in _LIST_OPTIONS:
            current = arg
            result.append(arg)
        elif current and not arg.startswith("-") and result[-1] != current:
            result += [current, arg]
        else:
            current = current if current and not arg.startswith("-") else None
            result.append(arg)
    return result


def main() -> None:
    """Entry point: every error a user can cause ends in one line and an exit code."""
    # A command is a short-lived process whose imports (ccxt alone defines thousands of
    # classes) set off one full garbage collection after another: ~0.3 s of a 1.5 s tick,
    # for cycles no one frees before exit anyway (peak RSS +1 MB). A long-running command
    # (a backtest) turns the collector back on once its imports are done.
    gc.disable()
    # pydantic scans every installed package's metadata for plugins on its first model
    # (~25 ms of `bot status`); the bot uses none. A value the user set is respected.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        # standalone mode: the parser reports usage errors itself (exit 2) and Exit
        # becomes SystemExit; everything else reaches the handlers below.
        app(args=_optional_replay_value(sys.argv[1:]), prog_name="bot")
    except BotError as exc:
        from bot.log import scrub

        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line for the user, the traceback for the log
        import logging

        import structlog

        from bot.log import scrub

        if logging.getLogger().handlers:  # only once logging goes to the log file: never a traceback on the console
            structlog.get_logger("bot").exception("internal_error")
        print(f"internal error: {type(exc).__name__}: {scrub(str(exc))} (details in the log; please report it)", file=sys.stderr)
        sys.exit(ExitCode.INTERNAL)
