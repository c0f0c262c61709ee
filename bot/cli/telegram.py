"""`bot telegram`: the owner's chat (``bot.chat``), a process of its own beside cron and
`bot serve`. python-telegram-bot is imported only when it runs (the `telegram` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.base import ConfigOption, ReplayOption, app, load, wall_clock
from bot.errors import ConfigError


@app.command()
def telegram(
    max_updates: Annotated[
        int | None,
        typer.Option("--max-updates", min=1, help="stop after this many updates (a scripted session); default: run on"),
    ] = None,
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Answer /status, /profit, /trades, /positions, /pause, /resume, /stop, /close COIN in Telegram
    (only from telegram.chat_ids; control commands ask YES first). Runs until Ctrl-C / SIGTERM."""
    import gc

    settings = load(config)
    from bot.chat.telegram import check

    check(settings)  # token and chat ids first: one line, before anything is imported or logged
    try:
        import telegram as _  # noqa: F401
    except ImportError:
        raise ConfigError(
            "`bot telegram` needs python-telegram-bot: pip install 'bot[telegram]' (or -e '.[telegram]')"
        ) from None
    from bot.log import configure_logging

    configure_logging(
        log_file=settings.log_file(replay=replay),
        level=settings.log.level,
        console_level=settings.log.console_level,
        secrets=settings.secrets(),
    )
    gc.enable()  # a long-running process: collect as usual (see bot.cli.main)
    from bot.chat.telegram import run

    handled = run(settings, replay=replay, clock=wall_clock, stop_after=max_updates, echo=typer.echo)
    typer.echo(f"stopped after {handled} update(s)")
