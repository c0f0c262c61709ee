"""Command line: thin commands that import heavy modules only when they run.

Exit codes (one place, see ``bot.errors.ExitCode``): 0 ok, 1 internal error, 2 usage
or configuration error, 3 tick failed, 4 tick degraded, 5 state file unreadable.
"""

from __future__ import annotations

import gc
import json
import sys
from datetime import UTC, datetime, timedelta
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

TICK_INTERVAL = timedelta(minutes=3)
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
    from bot.log import configure_logging

    configure_logging(
        log_file=settings.var_dir / "logs" / "bot.log",
        level=settings.log.level,
        console_level=settings.log.console_level,
        secrets=settings.secrets(),
    )
    import asyncio

    report = asyncio.run(_tick(settings, dry_run=dry_run, replay=replay, data_dir=data_dir))
    from bot.summary import print_tick

    print_tick(report)
    from bot.models import Outcome

    codes = {Outcome.OK: ExitCode.OK, Outcome.DEGRADED: ExitCode.DEGRADED, Outcome.FAILED: ExitCode.FAILED, Outcome.SKIPPED: ExitCode.OK}
    raise typer.Exit(codes[report.outcome])


async def _tick(settings: Any, *, dry_run: bool, replay: str | None, data_dir: Path | None):
    from bot.broker.paper import PaperBroker
    from bot.engine import TickContext, run_tick
    from bot.state import Journal, StateStore, check_mode
    from bot.strategies.rules import RulesStrategy

    if replay is not None:
        from bot.history import HistoryMarket

        folder = data_dir or (settings.resolve(settings.paths.data_dir) if settings.paths.data_dir else None)
        market = HistoryMarket(folder, candles=settings.trading.candles, quote=settings.trading.quote)
        var = settings.var_dir / "replay"
        store = StateStore(var / "state.json")
        now = _replay_time(market, settings.trading.coins, store, replay)
        mode = "replay"
    else:
        if data_dir is not None:
            raise ConfigError("--data-dir only applies with --replay")
        from bot.market import CcxtMarket

        market = CcxtMarket(settings, cache_dir=settings.var_dir / "cache")
        var = settings.var_dir
        store = StateStore(var / "state.json")
        now = datetime.now(UTC)
        mode = "live" if settings.enable_trading and not dry_run else "paper"
    broker: Any = PaperBroker(settings.paper)
    if mode == "live":
        from bot.broker.ccxt import CcxtBroker, require_live_ready

        require_live_ready(settings)
        broker = CcxtBroker(settings, save=store.save)
    check_mode(store, mode)
    ctx = TickContext(
        settings=settings,
        mode=mode,
        dry_run=dry_run,
        market=market,
        strategy=RulesStrategy(settings.rules),
        broker=broker,
        store=store,
        journal=Journal(var / "journal.jsonl"),
    )
    try:
        return await run_tick(ctx, now)
    finally:
        if mode == "live":
            await broker.aclose()


def _replay_time(market: Any, coins: list[str], store: Any, requested: str) -> datetime:
    """The simulated clock: TIME if given, else 3 minutes after the last replayed tick."""
    first, last = market.span(coins)
    state = store.load()
    previous = state.last_tick_at if state else None
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


@app.command()
def status(
    replay: Annotated[bool, typer.Option("--replay", help="show the replay account instead of the live-data one")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    config: ConfigOption = None,
) -> None:
    """Show what the last ticks left in state (local files only, no network)."""
    from bot.state import Journal, StateStore

    settings = _settings(config)
    var = settings.var_dir / "replay" if replay else settings.var_dir
    state = StateStore(var / "state.json").load()
    if state is None:
        hint = "bot tick --dry-run --replay" if replay else "bot tick --dry-run"
        raise ConfigError(f"no state in {var} yet: run `{hint}` first")
    last = Journal(var / "journal.jsonl").tail(1)
    if as_json:
        payload = {"state": json.loads(state.model_dump_json()), "last_tick": last[0] if last else None}
        if state.exchange is not None:
            payload["disagreements"] = state.exchange.disagreements(state.positions)
        typer.echo(json.dumps(payload, indent=2))
        return
    from bot.summary import print_status

    print_status(state, last[0] if last else None)


def _optional_replay_value(argv: list[str]) -> list[str]:
    """Let `tick --replay` stand alone: Typer's options always need a value, so a bare
    `--replay` (end of line or followed by another option) becomes `--replay=`."""
    if "tick" not in argv:
        return argv
    result = []
    for index, arg in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else None
        result.append("--replay=" if arg == "--replay" and (following is None or following.startswith("-")) else arg)
    return result


def main() -> None:
    """Entry point: every error a user can cause ends in one line and an exit code."""
    # A command is a short-lived process whose imports (ccxt alone defines thousands of
    # classes) set off one full garbage collection after another: ~0.3 s of a 1.5 s tick,
    # for cycles no one frees before exit anyway (peak RSS +1 MB). A long-running command
    # (a backtest) turns the collector back on once its imports are done.
    gc.disable()
    try:
        # standalone mode: the parser reports usage errors itself (exit 2) and Exit
        # becomes SystemExit; everything else reaches the handlers below.
        app(args=_optional_replay_value(sys.argv[1:]), prog_name="bot")
    except BotError as exc:
        from bot.log import scrub

        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line for the user, the traceback for the log
        import structlog

        from bot.log import scrub

        structlog.get_logger("bot").exception("internal_error")
        print(f"internal error: {type(exc).__name__}: {scrub(str(exc))} (details in the log; please report it)", file=sys.stderr)
        sys.exit(ExitCode.INTERNAL)
