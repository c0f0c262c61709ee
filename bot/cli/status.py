"""`bot status` and `bot journal`: local files only, no network. The report is built in
``bot.tick.status`` and drawn by ``bot.cli.views``, both imported when they run."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from bot.cli.base import ConfigOption, JsonOption, ReplayOption, app, load, wall_clock
from bot.errors import ConfigError


@app.command()
def status(replay: ReplayOption = False, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Show mode, pause, last tick, backoff, equity, positions, last decisions (local files only, no network)."""
    from bot.ops.state import StateStore
    from bot.tick.status import build_status, status_time

    settings = load(config)
    var = settings.run_dir(replay=replay)
    store = StateStore(var / "state.json")
    state = store.load()
    if state is None:
        raise ConfigError(f"no state in {var} yet: {_first_run_hint(settings, replay, 'status')}")
    report = build_status(
        state, settings=settings, state_file=store.path, now=status_time(state, wall_clock(), replay=replay)
    )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    from bot.cli.views import print_status

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
    from bot.cli.journal_view import print_journal, print_unreadable
    from bot.ops.journal import Journal
    from bot.ops.journal_index import read_totals
    from bot.tick.status import journal_rows

    settings = load(config)
    path = settings.run_dir(replay=replay) / "journal.jsonl"
    if not path.exists():
        raise ConfigError(f"no journal at {path} yet: {_first_run_hint(settings, replay, 'journal')}")
    reader = Journal(path)
    rows = journal_rows(reader.newest_first(), count=count, trades=trades)
    totals = read_totals(path)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        print_journal(rows, trades=trades)
    print_unreadable(reader.unreadable, total=totals.bad_count if totals else None)


def _first_run_hint(settings, replay: bool, command: str) -> str:
    """After the quick start (`bot tick --dry-run --replay`) the ticks are the replay
    account's: point there, not to a live-data tick that needs the network."""
    if not replay and (settings.run_dir(replay=True) / "state.json").exists():
        return (
            f"the replay ticks are in the replay account: `bot {command} --replay` (`bot tick --dry-run` ticks on "
            f"live data)"
        )
    if replay:
        return "run `bot tick --dry-run --replay` first"
    return (
        "run `bot tick --dry-run --replay` first (offline, on the bundled sample), or `bot tick --dry-run` on live data"
    )
