"""`bot arena`: the leaderboard of the `[arena]` candidates, and `pin` / `unpin` (local files only)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bot.cli.base import ConfigOption, JsonOption, ReplayOption, app, load, wall_clock
from bot.errors import ConfigError

arena_app = typer.Typer(
    no_args_is_help=False,
    invoke_without_command=True,
    help="The strategy arena: leaderboard, pin, unpin (see README, Arena).",
)
app.add_typer(arena_app, name="arena")


def _arena(settings: Any, *, replay: bool):
    if not settings.arena.candidates:
        raise ConfigError("no [arena] candidates in the config: add [[arena.candidates]] entries (README, Arena)")
    from bot.arena.arena import open_arena
    from bot.strategies import HoldStrategy

    # the leaderboard reads the books and asks no one: no strategy is built (no key, no SDK)
    return open_arena(
        settings, settings.run_dir(replay=replay) / "arena", make_strategy=lambda _own, instance=1: HoldStrategy()
    )


@arena_app.callback()
def arena(
    ctx: typer.Context,
    window: Annotated[
        float | None,
        typer.Option(
            "--window", min=0, help="days the figures cover (default: arena.rotation.window_days; 0: all history)"
        ),
    ] = None,
    replay: ReplayOption = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show the leaderboard: every candidate's book, scored, and which one runs the account."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {"replay": replay, "config": config}
        return
    settings = load(config)
    board = _arena(settings, replay=replay).leaderboard(_now(settings, replay=replay), window_days=window)
    if as_json:
        typer.echo(board.model_dump_json(indent=2))
        return
    from bot.cli.leaderboard import print_leaderboard

    print_leaderboard(board)


def _now(settings: Any, *, replay: bool):
    """The window ends now; for the replay account, at its simulated clock."""
    if not replay:
        return wall_clock()
    from bot.ops.state import StateStore

    state = StateStore(settings.run_dir(replay=True) / "state.json").load()
    return state.last_run_at if state else None


@arena_app.command()
def pin(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="the candidate that runs the account from the next tick")],
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Give the account to NAME and keep it there: rotation leaves it alone until `unpin`."""
    _set(ctx, name=name, pinned=True, replay=replay, config=config)


@arena_app.command()
def unpin(ctx: typer.Context, replay: ReplayOption = False, config: ConfigOption = None) -> None:
    """Let rotation choose again (the active candidate keeps the account until then)."""
    _set(ctx, name=None, pinned=False, replay=replay, config=config)


def _set(ctx: typer.Context, *, name: str | None, pinned: bool, replay: bool, config: Any) -> None:
    """The options after the subcommand (`bot arena pin NAME --replay`, as every command takes
    them) or before it (`bot arena --replay pin NAME`): either says it."""
    options = ctx.obj or {}
    settings = load(config or options.get("config"))
    from bot.arena.arena import check_name
    from bot.ops.state import TickLock

    if name is not None:
        check_name(settings, name)
    replay = replay or bool(options.get("replay"))
    with TickLock(settings.run_dir(replay=replay) / "tick.lock").acquire(
        wait_seconds=10.0
    ):  # never between a tick's rotation and its save
        arena = _arena(settings, replay=replay)
        record = arena.record
        if name is not None and name != record.active:
            record.active, record.since = name, _now(settings, replay=replay) or wall_clock()
        record.pinned = pinned
        arena.save_record(record)
    typer.echo(
        f"arena: {record.active} runs the account"
        + (" (pinned: rotation is off until `bot arena unpin`)" if pinned else " (rotation may change it)")
    )
