"""The Messages API request on this year's models (issue 18), the real SDK against the fake API:
the shape each model accepts, thinking, the prompt cache's breakpoints (never padded) and the
minimum cacheable prefix learned from the API's answers."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.ops.budget import cache_hit_ratio
from bot.strategies.cache_floor import CacheFloor, load_floors
from bot.strategies.request import (
    ANSWER,
    DecisionBatch,
    breakpoint_prefixes,
    estimated_tokens,
    system_blocks,
    tool_schema,
    user_content,
)
from tests.fakes.anthropic import tool_call
from tests.strategies.claudekit import ALWAYS_ON, LEGACY_MODEL, PROMPT, _decide_prompt, _model_strategy


@pytest.mark.parametrize(
    ("model", "output", "shape", "choice", "thinking", "effort"),
    [
        (
            "claude-sonnet-5-5",
            "auto",
            "json_schema",
            None,
            {"type": "adaptive"},
            "low",
        ),  # forced tool refused: structured outputs
        ("claude-opus-5-5", "auto", "json_schema", None, {"type": "adaptive"}, "low"),
        ("claude-haiku-5-5", "auto", "json_schema", None, {"type": "adaptive"}, "low"),
        (
            "claude-haiku-4-5",
            "auto",
            "json_schema",
            None,
            None,
            None,
        ),  # no adaptive thinking, no effort: neither is sent
        ("claude-sonnet-5-5", "tool", "strict_tool", {"type": "auto"}, {"type": "adaptive"}, "low"),
        ("claude-legacy-test", "auto", "forced_tool", {"type": "tool", "name": "decide"}, {"type": "disabled"}, None),
        ("claude-always-on-test", "auto", "auto_tool", {"type": "auto"}, {"type": "adaptive"}, "low"),
    ],
)
def test_each_model_gets_a_request_it_accepts(fake_anthropic, model, output, shape, choice, thinking, effort):
    fake_anthropic.models.update({LEGACY_MODEL.id: LEGACY_MODEL, ALWAYS_ON.id: ALWAYS_ON})
    fake_anthropic.script(tool_call({"decisions": []}))
    strategy = _model_strategy(fake_anthropic, model, output=output)
    assert _decide_prompt(strategy) == []
    [request] = fake_anthropic.requests
    body = request.body
    assert strategy.trace.shape == shape and body["system"][0]["text"].startswith(f"{PROMPT.system}\n\n{ANSWER[shape]}")
    assert body.get("tool_choice") == choice and body.get("thinking") == thinking
    assert (body.get("output_config") or {}).get("effort") == effort
    assert ("format" in (body.get("output_config") or {})) == (shape == "json_schema")
    assert [tool.get("strict", False) for tool in body.get("tools", [])] == (
        [] if shape == "json_schema" else [shape == "strict_tool"]
    )
    assert (
        not {"temperature", "top_p", "top_k"} & set(body) and body["messages"][-1]["role"] == "user"
    )  # no sampling, no prefill


@pytest.mark.parametrize(
    "model", ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-5-5", "claude-haiku-4-5", "claude-legacy-test"]
)
def test_the_prompt_cache_hits_from_the_second_tick_where_the_prefix_reaches_the_minimum(
    fake_anthropic, model, tmp_path
):
    # a 1,024-token minimum, below this prompt's static prefix (schema or tool + system, ~1,500 tokens)
    fake_anthropic.models[LEGACY_MODEL.id] = LEGACY_MODEL
    fake_anthropic.cache_min_tokens = 1024
    strategy = _model_strategy(fake_anthropic, model, tmp_path)
    _decide_prompt(strategy)
    first = strategy.trace.usage
    _decide_prompt(strategy)
    second = strategy.trace.usage
    [prefix] = breakpoint_prefixes(fake_anthropic.requests[-1].body)
    assert first.cache_write_tokens == prefix >= 1024 and first.cache_read_tokens == 0
    assert second.cache_read_tokens == first.cache_write_tokens and second.cache_write_tokens == 0
    # what is not cached is this tick's user turn only: 400 characters = 100 tokens
    assert first.input_tokens == second.input_tokens == 100
    assert cache_hit_ratio(second) == second.cache_read_tokens / (second.cache_read_tokens + 100)
    assert second.cache_saved_usd == pytest.approx(
        second.cache_read_tokens
        * (strategy.llm.price.input_usd_per_mtok - strategy.llm.price.cache_read_usd_per_mtok)
        / 1e6
    )
    assert load_floors(tmp_path) == {model: CacheFloor(at_most=prefix)}  # cached: the minimum is at most this


def test_below_the_minimum_nothing_is_cached_nothing_is_padded_and_the_minimum_is_learned(fake_anthropic, tmp_path):
    fake_anthropic.cache_min_tokens = 4096  # above this prompt's ~1,500-token prefix
    strategy = _model_strategy(fake_anthropic, "claude-sonnet-5-5", tmp_path)
    _decide_prompt(strategy)
    _decide_prompt(strategy)
    usage = strategy.trace.usage
    assert (usage.cache_write_tokens, usage.cache_read_tokens, usage.cache_saved_usd) == (0, 0, 0.0)
    body = fake_anthropic.requests[-1].body
    # the system block is the static text and the answer line, byte for byte: not one line of filler
    assert body["system"] == [
        {"type": "text", "text": f"{PROMPT.system}\n\n{ANSWER['json_schema']}", "cache_control": {"type": "ephemeral"}}
    ]
    [prefix] = breakpoint_prefixes(body)
    assert usage.input_tokens == prefix + 100  # every prompt token sent at the full price
    assert load_floors(tmp_path) == {"claude-sonnet-5-5": CacheFloor(above=prefix)}
    assert load_floors(tmp_path)["claude-sonnet-5-5"].caches(prefix) is False
    # the minimum moves below this prompt (a 512-token model, say): the next answer caches and says so
    fake_anthropic.cache_min_tokens = 512
    _decide_prompt(strategy)
    assert strategy.trace.usage.cache_write_tokens == prefix
    assert load_floors(tmp_path) == {"claude-sonnet-5-5": CacheFloor(above=prefix, at_most=prefix)}


def test_the_breakpoints_close_the_static_prefixes_in_the_apis_order():
    # system as it is: no padding whatever its length
    assert system_blocks("s" * 400) == [{"type": "text", "text": "s" * 400, "cache_control": {"type": "ephemeral"}}]
    schema_tokens = estimated_tokens(json.dumps(tool_schema()))
    request = {
        "output_config": {"format": {"type": "json_schema", "schema": tool_schema()}},
        "system": system_blocks("s" * 4000),  # 1,000 tokens
        "messages": [{"role": "user", "content": user_content("m" * 800, "d" * 400)}],  # memory 200, data 100
    }
    assert breakpoint_prefixes(request) == [schema_tokens + 1000, schema_tokens + 1200]
    assert breakpoint_prefixes({"system": system_blocks("s" * 40), "messages": [{"content": "x"}]}) == [10]
    # the memory is the user message's cached first block, never system text
    assert user_content("memory", "data") == [
        {"type": "text", "text": "memory", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "data"},
    ]
    assert user_content("", "data") == "data"


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("claude-sonnet-5-5", {"type": "between_tools"}),  # no `disabled` on Sonnet 5.5: between_tools turns it off
        ("claude-haiku-5-5", {"type": "disabled"}),
        ("claude-opus-5-5", None),  # cannot be turned off: its default stays, effort low bounds it
    ],
)
def test_thinking_off_is_sent_only_as_the_model_allows(fake_anthropic, model, thinking):
    fake_anthropic.script(tool_call({"decisions": []}))
    _decide_prompt(_model_strategy(fake_anthropic, model, thinking="off"))
    assert fake_anthropic.requests[0].body.get("thinking") == thinking


# -- the schema structured outputs accept (issue 31) ----------------------------------------------------

# Every keyword the SDK's `transform_schema` can emit (read in anthropic/lib/_parse/_transform.py): the rest
# it moves into the description, because the API refuses it with a 400.
EMITTED = {
    "$defs", "$ref", "type", "enum", "const", "anyOf", "allOf", "description", "title",
    "properties", "additionalProperties", "required", "format", "items", "minItems",
}  # fmt: skip


def _keywords(node, found=None):
    """Every keyword of every schema node under ``node`` (property names are not keywords)."""
    found = set() if found is None else found
    if isinstance(node, dict):
        found |= set(node)
        children = [*(node.get("properties") or {}).values(), *(node.get("$defs") or {}).values()]
        children += [*(node.get("anyOf") or []), *(node.get("allOf") or [])]
        children += [node["items"]] if "items" in node else []
        for child in children:
            _keywords(child, found)
    return found


def _sent_schemas(body):
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
    return [schema] if schema is not None else [tool["input_schema"] for tool in body.get("tools", [])]


@pytest.mark.parametrize(
    ("model", "output"),
    [
        ("claude-sonnet-5-5", "auto"),  # the default model: output_config.format
        ("claude-sonnet-5-5", "tool"),  # a strict tool
        ("claude-haiku-5-5", "auto"),
        ("claude-opus-5-5", "auto"),
        ("claude-sonnet-4-6", "auto"),
        ("claude-sonnet-4-6", "tool"),
        ("claude-legacy-test", "auto"),  # no structured outputs: the forced tool, same schema
    ],
)
def test_the_sent_schema_is_the_sdks_transform_and_holds_no_keyword_it_would_not_emit(fake_anthropic, model, output):
    from anthropic.lib._parse._transform import transform_schema

    fake_anthropic.models[LEGACY_MODEL.id] = LEGACY_MODEL
    strategy = _model_strategy(fake_anthropic, model, output=output)
    _decide_prompt(strategy)  # the fake refuses any keyword outside the subset with a 400: this one is accepted
    _decide_prompt(strategy)
    first, second = (request.body for request in fake_anthropic.requests)
    [schema] = _sent_schemas(first)
    assert schema == transform_schema(DecisionBatch.model_json_schema())
    assert _keywords(schema) <= EMITTED
    assert transform_schema(schema) == schema  # nothing left for the transform to move: no refused keyword
    assert json.dumps(_sent_schemas(second)) == json.dumps([schema])  # the same bytes every tick
    # the bounds the grammar cannot carry are said in the descriptions, and pydantic enforces them on the answer
    entry = schema["$defs"]["Decision"]["properties"]
    assert entry["confidence"]["description"].endswith("{maximum: 1.0, minimum: 0.0}")
    assert "maximum: 125.0, minimum: 1.0" in entry["leverage"]["description"]


def test_pydantics_own_schema_is_refused_as_the_api_refuses_it(fake_anthropic):
    """The regression: pydantic's schema as it is (what the bot sent before) is a 400 on every tick."""
    import anthropic

    raw = DecisionBatch.model_json_schema()
    fake_anthropic.models[LEGACY_MODEL.id] = LEGACY_MODEL

    async def send(**shape):
        async with anthropic.AsyncAnthropic(api_key="sk-test", base_url=fake_anthropic.url, max_retries=0) as client:
            await client.messages.create(
                model="claude-sonnet-5-5", max_tokens=512, messages=[{"role": "user", "content": "u"}], **shape
            )

    with pytest.raises(anthropic.BadRequestError) as caught:
        asyncio.run(send(output_config={"format": {"type": "json_schema", "schema": raw}}))
    assert caught.value.api_message == (
        "output_config.format.schema.$defs.Decision.properties.confidence: "
        "For 'number' type, properties maximum, minimum are not supported"
    )
    tool = {"name": "decide", "description": "d", "input_schema": raw, "strict": True}
    with pytest.raises(anthropic.BadRequestError) as caught:
        asyncio.run(send(tools=[tool], tool_choice={"type": "auto"}))
    assert caught.value.api_message == (
        "tools.0.custom.input_schema.$defs.Decision.properties.confidence: "
        "For 'number' type, properties maximum, minimum are not supported"
    )
    asyncio.run(send(tools=[{**tool, "strict": False}], tool_choice={"type": "auto"}))  # a plain tool takes any schema
