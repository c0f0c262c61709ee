"""The one list of strategy kinds: a name, how to build it from the settings, whether it
asks a paid API (and which key it needs). Everything that picks a strategy goes through
``build``: `bot tick` (live and replay), `bot backtest`, the arena's candidates and a
sweep's cells; the CLI's help lists ``names()``. A new strategy is a module in
``bot/strategies/`` and one row in ``KINDS``.

The configuration holds the name as a plain string (config may not import strategies):
``kind_of`` checks it, with a "did you mean", when the strategy is built, which every
command does before it trades. This module imports nothing heavy (each row imports its
strategy when it builds it), so `bot --help` can list the kinds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.tick.protocols import Strategy

AUTO = "auto"  # `strategy.name = "auto"`: the paid kind when its key is set, else the baseline
BASELINE = "rules"  # what "auto" falls back to, and what a backtest or a sweep runs for "auto"
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Kind:
    """One kind of strategy. ``build`` is handed the settings, the key (when ``secret``
    names one) and the clock that ages cached answers (None in a backtest: any age)."""

    name: str
    summary: str  # one line for the CLI's help
    build: Callable[[Settings, str, Clock | None], Strategy]
    secret: str | None = None  # the Settings field of the key it needs, e.g. "anthropic_api_key"
    # A paid kind spends the daily LLM budget (`llm.fallback` decides once it is spent); in
    # a backtest it goes through the decision cache and the cost gate, its answers keyed by
    # ``identity`` (what shapes an answer besides the prompt).
    paid: bool = False
    identity: Callable[[Settings], dict] | None = None

    def key_name(self, settings: Settings) -> str:
        """The variable the key is read from: ANTHROPIC_API_KEY, or the `llm.provider`'s `api_key_env`."""
        profile = _provider(settings) if self.secret == "anthropic_api_key" else None
        return profile.api_key_env if profile else (self.secret or "").upper()

    def key(self, settings: Settings) -> str:
        profile = _provider(settings) if self.secret == "anthropic_api_key" else None
        if profile is not None:
            # a local server that ignores the key still needs one for the SDK's header check
            return settings.provider_key(profile) or ("" if profile.key_required else "unused")
        value = getattr(settings, self.secret) if self.secret else None
        return value.get_secret_value() if value else ""


def _provider(settings: Settings):  # -> ProviderProfile | None (config types stay out of this light module)
    """The `llm.provider` profile, None for Anthropic itself; an unknown name is a ConfigError."""
    from bot.config.providers import ANTHROPIC

    name = settings.llm.provider
    if name == ANTHROPIC:
        return None
    profile = settings.provider(name)
    if profile is None:
        raise ConfigError(f"llm.provider {name!r} is not a provider: add [providers.{name}] or use a built-in one")
    return profile


def _rules(settings: Settings, _key: str, _clock: Clock | None) -> Strategy:
    from bot.strategies.rules import RulesStrategy

    return RulesStrategy(settings.rules, paper=settings.paper)


def _claude(settings: Settings, key: str, clock: Clock | None) -> Strategy:
    from bot.strategies.claude import ClaudeStrategy

    # a tick ages the cached Models API answer (`llm.capabilities_ttl_hours`); a backtest
    # takes whatever var/cache holds, whatever its age (a missing model is looked up once)
    aged = {"clock": clock, "capabilities_ttl": timedelta(hours=settings.llm.capabilities_ttl_hours)} if clock else {}
    llm = settings.llm
    profile = _provider(settings)
    if profile is not None:  # its own host (llm.base_url still wins: a proxy, a local fake) and price rows
        prices = {**({llm.model: price} if (price := profile.price_of(llm.model)) else {}), **llm.prices}
        llm = llm.model_copy(update={"base_url": llm.base_url or profile.base_url, "prices": prices})
    elif llm.base_url is None and settings.anthropic_base_url:  # ANTHROPIC_BASE_URL from .env, as the key
        llm = llm.model_copy(update={"base_url": settings.anthropic_base_url})
    return ClaudeStrategy(llm, api_key=key, cache_dir=settings.var_dir / "cache", provider=profile, **aged)


def _claude_identity(settings: Settings) -> dict:
    from bot.strategies.claude import tool_schema

    llm = settings.llm
    return {
        "model": llm.model,
        "max_tokens": llm.max_tokens,
        "max_leverage": settings.risk.max_leverage,
        "tool": tool_schema(),
        "effort": llm.effort,
        "thinking": llm.thinking,
        "output": llm.output,
        **({"provider": llm.provider} if llm.provider != "anthropic" else {}),  # Claude's cached answers stay valid
    }


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("rules", "the rule-based baseline (trend, momentum, ATR stops)", _rules),
        Kind(
            "claude",
            "asks Claude ([llm]), needs ANTHROPIC_API_KEY",
            _claude,
            secret="anthropic_api_key",
            paid=True,
            identity=_claude_identity,
        ),
    )
}


def names(*, auto: bool = False) -> list[str]:
    """The kinds' names (and "auto" where a setting accepts it), for help texts and errors."""
    return [*([AUTO] if auto else []), *KINDS]


def kind_of(name: str, *, option: str = "strategy.name", auto: bool = False) -> Kind:
    """The kind called ``name``; an unknown one is a ConfigError naming ``option``.
    "auto" (where allowed) is resolved by ``build``, not here."""
    choices = names(auto=auto)
    if name not in choices:
        shown = option if option.startswith(("--", "[")) else f"`{option}`"
        raise ConfigError(f"{shown} {name!r}: use one of {', '.join(choices)}{did_you_mean(name, choices)}")
    return KINDS[BASELINE] if name == AUTO else KINDS[name]


def resolve(settings: Settings, name: str | None = None, *, option: str = "strategy.name") -> Kind:
    """The kind that decides: ``name`` (default `strategy.name`); "auto" is the paid kind
    whose key is set, else the baseline."""
    name = settings.strategy.name if name is None else name
    kind_of(name, option=option, auto=True)
    if name != AUTO:
        return KINDS[name]
    return next((kind for kind in KINDS.values() if kind.paid and kind.key(settings)), KINDS[BASELINE])


def build(
    settings: Settings, name: str | None = None, *, clock: Clock | None = None, option: str = "strategy.name"
) -> Strategy:
    """The strategy ``name`` (default `strategy.name`) built from ``settings``; a kind
    missing its key is a ConfigError rather than a silent switch."""
    kind = resolve(settings, name, option=option)
    key = kind.key(settings)
    if kind.secret and not key:
        named, instead = (
            (f"{option} {kind.name}", f"use {option} {BASELINE}")
            if option.startswith("--")
            else (f'`{option} = "{kind.name}"`', f'set {option} = "{BASELINE}"')
        )
        raise ConfigError(
            f"{named} needs {kind.key_name(settings)} in the environment or in .env beside config.toml (or {instead})"
        )
    return kind.build(settings, key, clock)


def fallback(settings: Settings) -> Strategy:
    """Who decides once the daily LLM budget is spent (`llm.fallback`): the rules, or nobody."""
    from bot.strategies.hold import HoldStrategy

    return build(settings, BASELINE) if settings.llm.fallback == "rules" else HoldStrategy()


def on_error(settings: Settings) -> Strategy | None:
    """Who decides while the LLM API refuses the request itself (`llm.on_error`): the rules,
    or nobody (None: the tick fails and holds)."""
    return build(settings, BASELINE) if settings.llm.on_error == "rules" else None


def identity(kind: Kind, settings: Settings) -> str:
    """A paid kind's decision-cache identity: a changed model or limit never reuses an answer."""
    assert kind.identity is not None, f"{kind.name} is paid and needs an identity"
    return json.dumps(kind.identity(settings), sort_keys=True)
