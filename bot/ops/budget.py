"""What the LLM costs: dollars from token counts, spend per UTC day, the daily budget.

Anthropic bills four kinds of tokens at different rates: uncached input, output, cache
writes (1.25x input for the 5-minute cache) and cache reads (0.1x input). The API's
``input_tokens`` already excludes the cached ones, so the four counts add up without
double counting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from bot.config import ModelPrice
from bot.models import StrictModel, Usage

KEEP_DAYS = 31  # days of spend kept in state.json; the journal keeps every tick's usage


def priced(
    *,
    input_tokens: int,
    output_tokens: int,
    cache_write_tokens: int,
    cache_read_tokens: int,
    price: ModelPrice,
    thinking_tokens: int = 0,
) -> Usage:
    """One call's usage with its dollar cost (prices are USD per million tokens). Thinking
    tokens are part of ``output_tokens`` (the API's total is inclusive): priced once, as output."""
    cost = (
        input_tokens * price.input_usd_per_mtok
        + output_tokens * price.output_usd_per_mtok
        + cache_write_tokens * price.cache_write_usd_per_mtok
        + cache_read_tokens * price.cache_read_usd_per_mtok
    ) / 1_000_000
    uncached = (cache_write_tokens + cache_read_tokens) * price.input_usd_per_mtok / 1_000_000
    cached = (
        cache_write_tokens * price.cache_write_usd_per_mtok + cache_read_tokens * price.cache_read_usd_per_mtok
    ) / 1_000_000
    return Usage(
        calls=1,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        thinking_tokens=min(thinking_tokens, output_tokens),
        cache_write_tokens=cache_write_tokens,
        cache_read_tokens=cache_read_tokens,
        cost_usd=cost,
        cache_saved_usd=uncached - cached,
    )


def cache_hit_ratio(usage: Usage) -> float | None:
    """The share of prompt tokens read from the cache; None before any prompt."""
    prompt = usage.input_tokens + usage.cache_write_tokens + usage.cache_read_tokens
    return usage.cache_read_tokens / prompt if prompt else None


def utc_day(now: datetime) -> str:
    return now.date().isoformat()


class LlmLedger(StrictModel):
    """The LLM's spend per UTC day, and what the user must be told about it (in state.json)."""

    spend_by_day: dict[str, Usage] = Field(default_factory=dict)  # "YYYY-MM-DD" -> summed usage
    budget_notice_day: str = ""  # the day the budget fallback was announced (announced once a day)
    last_error: str = ""  # the last LLM failure; empty after a successful call
    # ticks in a row the API refused the request itself (a 4xx: a bug or a configuration), since when; 0 on an answer
    request_errors: int = 0
    request_error_since: datetime | None = None
    last_refusal: str = ""  # "<day> <category>" of the last answer Claude refused; empty after an answer
    model: str = ""  # the model of the last call, its lifecycle and scheduled retirement (Models API)
    lifecycle: str = ""
    retires_at: datetime | None = None
    profile_of: str = ""  # the provider whose profile stood in for the Models API it does not serve

    def note_model(self, trace: Any) -> None:
        """The model of the last call as its strategy's trace (``bot.tick.protocols.Trace``) says."""
        self.model, self.lifecycle, self.retires_at = trace.model, trace.lifecycle, trace.retires_at
        self.profile_of = trace.profile_of

    def spent(self, day: str) -> Usage:
        return self.spend_by_day.get(day, Usage())

    def add(self, day: str, usage: Usage) -> None:
        if usage.calls == 0:
            return
        self.spend_by_day[day] = self.spent(day).plus(usage)
        oldest = (datetime.fromisoformat(day) - timedelta(days=KEEP_DAYS)).date().isoformat()
        self.spend_by_day = {key: value for key, value in self.spend_by_day.items() if key > oldest}

    def exhausted(self, day: str, *, max_usd: float) -> bool:
        return self.spent(day).cost_usd >= max_usd
