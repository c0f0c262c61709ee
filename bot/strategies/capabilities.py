"""What the configured model accepts, read from the Models API once and cached under var/cache.

``GET /v1/models/{id}`` answers the model's capabilities (structured outputs, thinking
types, effort levels, max tokens) and its lifecycle (active, deprecated with a
retirement date, retired). The request is built from them (``bot.strategies.request``)
so the bot never sends a parameter the model rejects. The answer is kept in
``var/cache/models/<id>.json`` for ``llm.capabilities_ttl_hours``; a backtest reads the
cache whatever its age (a missing entry is fetched once). When a refresh fails for a
passing reason (network, 5xx) a stale entry is used rather than holding the tick.

A retired or unknown model is the user's to fix: a ``ConfigError`` (exit 2) naming
active models. A deprecated one works; its retirement date reaches ``bot status``.

Another provider (``bot.config.providers``) may not serve the Models API at all: where it
answers 404 (or 405 / 501), or answers in another API's shape (Ollama serves OpenAI's
``/v1/models/{model}`` at the same path), the provider's profile stands in (``profile_caps``, cached the
same way, ``source = "profile"``); where it answers, its answer wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import Field, ValidationError

from bot.errors import ConfigError
from bot.models import StrictModel

log = structlog.get_logger(__name__)


class ModelCaps(StrictModel):
    """The part of the Models API's ``ModelInfo`` a request depends on."""

    id: str
    display_name: str = ""
    lifecycle: Literal["active", "deprecated", "retired"]
    retires_at: datetime | None = None
    max_tokens: int | None = None
    structured_outputs: bool = False
    thinking: bool = False
    thinking_types: list[str] = Field(default_factory=list)  # accepted `thinking.type` values
    effort_levels: list[str] = Field(default_factory=list)  # accepted `output_config.effort` values; [] = no effort
    tools: bool = True  # tool use; false: the answer is asked for as JSON text (a provider's profile)
    forced_tool: bool = True  # tool_choice {type: tool}
    cache_control: bool = True  # cache_control breakpoints
    source: Literal["models_api", "profile"] = "models_api"
    fetched_at: datetime


def profile_caps(profile: Any, model: str, *, fetched_at: datetime) -> ModelCaps:
    """What a provider's profile (``bot.config.providers.ProviderProfile``) says ``model`` accepts."""
    return ModelCaps(
        id=model,
        lifecycle="active",
        max_tokens=profile.max_tokens,
        structured_outputs=profile.structured_outputs,
        thinking=bool(profile.thinking_types),
        thinking_types=list(profile.thinking_types),
        effort_levels=list(profile.effort_levels),
        tools=profile.tools,
        forced_tool=profile.forced_tool,
        cache_control=profile.cache_control,
        source="profile",
        fetched_at=fetched_at,
    )


def caps_of(info: Any, *, fetched_at: datetime) -> ModelCaps:
    """``ModelCaps`` from the SDK's ``ModelInfo`` (absent capabilities read as unsupported)."""
    caps = info.capabilities
    thinking = getattr(caps, "thinking", None)
    effort = getattr(caps, "effort", None)
    types = getattr(thinking, "types", None)
    return ModelCaps(
        id=info.id,
        display_name=info.display_name or "",
        lifecycle=info.lifecycle,
        retires_at=info.retires_at,
        max_tokens=info.max_tokens,
        structured_outputs=bool(caps and caps.structured_outputs.supported),
        thinking=bool(thinking and thinking.supported),
        thinking_types=[
            name for name in ("adaptive", "between_tools", "disabled", "enabled") if types and _on(types, name)
        ],
        effort_levels=[
            level
            for level in ("low", "medium", "high", "xhigh", "max")
            if effort and effort.supported and _on(effort, level)
        ],
        fetched_at=fetched_at,
    )


def _on(group: Any, name: str) -> bool:
    support = getattr(group, name, None)
    return bool(support and support.supported)


async def read_caps(
    client: Any,
    model: str,
    *,
    cache_dir: Path | None,
    now: datetime,
    ttl: timedelta | None,
    priced: Collection[str] = (),
    fresh: bool = False,
    profile: Any = None,
) -> ModelCaps:
    """The model's capabilities: from the cache when fresh enough, else from the Models API.

    ``ttl`` None (backtests): any cached entry is used; ``fresh``: the Models API is asked
    whatever the cache holds (a 404 from the Messages API mid-run). Raises ``ConfigError``
    for a retired or unknown model, naming active models that have a price in ``priced``;
    other API failures propagate (the caller holds the tick). ``profile``: a provider's
    profile, used where its Models API is not served (``profile_caps``).
    """
    import anthropic

    cached = None if fresh else _load(cache_dir, model)
    if cached is not None and (ttl is None or now - cached.fetched_at < ttl):
        return _usable(cached, await _alternatives(client, priced) if cached.lifecycle == "retired" else [])
    try:
        info = await client.models.retrieve(model)
        if profile is not None and getattr(info, "lifecycle", None) is None:  # not the Anthropic Models API's answer
            return _from_profile(profile, model, now, cache_dir, why="another shape")
        caps = caps_of(info, fetched_at=now)
    except anthropic.APIError as exc:
        if profile is not None and getattr(exc, "status_code", None) in _NOT_SERVED:
            return _from_profile(profile, model, now, cache_dir, why=str(exc.status_code))
        if isinstance(exc, anthropic.NotFoundError):
            raise ConfigError(
                f"llm.model {model!r} is not a model the Anthropic API knows (404): "
                "set llm.model in config.toml to an active one"
                f"{_named(await _alternatives(client, priced))}"
            ) from None
        passing = (anthropic.APIConnectionError, anthropic.InternalServerError, anthropic.RateLimitError)
        if cached is None or not isinstance(exc, passing):
            raise
        log.warning("model_capabilities_stale", model=model, fetched_at=cached.fetched_at.isoformat())
        return _usable(cached, [])
    _save(cache_dir, caps)
    return _usable(caps, await _alternatives(client, priced) if caps.lifecycle == "retired" else [])


_NOT_SERVED = frozenset({404, 405, 501})  # a provider without the Models API: its profile stands in


def _from_profile(profile: Any, model: str, now: datetime, cache_dir: Path | None, *, why: str) -> ModelCaps:
    caps = profile_caps(profile, model, fetched_at=now)
    log.info("model_capabilities_from_profile", model=model, models_api=why)
    _save(cache_dir, caps)
    return caps


async def list_caps(client: Any, *, cache_dir: Path | None, now: datetime) -> list[ModelCaps]:
    """Every model the Models API lists as active or deprecated, each answer cached as
    ``read_caps`` caches it (the next tick on one of them need not ask again). API failures
    propagate: the caller says what happened."""
    listed = []
    async for info in client.models.list(lifecycle=["active", "deprecated"], limit=100):
        caps = caps_of(info, fetched_at=now)
        _save(cache_dir, caps)
        listed.append(caps)
    return listed


def _usable(caps: ModelCaps, alternatives: list[str]) -> ModelCaps:
    if caps.lifecycle == "retired":
        raise ConfigError(
            f"llm.model {caps.id!r} is retired: Anthropic no longer serves it; "
            f"set llm.model in config.toml to an active model{_named(alternatives)}"
        )
    return caps


def _named(models: list[str]) -> str:
    return f", e.g. {', '.join(models)}" if models else ""


async def _alternatives(client: Any, priced: Collection[str], limit: int = 5) -> list[str]:
    """Active models that have a price (a model without one would be refused by the
    config), newest first, as the Models API lists them (empty if it cannot)."""
    import anthropic

    names: list[str] = []
    try:
        async for info in client.models.list(lifecycle=["active"], limit=20):
            if info.id not in priced:
                continue
            names.append(info.id)
            if len(names) >= limit:
                break
    except anthropic.APIError:
        return []
    return names


def _path(cache_dir: Path, model: str) -> Path:
    return cache_dir / "models" / f"{model.replace('/', '_')}.json"


def _load(cache_dir: Path | None, model: str) -> ModelCaps | None:
    if cache_dir is None:
        return None
    try:
        return ModelCaps.model_validate_json(_path(cache_dir, model).read_bytes())
    except (OSError, ValidationError):
        return None  # absent or unreadable: fetched again


def _save(cache_dir: Path | None, caps: ModelCaps) -> None:
    if cache_dir is None:
        return
    path = _path(cache_dir, caps.id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(caps.model_dump(mode="json"), indent=1))
        os.replace(temporary, path)
    except OSError as exc:  # a cache that cannot be written costs one more lookup next tick, nothing else
        log.warning("model_capabilities_not_cached", path=str(path), error=str(exc))
