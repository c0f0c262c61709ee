"""The `[llm]` settings (Claude as the strategy: model, limits, budget) and what is known
about each model: its list prices and its training-data cutoff."""

from __future__ import annotations

import json
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.config.base import Section, optional_url
from bot.errors import did_you_mean


class ModelPrice(Section):
    """USD per million tokens, as Anthropic publishes them (5-minute cache writes), and where
    and when the row was checked (a price without its source cannot be re-checked)."""

    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    cache_write_usd_per_mtok: float = Field(ge=0)
    cache_read_usd_per_mtok: float = Field(ge=0)
    checked: date | None = Field(None, description="the day the row was checked against `source`")
    source: str = Field("", description="the page the row was checked on")


PRICING = "https://platform.claude.com/docs/en/about-claude/pricing"


def _overview(slug: str) -> str:
    return f"https://platform.claude.com/docs/en/models/{slug}/overview"


def _price(input_usd: float, output_usd: float, *, read: float | None = None, checked: date, source: str) -> ModelPrice:
    """Anthropic's standard rates: 5-minute cache writes 1.25x input, cache reads 0.1x input
    unless the page says otherwise (``read``: several were cut in 2026-10)."""
    return ModelPrice(
        input_usd_per_mtok=input_usd,
        output_usd_per_mtok=output_usd,
        cache_write_usd_per_mtok=round(input_usd * 1.25, 6),
        cache_read_usd_per_mtok=round(input_usd * 0.1, 6) if read is None else read,
        checked=checked,
        source=source,
    )


# List prices of every model of the SDK's model list (anthropic/types/model_param.py) that the
# Models API lists as active or deprecated, each with the day and page it was checked on.
# Claude Mythos 5 and 5.1 (by invitation only, so a general key's Models API does not list them)
# are priced from the pricing page's own rows ("limited availability": Mythos 5 as Fable 5,
# Mythos 5.1 as Fable 5.1, read 0.25). Not priced: claude-mythos-5-2 and claude-mythos-preview,
# which have no row on the pages searched on _CUT; a config can add them under [llm.prices].
# Haiku 5.5's second rate card (prompts above 100K tokens) never applies to a tick's prompt.
# Rows checked on PRICES_CHECKED were carried over from the table of 2026-12-01; the cache-read
# cuts in force since 2026-10-07 (Sonnet 5.5 0.10, Opus 5.5 0.20, Fable 5.1 0.25; Fable 5.2
# 8 / 40 / 10 / 0.20) and Haiku 5.5's overview were checked on _CUT (issue 31).
PRICES_CHECKED = date(2026, 12, 1)
_CUT = date(2026, 12, 7)
DEFAULT_PRICES = {
    "claude-fable-5-2": ModelPrice(
        input_usd_per_mtok=8.0,
        output_usd_per_mtok=40.0,
        cache_write_usd_per_mtok=10.0,
        cache_read_usd_per_mtok=0.20,
        checked=_CUT,
        source=PRICING,
    ),
    "claude-fable-5-1": _price(10.0, 50.0, read=0.25, checked=_CUT, source=PRICING),
    "claude-fable-5": _price(10.0, 50.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-mythos-5-1": _price(10.0, 50.0, read=0.25, checked=_CUT, source=PRICING),
    "claude-mythos-5": _price(10.0, 50.0, checked=_CUT, source=PRICING),
    "claude-opus-5-5": _price(4.0, 20.0, read=0.20, checked=_CUT, source=PRICING),
    "claude-opus-5": _price(5.0, 25.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-opus-4-8": _price(5.0, 25.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-opus-4-7": _price(5.0, 25.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-opus-4-6": _price(5.0, 25.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-opus-4-5": _price(5.0, 25.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-sonnet-5-5": _price(2.0, 10.0, read=0.10, checked=_CUT, source=PRICING),
    "claude-sonnet-5": _price(2.0, 10.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-sonnet-4-6": _price(3.0, 15.0, checked=PRICES_CHECKED, source=PRICING),
    "claude-haiku-5-5": _price(0.10, 0.50, checked=_CUT, source=_overview("haiku-5-5")),
    "claude-haiku-4-5": _price(1.0, 5.0, checked=PRICES_CHECKED, source=_overview("haiku-4-5")),
}
DEFAULT_MODEL = "claude-sonnet-5-5"  # a current model fast enough for a 3-minute cadence: README "Choosing a model"


# The owner's notes ride in every request's cached prefix: 1,500 tokens (~6,000 characters, about
# one page) is room for a strategy and small next to the ~1,000-token rules they follow.
INSTRUCTIONS_MAX_TOKENS = 1500


def check_instructions(text: str, where: str) -> str:
    """``text`` stripped, or a ValueError saying by how much it is over the bound (4 characters a token)."""
    text = text.strip()
    tokens = -(-len(text) // 4)
    if tokens > INSTRUCTIONS_MAX_TOKENS:
        raise ValueError(
            f"{where} is ~{tokens:,} tokens ({len(text):,} characters), above the {INSTRUCTIONS_MAX_TOKENS:,}-token "
            "bound: shorten it"
        )
    return text


class LlmSettings(Section):
    """Claude as the strategy: the model, its limits, the daily budget and the price table."""

    provider: str = Field(
        "anthropic",
        pattern=r"^[a-z0-9_-]{1,30}$",
        description="anthropic, a built-in profile (deepseek, moonshot, zai, minimax, ollama) or a [providers.NAME] "
        'table: README "Other providers"',
    )
    model: str = Field(
        DEFAULT_MODEL,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$",
        description="Anthropic model id; must have a price in `llm.prices`",
    )
    effort: Literal["low", "medium", "high"] = Field(
        "low", description="output_config.effort, sent only where the model lists the level"
    )
    thinking: Literal["adaptive", "off"] = Field(
        "adaptive", description="adaptive where the model allows it; off where it can be turned off"
    )
    output: Literal["auto", "tool"] = Field(
        "auto", description="auto: output_config.format where the model has structured outputs; tool: a strict tool"
    )
    capabilities_ttl_hours: float = Field(
        24.0, ge=0, le=24 * 30, description="reuse the Models API answer cached in var/cache for this long"
    )
    memory_trades: int = Field(
        10, ge=0, le=50, description="the last N closed trades shown in the prompt; 0 = no trade memory"
    )
    memory_max_tokens: int = Field(
        600, ge=0, le=4000, description="cap on the trade memory's size in the prompt (about 4 characters a token)"
    )
    base_url: str | None = Field(
        None, description="Messages API host (proxy, local fake); default: ANTHROPIC_BASE_URL or Anthropic's"
    )
    max_tokens: int = Field(2048, ge=256, le=16_000, description="cap on the answer's tokens")
    timeout_s: float = Field(40.0, gt=0, le=150, description="per HTTP request")
    retries: int = Field(
        2, ge=0, le=5, description="the SDK's own retries on 408/409/429/5xx/overloaded and connection errors"
    )
    deadline_s: float = Field(90.0, gt=0, le=150, description="the whole LLM step, retries included; then HOLD")
    max_usd_per_day: float = Field(
        10.0, ge=0, description="daily budget (UTC day); reached: `llm.fallback` decides until midnight"
    )
    fallback: Literal["rules", "hold"] = Field("rules", description="who decides once the daily budget is spent")
    on_error: Literal["hold", "rules"] = Field(
        "hold",
        description=(
            "while the API refuses the request itself (400/401/403/404/413: a bug or a configuration, not an "
            "outage): hold (failed ticks: backoff, self-pause) or let the rules decide"
        ),
    )
    instructions: str = Field(
        "",
        description=(
            "the owner's strategy notes, appended to the static system prompt (cached); at most "
            "INSTRUCTIONS_MAX_TOKENS tokens"
        ),
    )
    instructions_file: str | None = Field(
        None, description="the same notes from a text file (relative to config.toml's folder); not with `instructions`"
    )
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES), description="USD per million tokens per model"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_has_scheme(cls, value: str | None) -> str | None:
        return optional_url(value)

    @field_validator("instructions")
    @classmethod
    def _instructions_fit(cls, text: str) -> str:
        return check_instructions(text, "llm.instructions")

    @field_validator("prices")
    @classmethod
    def _keep_default_prices(cls, prices: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        return {**DEFAULT_PRICES, **prices}  # a config adding one model keeps the others

    @model_validator(mode="after")
    def _model_has_a_price(self) -> LlmSettings:
        if self.model not in self.prices and self._profile_price() is None and not self._custom_provider():
            raise ValueError(
                f"model {self.model!r} has no price: add [llm.prices.{json.dumps(self.model)}] to config.toml"
                f"{did_you_mean(self.model, list(self.prices))}"
            )
        if self.instructions and self.instructions_file:
            raise ValueError("set llm.instructions or llm.instructions_file, not both")
        if self.deadline_s < self.timeout_s:
            raise ValueError(f"deadline_s ({self.deadline_s:g}) must be at least timeout_s ({self.timeout_s:g})")
        return self

    @property
    def price(self) -> ModelPrice:
        price = self.prices.get(self.model) or self._profile_price()
        if price is None:  # a [providers.NAME] model: Settings merged its rows into `prices`, or refused it
            raise KeyError(self.model)
        return price

    def _profile_price(self) -> ModelPrice | None:
        from bot.config.providers import BUILTIN_PROVIDERS

        profile = BUILTIN_PROVIDERS.get(self.provider)
        return profile.price_of(self.model) if profile else None

    def _custom_provider(self) -> bool:
        """A provider of config.toml's [providers] table: its price rows are checked by ``Settings``."""
        from bot.config.providers import ANTHROPIC, BUILTIN_PROVIDERS

        return self.provider != ANTHROPIC and self.provider not in BUILTIN_PROVIDERS


# Training-data cutoffs as Anthropic publishes them (the later "training data" date, not
# the "reliable knowledge" one: the model may remember anything up to it), end of month.
# Sources, checked on 2026-12-07 (issue 31):
# - Haiku 5.5, Sonnet 5.5, Opus 5.5, Fable 5.1, Fable 5.2: "Knowledge cutoff Jun 2026" in the lineup
#   tables of https://platform.claude.com/docs/en/models/haiku-5-5/overview and .../opus-5/overview.
# - Opus 5: "Training data cutoff May 2026" (https://platform.claude.com/docs/en/models/opus-5/overview).
# - Opus 4.5: "Training data cutoff Aug 2025" (https://platform.claude.com/docs/en/models/opus-4-5/overview).
# - Opus 4.7: "Knowledge cutoff: January 2026" on AWS's model card (Anthropic's page was not found):
#   https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-opus-4-7.html
# - Fable 5 (Mythos 5 shares its specifications) and Opus 4.8: no training-data cutoff found on any page
#   searched (Fable 5 has only a "reliable knowledge cutoff Jan 2026", which understates what it may
#   remember). Their release day stands in: a bound the cutoff cannot pass, so a backtest is flagged
#   for every day it might remember (Fable 5 released 2026-06-09, its overview page; Opus 4.8
#   2026-05-28, its overview page). Mythos 5.1 shares Fable 5.1's page and cutoff.
# - Sonnet 4.6, Haiku 4.5, Opus 4.6, Sonnet 5: carried over from the table of 2026-12-01.
DEFAULT_KNOWLEDGE_CUTOFFS = {
    "claude-haiku-5-5": date(2026, 6, 30),
    "claude-sonnet-4-6": date(2025, 8, 31),
    "claude-haiku-4-5": date(2025, 7, 31),
    "claude-opus-4-5": date(2025, 8, 31),
    "claude-opus-4-6": date(2025, 8, 31),
    "claude-opus-4-7": date(2026, 1, 31),
    "claude-opus-4-8": date(2026, 5, 28),  # release day: no published cutoff found
    "claude-opus-5": date(2026, 5, 31),
    "claude-sonnet-5": date(2026, 1, 31),
    "claude-sonnet-5-5": date(2026, 6, 30),
    "claude-opus-5-5": date(2026, 6, 30),
    "claude-fable-5": date(2026, 6, 9),  # release day: no published training-data cutoff found
    "claude-fable-5-1": date(2026, 6, 30),
    "claude-fable-5-2": date(2026, 6, 30),
    "claude-mythos-5": date(2026, 6, 9),  # as Fable 5
    "claude-mythos-5-1": date(2026, 6, 30),  # as Fable 5.1
}
