"""Strategies: one method, this tick's inputs in, a list of decisions out."""

from __future__ import annotations

from typing import Protocol

from bot.models import CoinFeatures, Decision, Portfolio
from bot.prompt import Prompt


class Strategy(Protocol):
    name: str

    async def decide(self, *, features: dict[str, CoinFeatures], portfolio: Portfolio, prompt: Prompt) -> list[Decision]:
        """Decisions for the coins the strategy wants to act on; coins left out HOLD."""
        ...
