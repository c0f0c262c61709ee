"""`bot models`: what each model the Models API lists would be to this bot, pure.

One row per listed model (active or deprecated) that has a price: its lifecycle, the
request the bot would send it (shape, thinking, effort: ``bot.strategies.request``), its
price row with the day and page it was checked on, its knowledge cutoff, and what a tick
costs. The cost is measured where the journal holds ticks answered by that model (the
mean of their ``usage`` over the last ``MEASURED_TICKS``), else estimated from this
config's prompt: the static prefix (schema or tool, system text) as the bot would send
it, ``USER_CHARS_PER_COIN`` of market data per coin, ``ANSWER_TOKENS`` out, thinking
left out (it depends on the model and cannot be known before an answer). The estimate
counts the prefix as cached only where the model's answers showed that a prefix that
long is cached (``bot.strategies.cache_floor``); unknown is priced uncached.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import Field

from bot.config import LlmSettings, ModelPrice
from bot.models import StrictModel, Usage
from bot.strategies.cache_floor import CacheFloor
from bot.strategies.capabilities import ModelCaps
from bot.strategies.request import breakpoint_prefixes, build_request, estimated_tokens

TICKS_PER_DAY = 480  # one tick every 3 minutes
MEASURED_TICKS = 50  # the journal's last ticks per model that a measurement averages
# The user turn per coin and the answer, measured on the bundled sample (2025-06-03 12:00, six coins, no
# positions: 5,179 characters of user turn; bench/claude_models.py's representative answer: 953 characters).
USER_CHARS_PER_COIN = 860
ANSWER_TOKENS = 240


class TickCost(StrictModel):
    """Tokens of one tick and dollars of a day of ticks, and where the figures come from."""

    prompt_tokens: int  # input + cache writes + cache reads
    output_tokens: int
    usd_per_day: float
    measured_ticks: int = 0  # 0: an estimate from the prompt size
    cached: bool | None = None  # estimate: whether the prefix is cached on this model (None: not known)


class ModelRow(StrictModel):
    id: str
    display_name: str = ""
    lifecycle: str
    retires_at: datetime | None = None
    shape: str
    thinking: str  # the thinking type sent, or "default" / "none"
    effort: str | None = None
    price: ModelPrice
    knowledge_cutoff: date | None = None
    cache_minimum: str = "unknown"  # what the API's answers say of the minimum cacheable prefix, in tokens
    per_tick: TickCost
    notes: list[str] = Field(default_factory=list)


def measured(records: Iterable[dict[str, Any]], model: str, price: ModelPrice) -> TickCost | None:
    """The mean tick of ``model`` in journal records (newest first), None when there is none."""
    usages = []
    for record in records:
        usage = record.get("usage") or {}
        if record.get("model") == model and usage.get("calls"):
            usages.append(Usage.model_validate(usage))
            if len(usages) >= MEASURED_TICKS:
                break
    if not usages:
        return None
    count = len(usages)
    prompt = sum(u.input_tokens + u.cache_write_tokens + u.cache_read_tokens for u in usages) / count
    output = sum(u.output_tokens for u in usages) / count
    cost = sum(u.cost_usd for u in usages) / count
    return TickCost(
        prompt_tokens=round(prompt), output_tokens=round(output), usd_per_day=cost * TICKS_PER_DAY, measured_ticks=count
    )


def estimated(prefix: int, user: int, price: ModelPrice, floor: CacheFloor | None) -> TickCost:
    """A day of ticks 3 minutes apart (within the 5-minute cache life): one write of the prefix,
    then reads, where the model caches it; every token at the input price where it does not."""
    cached = (floor or CacheFloor()).caches(prefix)
    per_tick_rest = (user * price.input_usd_per_mtok + ANSWER_TOKENS * price.output_usd_per_mtok) / 1e6
    if cached:
        prefix_day = prefix * (price.cache_write_usd_per_mtok + (TICKS_PER_DAY - 1) * price.cache_read_usd_per_mtok)
    else:
        prefix_day = prefix * price.input_usd_per_mtok * TICKS_PER_DAY
    return TickCost(
        prompt_tokens=prefix + user,
        output_tokens=ANSWER_TOKENS,
        usd_per_day=prefix_day / 1e6 + per_tick_rest * TICKS_PER_DAY,
        cached=cached,
    )


def model_row(
    caps: ModelCaps,
    *,
    llm: LlmSettings,
    system: str,
    coins: int,
    cutoff: date | None,
    floor: CacheFloor | None,
    journal: list[dict[str, Any]],
) -> ModelRow:
    """The row of one priced model: the request built exactly as a tick would build it."""
    settings = llm.model_copy(update={"model": caps.id})
    user = "u" * (USER_CHARS_PER_COIN * coins)
    shape, request = build_request(system=system, memory="", user=user, caps=caps, llm=settings)
    [prefix] = breakpoint_prefixes(request)
    price = llm.prices[caps.id]
    cost = measured(journal, caps.id, price) or estimated(prefix, estimated_tokens(user), price, floor)
    thinking = request.get("thinking", {}).get("type") or ("default" if caps.thinking else "none")
    notes = [] if cutoff else ["no knowledge cutoff known: backtests say LOOK-AHEAD UNKNOWN"]
    return ModelRow(
        id=caps.id,
        display_name=caps.display_name,
        lifecycle=caps.lifecycle,
        retires_at=caps.retires_at,
        shape=shape.value,
        thinking=thinking,
        effort=request.get("output_config", {}).get("effort"),
        price=price,
        knowledge_cutoff=cutoff,
        cache_minimum=(floor or CacheFloor()).said(),
        per_tick=cost,
        notes=notes,
    )
