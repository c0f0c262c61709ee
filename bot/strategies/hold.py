"""The strategy that decides nothing: who decides once the LLM's daily budget is spent
with `llm.fallback = "hold"`, and an arena candidate over its own budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.models import CoinFeatures, Decision, Portfolio
    from bot.tick.prompt import Prompt


class HoldStrategy:
    """Decides nothing: every coin holds."""

    name = "hold"

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: Prompt
    ) -> list[Decision]:
        return []
