"""The Messages API request, built from what the model accepts (``ModelCaps``): pure.

Three shapes carry the same ``DecisionBatch`` schema (``tool_schema``: the SDK's own
``transform_schema``, the subset structured outputs accept), tried in this order:

- ``json_schema``: ``output_config.format``, where the model has structured outputs;
  decoding is constrained to the schema and the answer is one JSON text block.
- ``strict_tool``: a ``strict`` tool with ``tool_choice`` auto (``llm.output = "tool"``
  on a structured-output model); the newest models refuse a forced tool choice.
- ``forced_tool``: the tool forced by ``tool_choice``, for a model without structured
  outputs whose thinking can be turned off (thinking with a forced tool is a 400 on
  every model); one whose thinking cannot be turned off, or a provider that does not
  accept a forced choice, gets the tool with ``auto``.
- ``json_text``: a provider with neither structured outputs nor tool use (its profile,
  ``bot.config.providers``): the schema is written into the system text and the answer
  is plain JSON text, validated by the same ``DecisionBatch`` contract as every shape.

Never sent: sampling parameters, ``budget_tokens``, an assistant prefill, a thinking type
or effort level the model does not list. Prompt cache: the static system text (the same
bytes every tick) is the system block, and the trade memory (it changes when a trade
closes) the user message's first block, each ending in a cache breakpoint. Nothing is
ever added to reach a model's minimum cacheable prefix: below it the breakpoints cost
nothing and cache nothing, the API says so (``bot.strategies.cache_floor`` learns the
minimum from its answers), and the prompt stays what the strategy needs. Growing it with
"content the model uses" was weighed and refused: any text chosen for its length rather
than its use changes what the model reads, hence what it decides, and a backtest of the
strategy no longer describes the live one; the price of not caching is shown instead
(``bot models``: $ / day per model, measured). The memory holds the model's own past
reasoning, so it is never system text: the system prompt is the owner's alone
(``bot.untrusted``).
"""

from __future__ import annotations

import functools
import json
import math
from enum import StrEnum
from typing import Any

from pydantic import Field

from bot.config import LlmSettings
from bot.models import Decision, StrictModel
from bot.strategies.capabilities import ModelCaps

TOOL_NAME = "decide"
TOOL_DESCRIPTION = "Record this tick's trading decisions: one entry per coin you act on; coins left out hold."
ANSWER = {
    "json_schema": 'Answer with the JSON object {"decisions": [...]}, one entry per coin you act on.',
    "strict_tool": f"Answer by calling the tool `{TOOL_NAME}` once, with one entry per coin you act on.",
    "forced_tool": f"Answer by calling the tool `{TOOL_NAME}` with one entry per coin you act on.",
    "auto_tool": f"Answer by calling the tool `{TOOL_NAME}` once, with one entry per coin you act on.",
    "json_text": 'Answer with the JSON object {"decisions": [...]} and nothing else, one entry per coin you act '
    "on, following this JSON schema:",
}

CHARS_PER_TOKEN = 4  # the estimate everywhere in the bot; newer tokenizers count ~30 % more


class Shape(StrEnum):
    JSON_SCHEMA = "json_schema"
    STRICT_TOOL = "strict_tool"
    FORCED_TOOL = "forced_tool"
    AUTO_TOOL = "auto_tool"
    JSON_TEXT = "json_text"


class DecisionBatch(StrictModel):
    """The answer: the tool's input, or the JSON text."""

    decisions: list[Decision] = Field(description="one entry per coin you act on; coins left out HOLD")


def tool_schema() -> dict[str, Any]:
    """``DecisionBatch``'s schema as the installed SDK's own ``transform_schema`` makes it
    (what ``messages.parse`` would send): structured outputs compile the schema into a
    grammar and refuse every keyword outside their subset with a 400 (``minimum``,
    ``maximum``, ``exclusiveMinimum``, ``default``, ...); the transform moves those into the
    field descriptions, where the model reads them, and ``validate`` enforces them on the
    answer through ``Decision``. A fresh copy of the same bytes every tick (the cached
    prefix depends on them)."""
    return json.loads(_schema_text())


@functools.cache
def _schema_text() -> str:
    from anthropic.lib._parse._transform import transform_schema  # heavy: only when a request is built

    return json.dumps(transform_schema(DecisionBatch.model_json_schema()))


def choose_shape(caps: ModelCaps, llm: LlmSettings) -> Shape:
    if caps.structured_outputs:
        return Shape.STRICT_TOOL if llm.output == "tool" else Shape.JSON_SCHEMA
    if not caps.tools:
        return Shape.JSON_TEXT
    if caps.forced_tool and (not caps.thinking or "disabled" in caps.thinking_types):
        return Shape.FORCED_TOOL
    return Shape.AUTO_TOOL


def thinking_param(caps: ModelCaps, llm: LlmSettings, shape: Shape) -> dict[str, str] | None:
    """The ``thinking`` parameter, or None to leave the model's default."""
    if not caps.thinking:
        return None
    if shape is Shape.FORCED_TOOL:
        return {"type": "disabled"}  # choose_shape made sure the model accepts it
    if llm.thinking == "adaptive":
        return {"type": "adaptive"} if "adaptive" in caps.thinking_types else None
    for off in ("disabled", "between_tools"):
        if off in caps.thinking_types:
            return {"type": off}
    return None  # thinking cannot be turned off on this model: its default (adaptive) stays


def estimated_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def system_blocks(system: str, *, cache: bool = True) -> list[dict[str, Any]]:
    """The system block with its cache breakpoint, the static text as it is (the same bytes
    every tick, whatever the memory holds); no breakpoint where ``cache_control`` is refused."""
    return [{"type": "text", "text": system, **({"cache_control": {"type": "ephemeral"}} if cache else {})}]


def breakpoint_prefixes(request: dict[str, Any]) -> list[int]:
    """The estimated tokens before and including each cache breakpoint, in the API's order
    (format schema, tools, system, messages): what ``cache_floor.learn`` compares with the
    API's cache counters."""
    sizes: list[tuple[int, bool]] = []
    schema = ((request.get("output_config") or {}).get("format") or {}).get("schema")
    if schema is not None:
        sizes.append((estimated_tokens(json.dumps(schema)), False))
    sizes += [(estimated_tokens(json.dumps(tool)), "cache_control" in tool) for tool in request.get("tools") or []]
    sizes += [(estimated_tokens(block["text"]), "cache_control" in block) for block in request.get("system") or []]
    for message in request.get("messages") or []:
        content = message["content"]
        blocks = [{"text": content}] if isinstance(content, str) else content
        sizes += [(estimated_tokens(block.get("text", "")), "cache_control" in block) for block in blocks]
    prefixes, total = [], 0
    for tokens, marked in sizes:
        total += tokens
        if marked:
            prefixes.append(total)
    return prefixes


def user_content(memory: str, user: str, *, cache: bool = True) -> str | list[dict[str, Any]]:
    """The user message: the trade memory first, its own cached block (a closed trade rewrites
    only it), then this tick's data; just the data without a memory."""
    if not memory:
        return user
    return [
        {"type": "text", "text": memory, **({"cache_control": {"type": "ephemeral"}} if cache else {})},
        {"type": "text", "text": user},
    ]


def build_request(
    *, system: str, memory: str, user: str, caps: ModelCaps, llm: LlmSettings
) -> tuple[Shape, dict[str, Any]]:
    """The shape chosen and the keyword arguments of ``messages.create``."""
    shape = choose_shape(caps, llm)
    schema = tool_schema()
    system = f"{system}\n\n{ANSWER[shape]}"
    if shape is Shape.JSON_TEXT:
        system = f"{system}\n{_schema_text()}"
    request: dict[str, Any] = {"model": llm.model, "max_tokens": min(llm.max_tokens, caps.max_tokens or llm.max_tokens)}
    tool: dict[str, Any] = {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "input_schema": schema}
    output_config: dict[str, Any] = {}
    if shape is Shape.JSON_SCHEMA:
        output_config["format"] = {"type": "json_schema", "schema": schema}
    elif shape is not Shape.JSON_TEXT:
        if shape is Shape.STRICT_TOOL:
            tool["strict"] = True
        request["tools"] = [tool]
        request["tool_choice"] = {"type": "tool", "name": TOOL_NAME} if shape is Shape.FORCED_TOOL else {"type": "auto"}
    request["system"] = system_blocks(system, cache=caps.cache_control)
    request["messages"] = [{"role": "user", "content": user_content(memory, user, cache=caps.cache_control)}]
    if (thinking := thinking_param(caps, llm, shape)) is not None:
        request["thinking"] = thinking
    if llm.effort in caps.effort_levels:
        output_config["effort"] = llm.effort
    if output_config:
        request["output_config"] = output_config
    return shape, request
