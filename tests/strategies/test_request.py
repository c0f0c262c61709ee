"""The Messages API request on this year's models (issue 18), the real SDK against the fake API:
the shape each model accepts, thinking, the prompt cache's breakpoints and padding."""

from __future__ import annotations

import pytest

from bot.ops.budget import cache_hit_ratio
from bot.strategies.request import ANSWER, PAD_LINE, estimated_tokens, system_blocks, user_content
from tests.fakes.anthropic import ModelSpec, tool_call
from tests.strategies.claudekit import PROMPT, _decide_prompt, _model_strategy

LEGACY_MODEL = ModelSpec(
    "claude-legacy-test",
    "no structured outputs, thinking off by default",
    structured_outputs=False,
    thinking_types=frozenset({"enabled", "disabled"}),
)
ALWAYS_ON = ModelSpec(
    "claude-always-on-test",
    "no structured outputs, thinking always on",
    structured_outputs=False,
    forced_tool=False,
    thinking_types=frozenset({"adaptive"}),
    thinking_default=True,
    effort_levels=("low", "medium", "high"),
)


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
def test_the_prompt_cache_hits_from_the_second_tick_at_each_models_minimum(fake_anthropic, model):
    fake_anthropic.models[LEGACY_MODEL.id] = LEGACY_MODEL
    strategy = _model_strategy(fake_anthropic, model)
    _decide_prompt(strategy)
    first = strategy.trace.usage
    _decide_prompt(strategy)
    second = strategy.trace.usage
    minimum = fake_anthropic.models[model].cache_min_tokens
    assert first.cache_write_tokens >= minimum and first.cache_read_tokens == 0
    assert second.cache_read_tokens == first.cache_write_tokens and second.cache_write_tokens == 0
    # what is not cached is this tick's user turn only: 400 characters = 100 tokens
    assert first.input_tokens == second.input_tokens == 100
    assert cache_hit_ratio(second) == second.cache_read_tokens / (second.cache_read_tokens + 100)
    assert second.cache_saved_usd == pytest.approx(
        second.cache_read_tokens
        * (strategy.llm.price.input_usd_per_mtok - strategy.llm.price.cache_read_usd_per_mtok)
        / 1e6
    )


def test_padding_reaches_the_minimum_only_where_it_pays():
    # 4,000 characters = 1,000 tokens; a 4,096-token minimum: padded to 4,096 x 1.1 = 4,506 tokens (read at 0.1x: 451 <
    # 1,000)
    [block] = system_blocks("s" * 4000, prefix_tokens=0, minimum=4096)
    assert (
        estimated_tokens(block["text"]) >= 4506
        and estimated_tokens(block["text"]) < 4506 + estimated_tokens(PAD_LINE) + 1
    )
    assert block["text"].startswith("s" * 4000 + "\n" + PAD_LINE) and block["cache_control"] == {"type": "ephemeral"}
    # 400 characters = 100 tokens: 4,506 tokens at 0.1x (451) would cost more than 100 uncached, so no padding
    [short] = system_blocks("s" * 400, prefix_tokens=0, minimum=4096)
    assert short["text"] == "s" * 400
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
