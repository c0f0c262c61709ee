"""Strategies: one method, this tick's inputs in, a list of decisions out.

A strategy that pays per call also exposes ``trace`` (a ``Trace``), refreshed by every
``decide``: the engine reads it after deciding, whether ``decide`` returned or raised,
to account the tokens, journal the refused entries and keep the audit record.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import Field

from bot.config import Settings
from bot.errors import ConfigError
from bot.models import CoinFeatures, Decision, Portfolio, StrictModel, Usage
from bot.prompt import Prompt


class Strategy(Protocol):
    name: str

    async def decide(self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: Prompt) -> list[Decision]:
        """Decisions for the coins the strategy wants to act on; coins left out HOLD."""
        ...


class Trace(StrictModel):
    """What a paid strategy reports besides its decisions."""

    usage: Usage = Field(default_factory=Usage)
    invalid: dict[str, str] = Field(default_factory=dict)  # coin -> why its entry was refused and held
    audit: dict[str, Any] | None = None  # prompt, raw answer, validated decisions: var/llm/<tick_id>.json


class HoldStrategy:
    """Decides nothing: every coin holds (the budget fallback when `llm.fallback = "hold"`)."""

    name = "hold"

    async def decide(self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: Prompt) -> list[Decision]:
        return []


def build_strategies(settings: Settings) -> tuple[Strategy, Strategy | None]:
    """The configured strategy and, for Claude, the one that decides once the daily budget is spent.

    `strategy.name = "auto"` picks Claude when ANTHROPIC_API_KEY is set, else the rules;
    "claude" without a key is a configuration error rather than a silent switch.
    """
    from bot.strategies.rules import RulesStrategy

    rules = RulesStrategy(settings.rules)
    key = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else ""
    wanted = settings.strategy.name
    if wanted == "rules" or (wanted == "auto" and not key):
        return rules, None
    if not key:
        raise ConfigError(
            '`strategy.name = "claude"` needs ANTHROPIC_API_KEY in the environment or in .env beside config.toml '
            '(or set strategy.name = "rules")'
        )
    from bot.strategies.claude import ClaudeStrategy

    fallback: Strategy = rules if settings.llm.fallback == "rules" else HoldStrategy()
    return ClaudeStrategy(settings.llm, max_leverage=settings.risk.max_leverage, api_key=key), fallback
