"""`bot pause`, `bot stop`, `bot close`, `bot resume`, `bot notify-summary`: operations that change state under the
tick lock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from bot.cli.base import ConfigOption, ReplayOption, app, load, wall_clock
from bot.errors import ConfigError


@app.command()
def pause(
    reason: Annotated[str, typer.Option("--reason", help="shown in status and notifications")] = "",
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Stop opening new positions until `bot resume`; open positions are still managed (stops, closes)."""
    from bot.ops.control import pause_bot

    settings = load(config)
    state = pause_bot(settings, replay=replay, reason=reason, now=wall_clock())
    typer.echo(f"paused: {state.pause_reason}. Ticks keep managing open positions; `bot resume` trades again.")


@app.command()
def stop(
    reason: Annotated[str, typer.Option("--reason", help="shown in status and notifications")] = "",
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Pause and close every open position at the next tick (market orders); `bot resume` cancels it."""
    from bot.ops.control import stop_bot

    settings = load(config)
    state = stop_bot(settings, replay=replay, reason=reason, now=wall_clock())
    held = ", ".join(sorted(state.positions)) or "none open now"
    typer.echo(
        f"stopping: {state.pause_reason}. The next tick closes every open position ({held}) and opens none; `bot "
        f"resume` cancels."
    )


@app.command()
def close(
    coin: Annotated[str, typer.Argument(help="the coin whose open position closes, e.g. BTC")],
    reason: Annotated[str, typer.Option("--reason", help="shown in status, the journal and notifications")] = "",
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Close one open position at the next tick (a market order, reduce-only on live); journaled as `manual`."""
    from bot.ops.control import request_close

    settings = load(config)
    state = request_close(settings, replay=replay, coin=coin, reason=reason, now=wall_clock())
    name = coin.strip().upper()
    position = state.positions[name]
    typer.echo(
        f"closing {position.side} {name} {position.amount:g} at the next tick"
        + (f" ({why})" if (why := state.close_requested[name]) else "")
        + "; `bot status` shows the request until it is done."
    )


@app.command()
def resume(replay: ReplayOption = False, config: ConfigOption = None) -> None:
    """Lift a pause (by hand or after failures) and any backoff: the next tick trades again."""
    from bot.ops.control import resume_bot

    settings = load(config)
    _, lifted = resume_bot(settings, replay=replay, now=wall_clock())
    typer.echo(f"resumed: lifted {lifted}")


@app.command(name="notify-summary")
def notify_summary(
    day: Annotated[str | None, typer.Option("--day", help="UTC day YYYY-MM-DD (default today)")] = None,
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Send the daily summary (equity, PnL, ticks, trades) to notify.urls, once per day."""
    settings = load(config)
    from bot.log import configure_logging

    configure_logging(
        log_file=settings.log_file(replay=replay),
        level=settings.log.level,
        console_level=settings.log.console_level,
        secrets=settings.secrets(),
    )
    from bot.ops.control import send_summary

    if day is not None:
        try:
            day = datetime.strptime(day, "%Y-%m-%d").date().isoformat()
        except ValueError:
            raise ConfigError(f"--day: {day!r} is not a date; use YYYY-MM-DD") from None
    event, sent = send_summary(settings, replay=replay, now=wall_clock(), day=day)
    typer.echo(event.body)
    typer.echo("sent" if sent else f"not sent: the summary for {event.key.removeprefix('summary:')} was already sent")
