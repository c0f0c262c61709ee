"""`bot tick`: assemble one pass (market, strategy, broker, state files) and run it.

This is the composition root of the tick: the only place that chooses between the
live-data market and history, the paper and the live broker. The pass itself is
``bot.tick.engine.run_tick``; what it printed is ``bot.cli.views.print_tick``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.base import ConfigOption, app, load, parse_time, wall_clock
from bot.errors import ConfigError, ExitCode


@app.command()
def tick(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="paper broker only: never send an order, never need keys")
    ] = False,
    replay: Annotated[
        str | None,
        typer.Option(
            "--replay",
            metavar="[TIME]",
            help="read the market from history (bundled sample or --data-dir); the simulated clock starts at TIME "
            "(ISO, UTC; default: the first time with enough history) and advances 3 minutes per tick",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="history folder laid out like the bundled sample")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run one pass: fetch, compute indicators, decide, check risk, execute, save state."""
    settings = load(config)
    live = settings.enable_trading and not dry_run and replay is None
    if live:
        from bot.config import require_live_ready

        require_live_ready(settings)  # keys and the written confirmation, before anything runs
    from bot.log import configure_logging
    from bot.ops.state import TickLock

    # The lock first: a second tick leaves at once, before any logging set-up or import.
    with TickLock(settings.run_dir(replay=replay is not None) / "tick.lock").acquire():
        configure_logging(
            log_file=settings.log_file(replay=replay is not None),
            level=settings.log.level,
            console_level=settings.log.console_level,
            secrets=settings.secrets(),
            hold_console=True,
        )
        report = (
            _skip_if_backing_off(settings, dry_run=dry_run, mode="live" if live else "paper")
            if replay is None
            else None
        )
        if report is None:
            import asyncio

            report = asyncio.run(_tick(settings, dry_run=dry_run, replay=replay, data_dir=data_dir))
    from bot.cli.views import print_tick
    from bot.log import release_console

    print_tick(
        report,
        previous=_previous_record(settings, replay=replay is not None, report=report),
        coins=len(settings.trading.coins),
        quote=settings.trading.quote,
    )
    release_console()
    raise typer.Exit(_exit_code(report))


def _previous_record(settings: Any, *, replay: bool, report: Any) -> dict | None:
    """The journal's record of the tick before this one (the newest is this tick's own)."""
    from bot.ops.journal import Journal

    for record in Journal(settings.run_dir(replay=replay) / "journal.jsonl").newest_first():
        if record.get("tick_id") != report.tick_id:
            return record
    return None


def _exit_code(report: Any) -> ExitCode:
    """Failed and degraded win; then skipped or paused (6) so monitoring sees a bot not trading."""
    from bot.models import Outcome

    codes = {
        Outcome.OK: ExitCode.OK,
        Outcome.DEGRADED: ExitCode.DEGRADED,
        Outcome.FAILED: ExitCode.FAILED,
        Outcome.SKIPPED: ExitCode.SKIPPED,
    }
    if report.outcome is Outcome.OK and report.paused:
        return ExitCode.SKIPPED
    return codes[report.outcome]


def _skip_if_backing_off(settings: Any, *, dry_run: bool, mode: str):
    """Live runs inside the backoff window end here: no market, no network, no asyncio."""
    from bot.ops import backoff
    from bot.ops.state import StateStore

    store = StateStore(settings.var_dir / "state.json")
    state = store.load()
    now = wall_clock()
    skipped = backoff.skip_reason(state, now) if state else None
    if not skipped:
        return None
    return backoff.skip_run(
        store, state, now, reason=skipped, mode=mode, strategy=settings.strategy.name, dry_run=dry_run
    )


async def _tick(settings: Any, *, dry_run: bool, replay: str | None, data_dir: Path | None):
    from bot.ops.journal import Journal
    from bot.ops.state import AuditLog, StateStore, check_mode
    from bot.strategies import build, fallback, on_error, resolve

    # built first: a bad strategy name or a missing key ends here, before anything is traded
    strategy = build(settings, clock=wall_clock)
    budget_fallback = fallback(settings) if resolve(settings).paid else None
    if replay is not None:
        from bot.venues.history import HistoryMarket

        market = HistoryMarket(
            settings.data_dir(data_dir), candles=settings.trading.candles, quote=settings.trading.quote
        )
        var = settings.run_dir(replay=True)
        store = StateStore(var / "state.json")
        now = _replay_time(market, settings.trading.coins, store, replay)
        mode = "replay"
    else:
        if data_dir is not None:
            raise ConfigError("--data-dir only applies with --replay")
        var = settings.var_dir
        store = StateStore(var / "state.json")
        now = wall_clock()
        mode = "live" if settings.enable_trading and not dry_run else "paper"
        from bot.venues.market import CcxtMarket

        market = CcxtMarket(settings, cache_dir=settings.var_dir / "cache")
    from bot.ops.notify import notifier_for
    from bot.tick.engine import TickContext, run_tick
    from bot.venues.paper import paper_broker

    broker: Any = paper_broker(settings)
    if mode == "live":
        from bot.venues.ccxt_broker import CcxtBroker

        broker = CcxtBroker(settings, save=store.save)
    check_mode(store, mode)
    journal = Journal(var / "journal.jsonl")
    journal.check_writable()
    intel = None
    if settings.intel.enabled:
        from bot.intel import live_intel
        from bot.intel.archive import ArchiveIntel

        intel = (
            ArchiveIntel(market.data_dir, coins=settings.trading.coins, settings=settings.intel)
            if mode == "replay"
            else live_intel(settings)
        )
    notifier = notifier_for(settings) if settings.notify.urls else None
    arena = None
    if settings.arena.candidates:  # every candidate on its own paper book; the active one decides for this account
        from bot.arena.arena import ActiveStrategy, open_arena

        arena = open_arena(
            settings,
            var / "arena",
            make_strategy=lambda own, instance=1: build(own, clock=wall_clock),
            notifier=notifier,
        )
        # the active candidate may be paid, whichever kind the account names
        strategy, budget_fallback = ActiveStrategy(arena), fallback(settings)
    ctx = TickContext(
        settings=settings,
        mode=mode,
        dry_run=dry_run,
        market=market,
        strategy=strategy,
        fallback=budget_fallback,
        on_error=on_error(settings) if budget_fallback is not None else None,  # a paid strategy decides
        broker=broker,
        store=store,
        journal=journal,
        notifier=notifier,
        audit=AuditLog(var / "llm"),
        intel=intel,
        arena=arena,
    )
    try:
        return await run_tick(ctx, now)
    finally:
        if mode == "live":
            await broker.aclose()


def _replay_time(market: Any, coins: list[str], store: Any, requested: str) -> datetime:
    """The simulated clock: TIME if given, else 3 minutes after the last replayed run."""
    from bot.clock import TICK, on_tick_grid

    first, last = market.span(coins)
    state = store.load()
    previous = state.last_run_at if state else None
    if requested:
        now = parse_time(requested)
        if previous and now <= previous:
            raise ConfigError(
                f"the replay in {store.path.parent} is already at {previous:%Y-%m-%d %H:%M} UTC and cannot go back in "
                f"time; "
                f"remove {store.path.parent} to start over"
            )
    else:
        now = previous + TICK if previous else first
    now = on_tick_grid(now)
    if now < first:
        raise ConfigError(
            f"--replay {now:%Y-%m-%dT%H:%M}: history needs 500 closed candles first; the earliest time is "
            f"{first:%Y-%m-%dT%H:%M}"
        )
    if now > last and (requested or not previous):
        raise ConfigError(
            f"--replay {now:%Y-%m-%dT%H:%M}: past the end of the history ({last:%Y-%m-%d %H:%M} UTC); pick an earlier "
            f"time or pass --data-dir with more history"
        )
    if now > last:
        raise ConfigError(
            f"the replay reached the end of its history ({last:%Y-%m-%d %H:%M} UTC); remove {store.path.parent} to "
            f"start over "
            "or pass --data-dir with more history"
        )
    return now
