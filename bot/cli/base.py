"""The typer app and what every command shares: options, settings loading, time parsing
and the wall clock (the one place a command reads it, so a test can set it).

Exit codes (one place, see ``bot.errors.ExitCode``): 0 ok, 1 internal error, 2 usage
or configuration error, 3 tick failed, 4 tick degraded, 5 state file unreadable or
unwritable, 6 skipped (backing off) or ran paused, 7 locked (another tick is running).

Nothing heavy is imported here or by the command modules at import time: `bot --help`
and `bot status` must not load ccxt, anthropic, pandas or numpy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.errors import ConfigError

app = typer.Typer(
    name="bot",
    help="LLM-driven crypto perpetual-futures trading bot: cron runs `bot tick` every 3 minutes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: no box, no `<bool>` beside every flag
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"bot {version('bot')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """LLM-driven crypto perpetual-futures trading bot: cron runs `bot tick` every 3 minutes."""


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", envvar="BOT_CONFIG", help="config file (default ./config.toml); var/ lives beside it"
    ),
]
ReplayOption = Annotated[
    bool, typer.Option("--replay", help="the replay account (var/replay/) instead of the live-data one")
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output (stable, documented in the README)")]


def wall_clock() -> datetime:
    return datetime.now(UTC)


SHORT_SECRET = 6  # characters: real API keys are dozens long; a shorter one is a typo or a placeholder


def load(config: Path | None):
    """The settings of ``--config`` (or ./config.toml, or the defaults when there is none),
    with a note on stderr when the defaults are in use and a warning for a too-short secret."""
    from bot.config.file import config_path, load_settings

    path = config_path(config)
    explicit = config is not None or path.name != "config.toml" or path.exists()
    settings = load_settings(path, explicit=explicit)
    if not explicit and not settings.var_dir.exists():  # once: the first run creates var/
        print(
            f"note: no config.toml in {path.parent.resolve()}: using the defaults (paper trading); var/ will be "
            f"{settings.var_dir}",
            file=sys.stderr,
        )
    for name in ("ANTHROPIC_API_KEY", "EXCHANGE_API_KEY", "EXCHANGE_SECRET"):
        secret = getattr(settings, name.lower())
        if secret is not None and 0 < len(secret.get_secret_value()) < SHORT_SECRET:
            print(
                f"warning: {name} is only {len(secret.get_secret_value())} characters long, too short to be a real "
                f"key: check .env and the environment",
                file=sys.stderr,
            )
    return settings


def parse_time(value: str, option: str = "--replay") -> datetime:
    """An ISO time in UTC, to the minute."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not a time; use ISO format like 2025-06-02T01:00 (UTC)") from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.replace(second=0, microsecond=0)


def day_or_time(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except ConfigError:
        raise ConfigError(
            f"{option}: {value!r} is not a date; use ISO format like 2025-06-01 or 2025-06-01T12:00 (UTC)"
        ) from None


def coin_list(values: list[str] | None) -> list[str] | None:
    """`--coins BTC ETH`, `--coins BTC,ETH` or `--coins BTC --coins ETH`."""
    names = [name.strip().upper() for value in values or [] for name in value.split(",") if name.strip()]
    return names or None


def write_report(folder: Path, write: Callable[[], list[Path]]) -> None:
    """Run ``write`` (the report's files into ``folder``) and say which files it wrote; a
    folder that cannot be written is the user's to fix (one line, exit 2)."""
    try:
        written = write()
    except OSError as exc:
        raise ConfigError(f"--out {folder}: cannot write the report ({exc.strerror}); pick a writable folder") from None
    print(f"report written: {', '.join(str(path) for path in written)}", file=sys.stderr)
