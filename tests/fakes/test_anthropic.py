"""Contract of the fake Anthropic server with the REAL anthropic SDK: what each fault raises,
what a model rejects, and the prompt cache."""

from __future__ import annotations

import asyncio
import json
import socket

import anthropic
import pytest

from tests.fakes.anthropic import (
    EMPTY,
    HANG,
    TRUNCATED,
    FakeAnthropic,
    Reply,
    cut_at_max_tokens,
    error,
    text_reply,
    tool_call,
)

OBJECT = {"type": "object", "additionalProperties": False}  # the least schema structured outputs accept
SYSTEM = [{"type": "text", "text": "S" * 400, "cache_control": {"type": "ephemeral"}}]
TOOLS = [{"name": "decide", "description": "d", "input_schema": {"type": "object"}}]


def _create(fake: FakeAnthropic | str, *, retries: int = 0, timeout: float = 5.0, user: str = "== BTC ==\nprice 1"):
    async def call():
        url = fake if isinstance(fake, str) else fake.url
        async with anthropic.AsyncAnthropic(
            api_key="sk-test", base_url=url, max_retries=retries, timeout=timeout
        ) as client:
            return await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=512,
                system=SYSTEM,
                tools=TOOLS,
                tool_choice={"type": "tool", "name": "decide"},
                messages=[{"role": "user", "content": user}],
            )

    return asyncio.run(call())


def _cached_call(fake, memory: str):
    async def call():
        async with anthropic.AsyncAnthropic(api_key="sk-test", base_url=fake.url, max_retries=0) as client:
            system = [
                {"type": "text", "text": "S" * 4100, "cache_control": {"type": "ephemeral"}},  # 1,025 tokens
                {"type": "text", "text": memory, "cache_control": {"type": "ephemeral"}},  # 100 tokens
            ]
            return await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=512,
                system=system,
                messages=[{"role": "user", "content": "U" * 40}],
                output_config={"format": {"type": "json_schema", "schema": OBJECT}},
            )

    return asyncio.run(call())


def _raw(fake, **request):
    async def call():
        async with anthropic.AsyncAnthropic(api_key="sk-test", base_url=fake.url, max_retries=0) as client:
            return await client.messages.create(max_tokens=512, messages=[{"role": "user", "content": "hi"}], **request)

    return asyncio.run(call())


DECIDE_TOOLS = [{"name": "decide", "input_schema": {"type": "object"}}]


@pytest.mark.parametrize(
    ("reply", "exception", "attempts"),
    [
        (error(400), anthropic.BadRequestError, 1),
        (error(401), anthropic.AuthenticationError, 1),
        (error(403), anthropic.PermissionDeniedError, 1),
        (error(404), anthropic.NotFoundError, 1),
        (error(429), anthropic.RateLimitError, 2),  # retried by the SDK
        (error(500), anthropic.InternalServerError, 2),
        (error(529), anthropic.OverloadedError, 2),  # a subclass of InternalServerError
        (TRUNCATED, json.JSONDecodeError, 1),  # NOT an anthropic error: callers must catch ValueError too
        (EMPTY, json.JSONDecodeError, 1),
    ],
)
def test_each_fault_raises_this_sdk_exception(fake_anthropic, reply, exception, attempts):
    fake_anthropic.script(reply, reply)
    with pytest.raises(exception):
        _create(fake_anthropic, retries=1)
    assert len(fake_anthropic.requests) == attempts


def test_overloaded_is_an_internal_server_error_with_the_api_error_type(fake_anthropic):
    fake_anthropic.script(error(529))
    with pytest.raises(anthropic.InternalServerError) as caught:
        _create(fake_anthropic)
    assert caught.value.status_code == 529 and caught.value.type == "overloaded_error"


def test_a_hang_is_a_timeout_after_each_attempt(fake_anthropic):
    fake_anthropic.script(HANG, HANG)
    with pytest.raises(anthropic.APITimeoutError):
        _create(fake_anthropic, retries=1, timeout=0.5)
    assert len(fake_anthropic.requests) == 2  # each attempt timed out and was retried once


def test_nothing_listening_is_a_connection_error():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(anthropic.APIConnectionError) as caught:
        _create(f"http://127.0.0.1:{port}")
    assert not isinstance(caught.value, anthropic.APITimeoutError)


def test_a_tool_call_comes_back_parsed_with_usage(fake_anthropic):
    fake_anthropic.script(
        tool_call({"decisions": [{"coin": "BTC", "action": "HOLD"}]}, usage={"input_tokens": 7, "output_tokens": 3})
    )
    message = _create(fake_anthropic)
    [block] = message.content
    assert (block.type, block.name, block.input) == (
        "tool_use",
        "decide",
        {"decisions": [{"coin": "BTC", "action": "HOLD"}]},
    )
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 3)


def test_text_and_max_tokens_replies(fake_anthropic):
    fake_anthropic.script(text_reply("I would rather not."), cut_at_max_tokens({"decisions": [{"coin": "BT"}]}))
    text = _create(fake_anthropic)
    assert [block.type for block in text.content] == ["text"] and text.stop_reason == "end_turn"
    cut = _create(fake_anthropic)
    assert cut.stop_reason == "max_tokens" and cut.content[0].type == "tool_use"


def test_the_default_reply_holds_every_coin_of_the_prompt(fake_anthropic):
    message = _create(fake_anthropic, user="== BTC ==\nx\n== ETH ==\ny\n== ACCOUNT ==\nz")
    assert [entry["coin"] for entry in message.content[0].input["decisions"]] == ["BTC", "ETH"]
    assert {entry["action"] for entry in message.content[0].input["decisions"]} == {"HOLD"}


def test_the_prefix_is_written_to_the_cache_once_then_read():
    with FakeAnthropic(cache_min_tokens=0) as fake:
        first, second = _create(fake), _create(fake)
    prefix_tokens = -(-len(json.dumps(TOOLS) + "S" * 400) // 4)  # 4 characters per token, rounded up
    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) == (prefix_tokens, 0)
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) == (0, prefix_tokens)
    assert first.usage.input_tokens == second.usage.input_tokens  # the user turn only


def test_a_prefix_below_the_minimum_is_not_cached(fake_anthropic):
    usage = _create(fake_anthropic).usage  # the default minimum, 1,024 tokens, is more than this prefix
    assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0
    assert usage.input_tokens > 100  # the prefix is billed as plain input


def test_requests_are_recorded_with_body_and_headers(fake_anthropic):
    _create(fake_anthropic)
    [request] = fake_anthropic.requests
    assert request.path == "/v1/messages"
    assert request.body["tool_choice"] == {"type": "tool", "name": "decide"}
    assert request.body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert request.headers["authorization"] == "Bearer sk-test"


def test_a_typo_in_a_scripted_reply_is_refused():
    with pytest.raises(ValueError, match="unknown reply kind"):
        Reply("tool-use")
    with pytest.raises(ValueError, match="no Anthropic error body for HTTP 418"):
        error(418)


def test_each_breakpoint_caches_its_prefix_and_the_longest_one_written_before_is_read(fake_anthropic):
    # the format schema {"type": "object", "additionalProperties": false} is 49 characters: 13 tokens in front of the
    # system blocks
    first = _cached_call(fake_anthropic, "M" * 400)
    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens, first.usage.input_tokens) == (
        1138,
        0,
        10,
    )
    again = _cached_call(fake_anthropic, "M" * 400)
    assert (again.usage.cache_creation_input_tokens, again.usage.cache_read_input_tokens, again.usage.input_tokens) == (
        0,
        1138,
        10,
    )
    changed = _cached_call(fake_anthropic, "N" * 400)  # a new memory: the static prefix is read, the memory written
    assert (
        changed.usage.cache_creation_input_tokens,
        changed.usage.cache_read_input_tokens,
        changed.usage.input_tokens,
    ) == (100, 1038, 10)
    [block] = changed.content  # output_config.format: the answer is JSON text
    assert block.type == "text" and json.loads(block.text) == {"decisions": []}


@pytest.mark.parametrize(
    ("request_", "error", "says"),
    [
        (
            {"model": "claude-sonnet-5-5", "tools": DECIDE_TOOLS, "tool_choice": {"type": "tool", "name": "decide"}},
            anthropic.BadRequestError,
            "tool_choice 'tool'",
        ),
        (
            {"model": "claude-sonnet-5-5", "tools": DECIDE_TOOLS, "tool_choice": {"type": "any"}},
            anthropic.BadRequestError,
            "tool_choice 'any'",
        ),
        (
            {"model": "claude-sonnet-5", "tools": DECIDE_TOOLS, "tool_choice": {"type": "any"}},
            anthropic.BadRequestError,
            "Thinking may not be enabled",
        ),  # on by default
        (
            {
                "model": "claude-sonnet-4-6",
                "tools": DECIDE_TOOLS,
                "tool_choice": {"type": "any"},
                "thinking": {"type": "adaptive"},
            },
            anthropic.BadRequestError,
            "Thinking",
        ),
        (
            {"model": "claude-opus-5-5", "thinking": {"type": "enabled", "budget_tokens": 2048}},
            anthropic.BadRequestError,
            "thinking.type 'enabled'",
        ),
        (
            {"model": "claude-opus-5-5", "thinking": {"type": "disabled"}},
            anthropic.BadRequestError,
            "thinking.type 'disabled'",
        ),
        ({"model": "claude-sonnet-5-5", "extra_body": {"temperature": 0.2}}, anthropic.BadRequestError, "temperature"),
        ({"model": "claude-haiku-4-5", "output_config": {"effort": "low"}}, anthropic.BadRequestError, "effort"),
        ({"model": "claude-nope-9"}, anthropic.NotFoundError, "claude-nope-9"),
        ({"model": "claude-sonnet-4-5"}, anthropic.NotFoundError, "claude-sonnet-4-5"),  # retired
    ],
)
def test_the_fake_rejects_what_the_model_rejects(fake_anthropic, request_, error, says):
    with pytest.raises(error) as caught:
        _raw(fake_anthropic, **request_)
    assert says in str(caught.value)


def test_the_fake_rejects_an_assistant_prefill_where_the_model_does(fake_anthropic):
    async def call(model):
        async with anthropic.AsyncAnthropic(api_key="sk-test", base_url=fake_anthropic.url, max_retries=0) as client:
            messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": '{"decisions": ['}]
            return await client.messages.create(model=model, max_tokens=512, messages=messages)

    with pytest.raises(anthropic.BadRequestError, match="prefill"):
        asyncio.run(call("claude-sonnet-5-5"))
    assert asyncio.run(call("claude-haiku-4-5")).stop_reason == "tool_use"  # Haiku 4.5 still takes one
