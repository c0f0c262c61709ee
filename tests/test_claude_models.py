"""Claude on this year's models (issue 18), the real SDK against the fake API: the request
shape each kind of model gets, the fake's per-model rules, capabilities cached, the prompt
cache hitting from the second tick, thinking tokens, refusals, lifecycle, trade memory."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anthropic
import pytest

from bot.config import LlmSettings, Settings
from bot.errors import ConfigError, LlmUnavailable
from bot.models import Action, Fill, FillReason, Position, Side, TickReport
from bot.ops.budget import cache_hit_ratio
from bot.ops.notify import EventKind, claim, tick_events
from bot.ops.state import BotState, ClosedTrade
from bot.strategies.claude import ClaudeStrategy
from bot.strategies.request import ANSWER, PAD_LINE, estimated_tokens, system_blocks
from bot.tick.memory import HEADER, closed_trades, memory_text
from bot.tick.prompt import Prompt
from tests.conftest import run_bot
from tests.fakes.anthropic import ModelSpec, refusal, tool_call

NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
PRICE = {
    "input_usd_per_mtok": 3.0,
    "output_usd_per_mtok": 15.0,
    "cache_write_usd_per_mtok": 3.75,
    "cache_read_usd_per_mtok": 0.30,
}
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
USER = ("Time 2025-06-03 12:00 UTC, tick 7.\n== BTC ==\n" + "p" * 400)[:400]  # 400 characters: 100 tokens
PROMPT = Prompt(system="You trade. " * 300, user=USER)  # 3,300 characters of static system text


def _model_strategy(fake, model: str, tmp_path: Path | None = None, **llm) -> ClaudeStrategy:
    prices = {model: PRICE} if model.endswith("-test") else {}
    settings = LlmSettings(base_url=fake.url, model=model, retries=0, timeout_s=5, prices=prices, **llm)
    return ClaudeStrategy(
        settings,
        max_leverage=10,
        api_key="sk-test",
        cache_dir=tmp_path,
        clock=lambda: NOW,
        capabilities_ttl=timedelta(hours=24),
    )


def _decide_prompt(strategy, prompt=PROMPT):
    return asyncio.run(strategy.decide(features={}, portfolio=None, prompt=prompt))


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


def _raw(fake, **request):
    async def call():
        async with anthropic.AsyncAnthropic(api_key="sk-test", base_url=fake.url, max_retries=0) as client:
            return await client.messages.create(max_tokens=512, messages=[{"role": "user", "content": "hi"}], **request)

    return asyncio.run(call())


DECIDE_TOOLS = [{"name": "decide", "input_schema": {"type": "object"}}]


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


def test_capabilities_are_read_once_and_cached_under_var_cache(fake_anthropic, tmp_path):
    strategy = _model_strategy(fake_anthropic, "claude-sonnet-5-5", tmp_path)
    _decide_prompt(strategy)
    _decide_prompt(strategy)
    assert fake_anthropic.model_lookups == ["/v1/models/claude-sonnet-5-5"]
    cached = json.loads((tmp_path / "models" / "claude-sonnet-5-5.json").read_text())
    assert cached["structured_outputs"] is True and cached["thinking_types"] == ["adaptive", "between_tools"]
    assert cached["effort_levels"] == ["low", "medium", "high", "xhigh", "max"] and cached["lifecycle"] == "active"
    later = ClaudeStrategy(
        strategy.llm,
        max_leverage=10,
        api_key="k",
        cache_dir=tmp_path,
        clock=lambda: NOW + timedelta(hours=25),
        capabilities_ttl=timedelta(hours=24),
    )
    _decide_prompt(later)  # older than llm.capabilities_ttl_hours: asked again
    assert len(fake_anthropic.model_lookups) == 2
    backtest = ClaudeStrategy(
        strategy.llm, max_leverage=10, api_key="k", cache_dir=tmp_path, clock=lambda: NOW + timedelta(days=400)
    )
    _decide_prompt(backtest)  # no TTL (a backtest): whatever the cache holds
    assert len(fake_anthropic.model_lookups) == 2


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
    [block] = system_blocks("s" * 4000, "", prefix_tokens=0, minimum=4096)
    assert (
        estimated_tokens(block["text"]) >= 4506
        and estimated_tokens(block["text"]) < 4506 + estimated_tokens(PAD_LINE) + 1
    )
    assert block["text"].startswith("s" * 4000 + "\n" + PAD_LINE) and block["cache_control"] == {"type": "ephemeral"}
    # 400 characters = 100 tokens: 4,506 tokens at 0.1x (451) would cost more than 100 uncached, so no padding
    [short] = system_blocks("s" * 400, "", prefix_tokens=0, minimum=4096)
    assert short["text"] == "s" * 400
    # the memory is its own cached block after the (padded) static one, so a closed trade rewrites only it
    static, memory = system_blocks("s" * 4000, "memory", prefix_tokens=0, minimum=1024)
    assert memory == {"type": "text", "text": "memory", "cache_control": {"type": "ephemeral"}}


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


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "claude-sonnet-4-5",
            "llm.model 'claude-sonnet-4-5' is retired: Anthropic no longer serves it; set llm.model in config.toml to an active model",
        ),
        (
            "claude-nope-test",
            "llm.model 'claude-nope-test' is not a model the Anthropic API knows (404): set llm.model in config.toml to an active one",
        ),
    ],
)
def test_a_retired_or_unknown_model_is_a_config_error_naming_active_models(fake_anthropic, model, message):
    settings = LlmSettings(base_url=fake_anthropic.url, model=model, retries=0, prices={model: PRICE})
    with pytest.raises(ConfigError) as caught:
        asyncio.run(
            ClaudeStrategy(settings, max_leverage=10, api_key="k").decide(features={}, portfolio=None, prompt=PROMPT)
        )
    active = [spec.id for spec in fake_anthropic.models.values() if spec.lifecycle == "active"][:5]
    assert str(caught.value) == f"{message}, e.g. {', '.join(active)}"
    assert fake_anthropic.requests == []  # no message was sent


# -- the CLI, end to end -------------------------------------------------------------------------------


def _model_env(url, model, **extra):
    return {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": url,
        "BOT_LLM__RETRIES": "0",
        "BOT_LLM__MODEL": model,
        **extra,
    }


def test_a_retired_model_stops_the_tick_with_exit_2_and_one_line(project, fake_anthropic):
    (project / "config.toml").write_text(
        '[llm.prices."claude-sonnet-4-5"]\ninput_usd_per_mtok = 3\noutput_usd_per_mtok = 15\ncache_write_usd_per_mtok = 3.75\ncache_read_usd_per_mtok = 0.3\n'
    )
    result = run_bot(
        "tick", "--dry-run", "--replay", cwd=project, env=_model_env(fake_anthropic.url, "claude-sonnet-4-5")
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: llm.model 'claude-sonnet-4-5' is retired: Anthropic no longer serves it; set llm.model in config.toml to an active model, "
        "e.g. claude-fable-5-1, claude-opus-5-5, claude-sonnet-5-5, claude-haiku-5-5, claude-sonnet-5"
    ]
    assert not (project / "var" / "replay" / "journal.jsonl").exists()


def test_a_refusal_reaches_the_journal_the_log_and_status(project, fake_anthropic):
    fake_anthropic.script(refusal("general_harms"))
    result = run_bot(
        "tick", "--dry-run", "--replay", cwd=project, env=_model_env(fake_anthropic.url, "claude-sonnet-5-5")
    )
    assert result.returncode == 4
    said = "Claude refused to answer (stop_reason refusal, category general_harms): holding every coin"
    [record] = [json.loads(line) for line in (project / "var" / "replay" / "journal.jsonl").read_text().splitlines()]
    assert record["decisions"] == [] and record["message"] == f"claude unavailable, holding every coin: {said}"
    log = (project / "var" / "logs" / "replay.log").read_text()  # a replay logs to its own file
    assert '"event": "llm_refused"' in log and '"category": "general_harms"' in log
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert status["llm_last_refusal"] == "2025-06-02 general_harms" and status["llm_last_error"] == said


def test_a_deprecated_model_works_and_status_shows_its_retirement(project, fake_anthropic):
    result = run_bot(
        "tick", "--dry-run", "--replay", cwd=project, env=_model_env(fake_anthropic.url, "claude-opus-4-5")
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    assert (status["llm_model"], status["llm_model_lifecycle"], status["llm_model_retires_at"]) == (
        "claude-opus-4-5",
        "deprecated",
        "2027-01-22T00:00:00Z",
    )
    text = run_bot("status", "--replay", cwd=project).stdout
    assert (
        "LLM model claude-opus-4-5 is DEPRECATED: Anthropic retires it on 2027-01-22; set llm.model to an active model"
        in text
    )


def test_a_deprecated_model_is_notified_once_a_day():
    state = BotState.fresh(mode="paper", initial_equity_usd=1000)
    state.llm.model, state.llm.lifecycle, state.llm.retires_at = (
        "claude-opus-4-5",
        "deprecated",
        datetime(2027, 1, 22, tzinfo=UTC),
    )

    def events(at):
        report = TickReport(
            tick_id="t",
            tick=1,
            mode="paper",
            dry_run=True,
            as_of=at,
            strategy="claude",
            outcome="ok",
            usage={"calls": 1},
        )
        return [
            event for event in claim(tick_events(report, [], state), state) if event.kind is EventKind.MODEL_DEPRECATED
        ]

    [first] = events(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert first.body.startswith("Anthropic retires claude-opus-4-5 on 2027-01-22")
    assert events(datetime(2026, 12, 1, 21, 0, tzinfo=UTC)) == []  # the same UTC day
    assert len(events(datetime(2026, 12, 2, 0, 3, tzinfo=UTC))) == 1


# -- the trade memory ---------------------------------------------------------------------------------

OPENED = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def _position(**changes):
    base = {
        "coin": "BTC",
        "symbol": "BTC/USDT:USDT",
        "side": Side.LONG,
        "amount": 0.1,
        "entry_price": 100_000.0,
        "leverage": 2,
        "margin_usd": 5_000.0,
        "opened_at": OPENED,
        "funding_usd": -1.5,
    }
    return Position(**{**base, **changes})


def test_a_full_close_becomes_a_trade_with_its_net_pnl_and_entry_reasoning():
    exit_fill = Fill(
        coin="BTC",
        side=Side.LONG,
        amount=0.1,
        price=102_000.0,
        fee_usd=5.1,
        realized_pnl_usd=200.0,
        reduce_only=True,
        reason=FillReason.TAKE_PROFIT,
        client_order_id="x",
        at=OPENED + timedelta(hours=2, minutes=30),
    )
    [trade] = closed_trades(
        {"BTC": _position()}, {}, [exit_fill], reasons={"BTC": "breakout above the 4h range"}, fee_rate=0.0005
    )
    # 200 realized - 5.10 exit fee - 100,000 x 0.1 x 0.05 % = 5.00 entry fee - 1.50 funding paid = 188.40
    assert trade.net_pnl_usd == pytest.approx(188.4, abs=1e-9)
    assert (trade.exit_price, trade.exit_reason, trade.reasoning) == (
        102_000.0,
        "take_profit",
        "breakout above the 4h range",
    )
    partial = exit_fill.model_copy(update={"amount": 0.05})
    assert (
        closed_trades({"BTC": _position()}, {"BTC": _position(amount=0.05)}, [partial], reasons={}, fee_rate=0.0005)
        == []
    )
    text = memory_text([trade], now=OPENED + timedelta(hours=3), limit=10, max_tokens=600)
    assert text == (
        f"{HEADER}\nBTC long 06-03 09:00 -> 06-03 11:30 (2h30m) 100000 -> 102000 | net +188.40 USDT | exit take_profit "
        "| at entry: breakout above the 4h range"
    )


def _trade(hour: int) -> ClosedTrade:
    return ClosedTrade(
        coin="ETH",
        side=Side.SHORT,
        amount=1,
        entry_price=2500,
        exit_price=2450,
        opened_at=OPENED,
        closed_at=OPENED + timedelta(hours=hour),
        net_pnl_usd=47.5,
        exit_reason="decision",
        reasoning="r",
    )


def test_the_memory_shows_only_trades_closed_before_now_the_last_n_within_its_token_cap():
    trades = [_trade(hour) for hour in range(1, 6)]  # closed 10:00 .. 14:00
    at_noon = memory_text(trades, now=datetime(2025, 6, 3, 12, 0, tzinfo=UTC), limit=10, max_tokens=600)
    assert at_noon.count("\nETH short") == 2  # 10:00 and 11:00; 12:00 is not before noon
    assert memory_text(trades, now=datetime(2025, 6, 4, tzinfo=UTC), limit=3, max_tokens=600).count("\nETH short") == 3
    line = memory_text(trades[:1], now=datetime(2025, 6, 4, tzinfo=UTC), limit=1, max_tokens=600)
    two_lines_tokens = math.ceil((len(line) + 1 + len(line.split("\n")[1])) / 4)
    capped = memory_text(trades, now=datetime(2025, 6, 4, tzinfo=UTC), limit=10, max_tokens=two_lines_tokens)
    assert capped.count("\nETH short") == 2 and capped.endswith(
        "14:00 (5h00m) 2500 -> 2450 | net +47.50 USDT | exit decision | at entry: r"
    )
    assert memory_text(trades, now=datetime(2025, 6, 4, tzinfo=UTC), limit=0, max_tokens=600) == ""


def test_claude_sees_the_trade_it_closed_with_the_reasoning_it_gave(fake_anthropic):
    from bot.tick.engine import TickContext, run_tick
    from bot.venues.history import HistoryMarket
    from bot.venues.paper import PaperBroker
    from tests.fakes.memory import MemoryJournal, MemoryStore

    settings = Settings(
        trading={"coins": ["BTC", "ETH"]},
        llm={"model": "claude-sonnet-5-5", "base_url": fake_anthropic.url, "retries": 0},
    )
    ctx = TickContext(
        settings=settings,
        mode="replay",
        dry_run=True,
        market=HistoryMarket(),
        strategy=ClaudeStrategy(settings.llm, max_leverage=10, api_key="sk-test"),
        broker=PaperBroker(settings.paper),
        store=MemoryStore(),
        journal=MemoryJournal(),
    )
    btc = HistoryMarket().snapshot_at(["BTC"], NOW).coins["BTC"].last_price
    buy = {
        "coin": "BTC",
        "action": "BUY",
        "confidence": 0.8,
        "size_pct": 10,
        "leverage": 2,
        "stop_loss": btc * 0.9,
        "take_profit": btc * 1.2,
        "reasoning": "momentum turning up",
    }
    close = {"coin": "BTC", "action": "CLOSE", "confidence": 0.9, "reasoning": "momentum gone"}
    fake_anthropic.script(
        tool_call({"decisions": [buy]}), tool_call({"decisions": [close]}), tool_call({"decisions": []})
    )
    for minutes in (0, 3, 6):
        report = asyncio.run(run_tick(ctx, NOW + timedelta(minutes=minutes)))
        assert report.outcome == "ok", report.message
    assert [len(request.body["system"]) for request in fake_anthropic.requests] == [
        1,
        1,
        2,
    ]  # the memory block from the third tick
    memory = fake_anthropic.requests[2].body["system"][1]["text"]
    [trade] = ctx.store.state.closed_trades
    assert memory == f"{HEADER}\n" + (
        f"BTC long 06-03 12:00 -> 06-03 12:03 (3m) {trade.entry_price:.6g} -> {trade.exit_price:.6g} | net {trade.net_pnl_usd:+.2f} USDT "
        "| exit decision | at entry: momentum turning up"
    )
    assert ctx.store.state.entry_reasons == {} and report.decisions == []
    assert Action.CLOSE  # the close was Claude's decision, traded by the paper broker


def test_status_shows_todays_cache_hit_ratio_and_the_dollars_it_saved(project, fake_anthropic):
    env = _model_env(fake_anthropic.url, "claude-sonnet-5-5")
    for _ in range(2):
        assert run_bot("tick", "--dry-run", "--replay", cwd=project, env=env).returncode == 0
    first, second = [
        json.loads(line)["usage"] for line in (project / "var" / "replay" / "journal.jsonl").read_text().splitlines()
    ]
    assert first["cache_read_tokens"] == 0 and second["cache_read_tokens"] == first["cache_write_tokens"] > 0
    status = json.loads(run_bot("status", "--replay", "--json", cwd=project).stdout)
    prompt = sum(
        usage[key] for usage in (first, second) for key in ("input_tokens", "cache_write_tokens", "cache_read_tokens")
    )
    assert status["llm_cache_hit_ratio_today"] == pytest.approx(second["cache_read_tokens"] / prompt)
    # Sonnet 5.5: a write costs $0.50 per million more than plain input ($2.50 vs $2), a read $1.80 less ($0.20)
    saved = (second["cache_read_tokens"] * 1.80 - first["cache_write_tokens"] * 0.50) / 1e6
    assert status["llm_cache_saved_usd_today"] == pytest.approx(saved, abs=1e-12)
    assert status["llm_thinking_tokens_today"] == 240  # the fake's 120 at effort low, twice
    text = run_bot("status", "--replay", cwd=project).stdout
    assert (
        f"cache hits {status['llm_cache_hit_ratio_today']:.0%} of prompt tokens, saved {saved:.4f} USD · thinking 240 tokens"
        in text
    )


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
