"""Claude as the strategy: validation of its answers (exact cases and any answer), failures as
one line with the tokens counted, the deadline, refusals, thinking tokens; and run_tick with
Claude (the real SDK against the fake server)."""

from __future__ import annotations

import asyncio
import math
import socket
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import LlmSettings, Settings
from bot.errors import LlmRequestError, LlmUnavailable
from bot.models import Action, Decision, Outcome, Position, ReturnStats, Side
from bot.strategies.claude import ClaudeStrategy, tool_schema, validate
from bot.strategies.request import ANSWER, TOOL_DESCRIPTION
from bot.tick.indicators import compute_features
from bot.tick.portfolio import portfolio_of
from bot.tick.prompt import build_prompt
from bot.venues.history import HistoryMarket
from tests.fakes.anthropic import (
    EMPTY,
    HANG,
    TRUNCATED,
    cut_at_max_tokens,
    error,
    refusal,
    text_reply,
    tool_call,
)
from tests.strategies.claudekit import (
    LEGACY_MODEL,
    START,
    USAGE,
    _ctx,
    _decide_prompt,
    _model_strategy,
    _run,
)

NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
LEGACY = "claude-legacy-test"  # a model without structured outputs, its thinking off by default: the forced tool
LEGACY_PRICE = {
    "input_usd_per_mtok": 3.0,
    "output_usd_per_mtok": 15.0,
    "cache_write_usd_per_mtok": 3.75,
    "cache_read_usd_per_mtok": 0.30,
}


@pytest.fixture(scope="module")
def tick():
    """Real features for BTC and ETH with the prices pinned to round numbers."""
    snapshot = HistoryMarket().snapshot_at(["BTC", "ETH"], NOW)
    features = compute_features(snapshot)
    features = {
        "BTC": features["BTC"].model_copy(update={"price": 100_000.0}),
        "ETH": features["ETH"].model_copy(update={"price": 2_500.0}),
    }
    position = Position(
        coin="ETH",
        symbol="ETH/USDT:USDT",
        side=Side.SHORT,
        amount=1.0,
        entry_price=2_600.0,
        leverage=5,
        margin_usd=520.0,
        opened_at=NOW,
        stop_loss=2_700.0,
        take_profit=2_300.0,
        invalidation="4h close above 2650",
    )
    prices = {"BTC": 100_000.0, "ETH": 2_500.0}
    portfolio = portfolio_of(
        cash_usd=10_000, positions={"ETH": position}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
    )
    return features, portfolio


def _buy(**changes):
    entry = {
        "coin": "BTC",
        "action": "BUY",
        "confidence": 0.8,
        "size_pct": 10,
        "leverage": 3,
        "stop_loss": 98_000,
        "take_profit": 104_000,
    }
    return {**entry, **changes}


# -- the real SDK against the fake server ----------------------------------------------------------


def _strategy(url: str, **llm) -> ClaudeStrategy:
    settings = LlmSettings(base_url=url, **{"retries": 1, "timeout_s": 5, **llm})
    return ClaudeStrategy(settings, api_key="sk-test")


def _prompt(tick):
    features, portfolio = tick
    return build_prompt(Settings(trading={"coins": ["BTC", "ETH"]}), features, portfolio, now=NOW, tick=7)


def _decide(strategy, tick):
    features, portfolio = tick
    return asyncio.run(strategy.decide(features=features, portfolio=portfolio, prompt=_prompt(tick)))


def _refused_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# -- whatever Claude answers, nothing unchecked gets through ------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_entry = st.fixed_dictionaries(
    {
        "coin": st.sampled_from(["BTC", "eth", "PEPE", "", 7]),
        "action": st.sampled_from(["BUY", "SELL", "CLOSE", "HOLD", "LONG", None]),
    },
    optional={
        "confidence": st.floats(-1, 2) | st.text(max_size=3),
        "size_pct": st.floats(-5, 120) | st.just(float("nan")),
        "leverage": st.floats(0, 200) | st.sampled_from([float("nan"), float("inf")]),
        "stop_loss": st.none() | st.floats(-10, 200_000) | st.sampled_from([float("nan"), float("inf")]),
        "take_profit": st.none() | st.floats(-10, 200_000) | st.sampled_from([float("nan"), float("inf")]),
        "reasoning": st.text(max_size=5),
        "extra": _json,
    },
)


def _price(coin):
    return HistoryMarket().snapshot_at([coin], START).coins[coin].last_price


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (_buy(stop_loss=101_000), "stop_loss 101000 is not below the price 100000 for a long"),
        (_buy(take_profit=99_500), "take_profit 99500 is not above the price 100000 for a long"),
        (_buy(stop_loss=None, take_profit=99_500), "take_profit 99500 is not above the price 100000 for a long"),
        (_buy(action="SELL"), "take_profit 104000 is not below the price 100000 for a short"),
        (
            _buy(action="SELL", stop_loss=99_000, take_profit=97_000),
            "stop_loss 99000 is not above the price 100000 for a short",
        ),
        (_buy(leverage=200), "`leverage`: Input should be less than or equal to 125 (got 200)"),
        (
            _buy(confidence="high"),
            "`confidence`: Input should be a valid number, unable to parse string as a number (got 'high')",
        ),
        (_buy(confidence=1.5), "`confidence`: Input should be less than or equal to 1 (got 1.5)"),
        (_buy(action="LONG"), "`action`: Input should be 'BUY', 'SELL', 'CLOSE' or 'HOLD' (got 'LONG')"),
        (_buy(stop_loss=-5), "`stop_loss`: Input should be greater than 0 (got -5)"),
        (_buy(take_profit=float("inf")), "`take_profit`: Input should be a finite number (got inf)"),
        (_buy(size_pct=0), "BUY with size_pct 0"),
        (_buy(notes="yolo"), "`notes`: Extra inputs are not permitted (got 'yolo')"),
        ({"coin": "BTC", "action": "CLOSE", "confidence": 0.9}, "CLOSE without an open position"),
    ],
)
def test_an_invalid_entry_holds_its_coin_with_the_reason(tick, entry, reason):
    features, portfolio = tick
    decisions, invalid = validate({"decisions": [entry]}, features=features, portfolio=portfolio)
    assert invalid == {"BTC": reason}
    assert decisions == [
        Decision(coin="BTC", action=Action.HOLD, confidence=0.0, reasoning=f"invalid, holding: {reason}")
    ]


def test_valid_entries_go_ahead_next_to_an_invalid_one(tick):
    features, portfolio = tick
    answer = {
        "decisions": [
            _buy(coin="btc"),  # case is forgiven
            {"coin": "ETH", "action": "CLOSE", "confidence": 0.7, "reasoning": "invalidation met"},
            {"coin": "PEPE", "action": "BUY", "confidence": 0.9},
        ]
    }
    decisions, invalid = validate(answer, features=features, portfolio=portfolio)
    assert invalid == {"PEPE": "unknown coin 'PEPE' (this tick: BTC, ETH)"}  # not traded, so no HOLD entry for it
    assert [(d.coin, d.action, d.stop_loss, d.take_profit) for d in decisions] == [
        ("BTC", Action.BUY, 98_000, 104_000),
        ("ETH", Action.CLOSE, None, None),
    ]


def test_a_coin_listed_twice_holds(tick):
    features, portfolio = tick
    decisions, invalid = validate({"decisions": [_buy(), _buy(action="HOLD")]}, features=features, portfolio=portfolio)
    assert invalid == {"BTC": "listed more than once"}
    assert [(d.coin, d.action) for d in decisions] == [("BTC", Action.HOLD)]


def test_hold_entries_pass_and_entries_without_a_coin_are_reported(tick):
    features, portfolio = tick
    answer = {"decisions": [{"coin": "ETH", "action": "HOLD", "confidence": 0.4}, {"action": "BUY"}, "BTC up"]}
    decisions, invalid = validate(answer, features=features, portfolio=portfolio)
    assert [(d.coin, d.action) for d in decisions] == [("ETH", Action.HOLD)]
    assert invalid == {"entry 2": "entry without a coin", "entry 3": "entry without a coin"}


@pytest.mark.parametrize(
    ("tool_input", "message"),
    [
        (
            {"decisions": "all in"},
            'malformed tool input from Claude (expected {"decisions": [...]}, got {"decisions": "all in"})',
        ),
        ([], 'malformed tool input from Claude (expected {"decisions": [...]}, got [])'),
        ({"decision": []}, 'malformed tool input from Claude (expected {"decisions": [...]}, got {"decision": []})'),
    ],
)
def test_a_malformed_tool_input_is_unusable_as_a_whole(tick, tool_input, message):
    features, portfolio = tick
    with pytest.raises(LlmUnavailable) as caught:
        validate(tool_input, features=features, portfolio=portfolio)
    assert str(caught.value) == message


def test_a_model_without_structured_outputs_gets_the_forced_tool_with_thinking_off_and_only_this_tick_as_user(
    fake_anthropic, tick
):
    from tests.fakes.anthropic import ModelSpec

    fake_anthropic.models[LEGACY] = ModelSpec(
        LEGACY, "Legacy", structured_outputs=False, thinking_types=frozenset({"enabled", "disabled"})
    )
    usage = {
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2000,
    }
    fake_anthropic.script(tool_call({"decisions": [_buy()]}, usage=usage))
    strategy = _strategy(fake_anthropic.url, model=LEGACY, prices={LEGACY: LEGACY_PRICE})
    decisions = _decide(strategy, tick)

    assert [(d.coin, d.action) for d in decisions] == [("BTC", Action.BUY)]
    [request] = fake_anthropic.requests
    prompt = _prompt(tick)
    [system] = request.body["system"]
    assert system["text"].startswith(
        f"{prompt.system}\n\n{ANSWER['forced_tool']}"
    )  # nothing after it: the prompt is never padded
    assert request.body == {
        "model": LEGACY,
        "max_tokens": 2048,
        "system": [{"type": "text", "text": system["text"], "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": prompt.user}],
        "tools": [{"name": "decide", "description": TOOL_DESCRIPTION, "input_schema": tool_schema()}],
        "tool_choice": {"type": "tool", "name": "decide"},
        "thinking": {"type": "disabled"},  # thinking with a forced tool is a 400 on every model
    }
    schema = tool_schema()
    assert schema["properties"]["decisions"]["items"] == {"$ref": "#/$defs/Decision"}
    entry = schema["$defs"]["Decision"]
    assert schema["$defs"]["Action"]["enum"] == ["BUY", "SELL", "CLOSE", "HOLD"]
    assert entry["required"] == ["coin", "action", "confidence"]
    # 1000 x $3 + 200 x $15 + 2000 x $0.30 per million = $0.0066
    # saved: 2000 x ($3 - $0.30) per million = $0.0054
    assert strategy.trace.usage.model_dump() == {
        "calls": 1,
        "input_tokens": 1000,
        "output_tokens": 200,
        "thinking_tokens": 0,
        "cache_write_tokens": 0,
        "cache_read_tokens": 2000,
        "cost_usd": pytest.approx(0.0066, abs=1e-12),
        "cache_saved_usd": pytest.approx(0.0054, abs=1e-12),
    }
    assert strategy.trace.shape == "forced_tool"
    audit = strategy.trace.audit
    assert audit["user"] == prompt.user and audit["response"]["tool_input"] == {"decisions": [_buy()]}
    assert audit["decisions"][0]["action"] == "BUY" and audit["invalid"] == {}


@pytest.mark.parametrize(
    ("reply", "message", "calls"),
    [
        (
            error(401),
            "Anthropic rejected ANTHROPIC_API_KEY (401 authentication_error): set a valid key in the environment or "
            ".env",
            0,
        ),
        (
            error(403),
            "ANTHROPIC_API_KEY may not use this model or workspace (403 permission_error): check the key's access in "
            "the console",
            0,
        ),
        (  # the Models API, asked again at once, still lists the model: not a retirement
            error(404),
            "Anthropic answered 404 not_found_error (model: not found) although the Models API lists "
            "'claude-sonnet-5-5': check llm.base_url",
            0,
        ),
        (
            error(413),
            "Anthropic refused the request as too large (413 request_too_large: Request exceeds the maximum allowed "
            "number of bytes.): fewer coins, a smaller llm.memory_max_tokens or shorter llm.instructions",
            0,
        ),
        (
            error(400),
            "Anthropic refused the request (400 invalid_request_error: messages: at least one message is required)",
            0,
        ),
        (error(429), "Claude rate limit (429 rate_limit_error) after 1 retry: holding this tick", 0),
        (error(500), "Anthropic API error 500 (api_error) after 1 retry: holding this tick", 0),
        (error(529), "Claude is overloaded (529 overloaded_error) after 1 retry: holding this tick", 0),
        (HANG, "no answer from Claude within llm.timeout_s = 0.3 s after 1 retry: holding this tick", 0),
        (
            TRUNCATED,
            "malformed answer from the Anthropic API (not JSON: Unterminated string starting at: line 1 column 53 "
            "(char 52))",
            0,
        ),
        (EMPTY, "malformed answer from the Anthropic API (not JSON: Expecting value: line 1 column 1 (char 0))", 0),
        (
            text_reply("BTC looks bullish to me."),
            "Claude answered without calling the `decide` tool: 'BTC looks bullish to me.'",
            1,
        ),
        (
            cut_at_max_tokens({"decisions": [{"coin": "BT"}]}),
            "Claude's answer was cut at llm.max_tokens; raise llm.max_tokens in config.toml",
            1,
        ),
        (
            tool_call({"decisions": "all in"}),
            'malformed tool input from Claude (expected {"decisions": [...]}, got {"decisions": "all in"})',
            1,
        ),
    ],
)
def test_every_failure_is_one_line_and_tokens_already_spent_are_counted(fake_anthropic, tick, reply, message, calls):
    fake_anthropic.script(reply, reply)
    strategy = _strategy(
        fake_anthropic.url, timeout_s=0.3, output="tool"
    )  # the tool's failures; structured outputs' below
    with pytest.raises(LlmUnavailable) as caught:
        _decide(strategy, tick)
    assert str(caught.value) == message
    # the request itself refused (a bug or a configuration) or an outage (retried next tick): issue 31
    refused = reply.kind == "error" and reply.status in (400, 401, 403, 404, 413)
    assert isinstance(caught.value, LlmRequestError) == refused
    assert strategy.trace.usage.calls == calls and (strategy.trace.usage.cost_usd > 0) == bool(calls)
    assert strategy.trace.audit["error"] == message


def test_nothing_listening_is_one_line(tick):
    url = _refused_port()
    strategy = _strategy(url, retries=0)
    with pytest.raises(LlmUnavailable) as caught:
        _decide(strategy, tick)
    assert str(caught.value) == f"cannot reach the Anthropic API at {url} (ConnectError) (no retries: llm.retries = 0)"


def test_the_deadline_bounds_the_whole_step_retries_included(fake_anthropic, tick):
    fake_anthropic.script(HANG, HANG, HANG, HANG)
    strategy = _strategy(fake_anthropic.url, timeout_s=0.4, retries=3, deadline_s=1.0)
    with pytest.raises(LlmUnavailable) as caught:
        _decide(strategy, tick)
    assert str(caught.value) == "no answer from Claude within llm.deadline_s = 1 s (retries included)"
    # 1 + 3 retries would reach the fake 4 times; 0.4 s attempts plus the SDK's >= 0.5 s
    # backoff leave room for at most 2 inside the 1 s deadline.
    assert 1 <= len(fake_anthropic.requests) <= 2
    assert len(fake_anthropic.requests) == 2  # 0.4 s + ~0.5 s backoff + the second attempt cut short


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(_json, st.fixed_dictionaries({"decisions": st.lists(st.one_of(_entry, _json), max_size=5)})))
def test_any_answer_is_either_refused_whole_or_yields_only_checked_decisions(tick, answer):
    features, portfolio = tick
    try:
        decisions, invalid = validate(answer, features=features, portfolio=portfolio)
    except LlmUnavailable as exc:
        assert "\n" not in str(exc)
        return
    assert len({d.coin for d in decisions}) == len(decisions)  # one decision per coin at most
    for decision in decisions:
        price = features[decision.coin].price
        if decision.action is Action.BUY:
            assert (
                decision.stop_loss < price
                and (decision.take_profit is None or price < decision.take_profit)  # optional: one decision contract
                and 1 <= decision.leverage <= 10
                and decision.size_pct > 0
            )
        elif decision.action is Action.SELL:
            assert (
                price < decision.stop_loss
                and (decision.take_profit is None or decision.take_profit < price)
                and 1 <= decision.leverage <= 10
                and decision.size_pct > 0
            )
        elif decision.action is Action.CLOSE:
            assert decision.coin in portfolio.positions
        assert 0 <= decision.confidence <= 1
        assert all(
            math.isfinite(value)
            for value in (decision.stop_loss or 1, decision.take_profit or 1, decision.leverage, decision.size_pct)
        )
    assert all(coin not in invalid for coin in (d.coin for d in decisions if d.action is not Action.HOLD))


def test_thinking_tokens_are_counted_and_priced_as_output(fake_anthropic):
    strategy = _model_strategy(fake_anthropic, "claude-sonnet-5-5")
    usage = {
        "input_tokens": 1000,
        "output_tokens": 500,
        "output_tokens_details": {"thinking_tokens": 300},
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    fake_anthropic.script(tool_call({"decisions": []}, usage=usage))
    _decide_prompt(strategy)
    # Sonnet 5.5: 1,000 x $2 + 500 x $10 per million = $0.007; the 300 thinking tokens are inside the 500, not on top
    assert strategy.trace.usage.thinking_tokens == 300
    assert strategy.trace.usage.cost_usd == pytest.approx(0.007, abs=1e-12)


def test_a_refusal_holds_every_coin_with_its_category(fake_anthropic):
    strategy = _model_strategy(fake_anthropic, "claude-sonnet-5-5")
    fake_anthropic.script(refusal("cyber"))
    with pytest.raises(LlmUnavailable) as caught:
        _decide_prompt(strategy)
    assert str(caught.value) == "Claude refused to answer (stop_reason refusal, category cyber): holding every coin"
    assert strategy.trace.refusal == "cyber" and strategy.trace.audit["response"]["refusal"] == "cyber"


def test_claude_decisions_trade_and_a_refused_entry_holds_with_its_reason(fake_anthropic):
    btc = _price("BTC")
    answer = {
        "decisions": [
            {
                "coin": "BTC",
                "action": "BUY",
                "confidence": 0.8,
                "size_pct": 10,
                "leverage": 2,
                "stop_loss": btc * 0.98,
                "take_profit": btc * 1.04,
            },
            {
                "coin": "ETH",
                "action": "SELL",
                "confidence": 0.8,
                "size_pct": 10,
                "leverage": 2,
                "stop_loss": 1.0,
                "take_profit": 1.0,
            },
        ]
    }
    fake_anthropic.script(tool_call(answer, usage=USAGE))
    ctx = _ctx(fake_anthropic)
    report = _run(ctx)

    assert report.outcome is Outcome.OK and report.strategy == "claude"
    eth = _price("ETH")
    assert report.invalid == {"ETH": f"stop_loss 1 is not above the price {eth:g} for a short"}
    assert [(d.coin, d.action) for d in report.decisions] == [("BTC", Action.BUY), ("ETH", Action.HOLD)]
    [fill] = report.fills
    assert fill.coin == "BTC" and fill.client_order_id == "bot-250603T1200-BTC-entry"
    assert fill.amount == pytest.approx(10_000 * 0.10 * 2 / btc, abs=0.001)  # lot step 0.001, rounded down
    assert report.usage.cost_usd == pytest.approx(0.0066, abs=1e-12)
    assert ctx.store.state.llm.spent("2025-06-03").cost_usd == pytest.approx(0.0066, abs=1e-12)
    record = ctx.audit["250603T1200"]
    assert record["response"]["answer"] == answer and record["invalid"] == report.invalid
    assert "== BTC ==" in record["user"] and record["system"].startswith("You trade USDT-margined perpetual futures")


def test_an_api_failure_holds_everything_and_is_remembered_until_a_success(fake_anthropic):
    ctx = _ctx(fake_anthropic)
    fake_anthropic.script(error(401))
    failed = _run(ctx)  # a refused key is a configuration to fix: a failed tick (issue 31), not an outage
    assert failed.outcome is Outcome.FAILED and failed.decisions == [] and failed.fills == []
    message = (
        "Anthropic rejected ANTHROPIC_API_KEY (401 authentication_error): set a valid key in the environment or .env"
    )
    assert failed.message == f"claude request refused, holding every coin (llm.on_error = hold): {message}"
    assert ctx.store.state.llm.last_error == message
    assert ctx.audit["250603T1200"]["error"] == message
    assert failed.usage.calls == 0 and ctx.store.state.llm.spend_by_day == {}

    recovered = _run(ctx, 3)  # past the 60 s backoff
    assert recovered.outcome is Outcome.OK and ctx.store.state.llm.last_error == ""
    assert ctx.store.state.consecutive_errors == 0 and ctx.store.state.llm.request_errors == 0


@pytest.mark.parametrize(
    ("model", "output", "shape"),
    [
        ("claude-sonnet-5-5", "auto", "json_schema"),  # the default model
        ("claude-haiku-5-5", "auto", "json_schema"),
        ("claude-opus-5-5", "auto", "json_schema"),
        ("claude-sonnet-4-6", "tool", "strict_tool"),
        (LEGACY, "auto", "forced_tool"),  # no structured outputs
    ],
)
def test_an_entry_trades_on_every_current_model_through_the_schema_the_api_accepts(
    fake_anthropic, tick, model, output, shape
):
    fake_anthropic.models[LEGACY] = LEGACY_MODEL
    fake_anthropic.script(tool_call({"decisions": [_buy(), {"coin": "ETH", "action": "HOLD", "confidence": 0.4}]}))
    strategy = _strategy(fake_anthropic.url, model=model, output=output, prices={LEGACY: LEGACY_PRICE})
    decisions = _decide(strategy, tick)
    assert strategy.trace.shape == shape and strategy.trace.invalid == {}
    assert [(d.coin, d.action, d.leverage, d.stop_loss) for d in decisions] == [
        ("BTC", Action.BUY, 3.0, 98_000.0),
        ("ETH", Action.HOLD, 1.0, None),
    ]
