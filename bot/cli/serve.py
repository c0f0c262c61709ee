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
    )
