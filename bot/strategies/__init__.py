"""Strategies: one method, this tick's inputs in, a list of decisions out (the
``Strategy`` protocol lives with the tick, in ``bot.tick.protocols``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bot.config import Settings
from bot.errors import ConfigError
from bot.models import CoinFeatures, Decision, Portfolio
from bot.tick.protocols import PromptView, Strategy


class HoldStrategy:
    """Decides nothing: every coin holds (the budget fallback when `llm.fallback = "hold"`)."""

    name = "hold"
    trace = None  # free: nothing to account

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        return []


def build_strategies(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> tuple[Strategy, Strategy | None]:
    """The configured strategy and, for Claude, the one that decides once the daily budget is spent.

    `strategy.name = "auto"` picks Claude when ANTHROPIC_API_KEY is set, else the rules;
    "claude" without a key is a configuration error rather than a silent switch. ``clock``
    ages the cached Models API answer (``llm.capabilities_ttl_hours``).
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
    claude = ClaudeStrategy(
        settings.llm,
        max_leverage=settings.risk.max_leverage,
        api_key=key,
        cache_dir=settings.var_dir / "cache",
        capabilities_ttl=timedelta(hours=settings.llm.capabilities_ttl_hours),
        **({"clock": clock} if clock else {}),
    )
    return claude, fallback
