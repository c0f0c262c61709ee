"""`bot serve`: the REST API, Prometheus metrics and the web dashboard (``bot.serve``).
FastAPI, uvicorn and prometheus-client are imported only when it runs."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.base import ConfigOption, ReplayOption, app, load


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="listen address (default serve.host, 127.0.0.1); beyond loopback the token needs 32+ characters",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=0, max=65535, help="TCP port (default serve.port, 8080; 0: any free port)"),
    ] = None,
    replay: ReplayOption = False,
    config: ConfigOption = None,
) -> None:
    """Serve the API (/api/v1), Prometheus /metrics and the dashboard (/); cron still runs the ticks."""
    import gc

    settings = load(config)
    from bot.log import configure_logging
    from bot.serve.auth import server_token

    token, created = server_token(settings)  # BOT_SERVE__TOKEN, else var/serve.token (made now if absent)
    configure_logging(
        log_file=settings.var_dir / "logs" / "bot.log",
        level=settings.log.level,
        console_level=settings.log.console_level,
        secrets=[*settings.secrets(), token],
    )
    gc.enable()  # a long-running process: collect as usual (see bot.cli.main)
    from bot.serve.app import run

    run(
        settings,
        replay=replay,
        host=host or settings.serve.host,
        port=settings.serve.port if port is None else port,
        token=token,
        created=created,
        echo=lambda line: typer.echo(line, err=False),
        readers=_readers(settings, replay=replay),
    )


def _readers(settings, *, replay: bool):
    """What the web face shows from the layers above it: the backtest's round trips, the arena's
    leaderboard (its books read, no strategy built: no key, no SDK). numpy loads at the first use."""
    from bot.serve.trades import Readers

    def round_trips(fills, funding):
        from bot.backtest.loop import END_OF_BACKTEST, trades_from_fills
        from bot.ops.state import BotState

        flat = BotState.fresh(mode="paper", initial_equity_usd=0.0)  # no book: a trade still open is left out
        trades = trades_from_fills(fills, funding=funding, state=flat, end=fills[-1].at, last_prices={})
        return [trade.model_dump() for trade in trades if trade.exit_reason != END_OF_BACKTEST]

    def leaderboard(now):
        from bot.arena.arena import open_arena
        from bot.strategies import HoldStrategy

        arena = open_arena(
            settings, settings.run_dir(replay=replay) / "arena", make_strategy=lambda _own: HoldStrategy()
        )
        return arena.leaderboard(now).model_dump(mode="json")

    return Readers(round_trips=round_trips, leaderboard=leaderboard if settings.arena.candidates else None)
