"""The `[backtest]` settings: the LLM cost guard and the look-ahead warnings."""

from __future__ import annotations

from datetime import date

from pydantic import Field, field_validator

from bot.config.base import Section
from bot.config.llm import DEFAULT_KNOWLEDGE_CUTOFFS


class BacktestSettings(Section):
    """`bot backtest`: LLM cost guard and look-ahead warnings."""

    max_cost_usd: float = Field(
        1.0,
        ge=0,
        description="an LLM backtest estimated above this stops before calling the API (override: --max-cost, --yes)",
    )
    output_tokens_per_decision: int = Field(
        400, ge=1, le=16_000, description="answer tokens assumed per LLM call in the cost estimate"
    )
    blind: bool = Field(
        False,
        description="ask the strategy blind: coins as labels, prices rescaled, times from the run's start, no news "
        "(measures what the model remembers of the span; override: --blind)",
    )
    skip_quiet_ticks: bool = Field(
        True,
        description="a rules backtest runs the tick only where something can happen (a signal, a stop or take-profit "
        "inside the candle, funding, a new UTC day) and books the quiet ticks between: the same report, faster "
        "(override: --no-skip)",
    )
    blind_seed: int = Field(1, description="the seed of a blind run's labels and price factors")
    knowledge_cutoffs: dict[str, date] = Field(
        default_factory=lambda: dict(DEFAULT_KNOWLEDGE_CUTOFFS),
        description="training-data cutoff per model: a backtest over earlier prices is flagged as look-ahead",
    )

    @field_validator("knowledge_cutoffs")
    @classmethod
    def _keep_default_cutoffs(cls, cutoffs: dict[str, date]) -> dict[str, date]:
        return {**DEFAULT_KNOWLEDGE_CUTOFFS, **cutoffs}  # a config adding one model keeps the others
