"""The strategy that decides nothing: who decides once the LLM's daily budget is spent
with `llm.fallback = "hold"`, and an arena candidate over its own budget."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.models import CoinFeatures, Decision, Portfolio
    from bot.tick.protocols import PromptView


class HoldStrategy:
    """Decides nothing: every coin holds."""

    name = "hold"
    trace = None  # free: nothing to account

    async def decide(
        self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: PromptView
    ) -> list[Decision]:
        return []
