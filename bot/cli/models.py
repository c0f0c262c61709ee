"""`bot models`: every model the Models API lists that the bot can use (it has a price), with
the request the bot would send it, its price and source, its cutoff and what a day costs.

The one command besides `bot tick` that talks to Anthropic: it needs ANTHROPIC_API_KEY
(exit 2 without one, or when the key is refused) and a reachable API (exit 3 when it is
down: nothing to show). The rows are built in ``bot.strategies.catalog``; the SDK is
imported when the command runs, never by `bot --help` or `bot status`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer

from bot.cli.base import ConfigOption, JsonOption, ReplayOption, app, load, wall_clock
from bot.errors import ConfigError, ModelsApiError


@app.command()
def models(replay: ReplayOption = False, as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List the models Anthropic serves that the bot knows: request shape, price, cutoff, $ per day (needs the API)."""
    from bot.strategies.cache_floor import load_floors
    from bot.strategies.catalog import model_row
    from bot.tick.prompt import system_prompt

    settings = load(config)
    if settings.anthropic_api_key is None or not settings.anthropic_api_key.get_secret_value():
        raise ConfigError("bot models reads Anthropic's Models API: set ANTHROPIC_API_KEY in the environment or .env")
    llm = settings.llm
    if llm.base_url is None and settings.anthropic_base_url:  # ANTHROPIC_BASE_URL from .env, as a tick reads it
        llm = llm.model_copy(update={"base_url": settings.anthropic_base_url})
    cache_dir = settings.var_dir / "cache"
    listed = asyncio.run(_listed(settings.anthropic_api_key.get_secret_value(), llm, cache_dir))
    floors = load_floors(cache_dir)
    journal = _journal(settings.run_dir(replay=replay) / "journal.jsonl")
    system = system_prompt(settings)
    cutoffs = settings.backtest.knowledge_cutoffs
    rows = [
        model_row(
            caps,
            llm=llm,
            system=system,
            coins=len(settings.trading.coins),
            cutoff=cutoffs.get(caps.id),
            floor=floors.get(caps.id),
            journal=journal,
        )
        for caps in listed
        if caps.id in llm.prices
    ]
    unpriced = [caps.id for caps in listed if caps.id not in llm.prices]
    if as_json:
        payload = {"models": [row.model_dump(mode="json") for row in rows], "unpriced": unpriced}
        typer.echo(json.dumps(payload, indent=2))
        return
    for row in rows:
        _print_row(row, current=row.id == settings.llm.model)
    if unpriced:
        typer.echo("listed without a price (add one under [llm.prices] to use it):")
        typer.echo("\n".join(f"  {model}" for model in unpriced))


async def _listed(api_key: str, llm, cache_dir) -> list:
    """The Models API's active and deprecated models; its failures as one line each."""
    import anthropic

    from bot.strategies.capabilities import list_caps

    client = anthropic.AsyncAnthropic(
        api_key=api_key, base_url=llm.base_url, max_retries=llm.retries, timeout=llm.timeout_s
    )
    async with client:
        try:
            return await list_caps(client, cache_dir=cache_dir, now=wall_clock())
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            raise ConfigError(
                f"Anthropic refused ANTHROPIC_API_KEY ({exc.status_code} {exc.type or 'error'}): set a valid key "
                "in the "
                "environment or .env"
            ) from None
        except anthropic.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__
            why = type(cause).__name__ if cause else "connection error"
            raise ModelsApiError(
                f"cannot reach the Anthropic Models API at {client.base_url} ({why}): try again later"
            ) from None
        except anthropic.APIStatusError as exc:
            raise ModelsApiError(
                f"the Anthropic Models API answered {exc.status_code} ({exc.type or 'error'}: "
                f"{exc.api_message or 'no message'}): try again later"
            ) from None


def _journal(path) -> list[dict[str, Any]]:
    """The journal's records, newest first (none without a journal)."""
    from bot.ops.journal import Journal

    return list(Journal(path).newest_first()) if path.exists() else []


def _print_row(row, *, current: bool) -> None:
    """One model in a few lines under 80 columns (the source page on its own line)."""
    lifecycle = row.lifecycle + (f", retires {row.retires_at:%Y-%m-%d}" if row.retires_at else "")
    effort = f", effort {row.effort}" if row.effort else ""
    price = row.price
    cost = row.per_tick
    if cost.measured_ticks:
        source = f"measured: the journal's last {cost.measured_ticks} ticks on it"
    else:
        cache = {True: "prefix cached", False: "prefix below the cache minimum", None: "caching unknown: uncached"}
        source = f"estimate: prompt size, no thinking, {cache[cost.cached]}"
    lines = [
        f"{row.id}{' (llm.model)' if current else ''} · {lifecycle}",
        f"  request  {row.shape}, thinking {row.thinking}{effort}",
        f"  price    {price.input_usd_per_mtok:g} / {price.output_usd_per_mtok:g} / {price.cache_write_usd_per_mtok:g}"
        f" / {price.cache_read_usd_per_mtok:g} USD per MTok (in / out / cache write / read)",
        f"  source   {price.source or 'config.toml'}",
        f"  checked  {price.checked or 'never'}",
        f"  cutoff   {row.knowledge_cutoff or 'unknown'} · cache minimum: {row.cache_minimum}",
        f"  per tick {cost.prompt_tokens:,} + {cost.output_tokens:,} tokens · "
        f"{cost.usd_per_day:.2f} USD/day at 480 ticks",
        f"           ({source})",
        *(f"  note     {note}" for note in row.notes),
    ]
    typer.echo("\n".join(lines))
