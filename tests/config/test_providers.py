"""Other providers: the built-in profiles, `[providers.NAME]`, the key from the environment or
.env, and the real SDK against a fake MiniMax-like provider on 127.0.0.1 (tests/fakes/provider.py):
no Models API (the profile stands in), bearer auth, only the fields it accepts, JSON text where
it has no tool use."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from bot.config import Settings
from bot.config.providers import BUILTIN_PROVIDERS
from bot.errors import LlmRequestError, LlmUnavailable
from bot.models import Action, ReturnStats
from bot.strategies import build
from bot.tick.indicators import compute_features
from bot.tick.portfolio import portfolio_of
from bot.tick.prompt import build_prompt
from bot.venues.history import HistoryMarket
from tests.fakes.anthropic import text_reply, tool_call
from tests.fakes.provider import FakeProvider

NOW = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)
KEY = "mm-test-key-0123456789"
ANTHROPIC_KEY = "sk-ant-must-never-leave-0123"
PRICE = {  # 1000 in x $0.30 + 200 out x $1.20 per million = $0.00054 a call
    "input_usd_per_mtok": 0.30,
    "output_usd_per_mtok": 1.20,
    "cache_write_usd_per_mtok": 0.30,
    "cache_read_usd_per_mtok": 0.03,
}
USAGE = {"input_tokens": 1000, "output_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


@pytest.fixture(scope="module")
def tick():
    features = compute_features(HistoryMarket().snapshot_at(["BTC", "ETH"], NOW))
    features = {
        "BTC": features["BTC"].model_copy(update={"price": 100_000.0}),
        "ETH": features["ETH"].model_copy(update={"price": 2_500.0}),
    }
    prices = {"BTC": 100_000.0, "ETH": 2_500.0}
    portfolio = portfolio_of(
        cash_usd=10_000, positions={}, prices=prices, initial_equity_usd=10_000, stats=ReturnStats()
    )
    return features, portfolio


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("MINIMAX_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)


def _settings(tmp_path, url: str, providers=None, **llm) -> Settings:
    return Settings(
        providers=providers or {},
        trading={"coins": ["BTC", "ETH"]},
        strategy={"name": "claude"},
        paths={"var_dir": str(tmp_path)},
        llm={
            "provider": "minimax",
            "model": "MiniMax-M3",
            "base_url": url,
            "retries": 0,
            "timeout_s": 5,
            "prices": {"MiniMax-M3": PRICE},
            **llm,
        },
        base_dir=tmp_path,
    )


def _decide(strategy, settings, tick):
    features, portfolio = tick
    prompt = build_prompt(settings, features, portfolio, now=NOW, tick=7)
    return asyncio.run(strategy.decide(features=features, portfolio=portfolio, prompt=prompt))


def _buy() -> dict:
    entry = {"coin": "BTC", "action": "BUY", "confidence": 0.8, "size_pct": 10, "leverage": 3}
    return {**entry, "stop_loss": 98_000, "take_profit": 104_000}


# -- the profiles and the config -------------------------------------------------------------------


def test_the_built_in_profiles_are_the_documented_hosts_each_with_its_sources():
    hosts = {name: profile.base_url for name, profile in BUILTIN_PROVIDERS.items()}
    assert hosts == {
        "deepseek": "https://api.deepseek.com/anthropic",
        "moonshot": "https://api.moonshot.ai/anthropic",
        "zai": "https://api.z.ai/api/anthropic",
        "minimax": "https://api.minimax.io/anthropic",
        "ollama": "http://localhost:11434",
    }
    assert all(profile.sources for profile in BUILTIN_PROVIDERS.values())
    # what no page read documents stays off: no structured outputs, thinking or cache control anywhere
    for profile in BUILTIN_PROVIDERS.values():
        assert (profile.structured_outputs, profile.thinking_types, profile.cache_control) == (False, [], False)
    assert not BUILTIN_PROVIDERS["moonshot"].tools and not BUILTIN_PROVIDERS["zai"].tools  # JSON text
    assert BUILTIN_PROVIDERS["deepseek"].auth == "x-api-key"


def test_an_unknown_provider_and_an_unpriced_model_are_one_line_each(tmp_path):
    with pytest.raises(ValueError, match=r"llm.provider 'nope' is not a provider: use one of anthropic, deepseek"):
        Settings(llm={"provider": "nope", "model": "m"}, base_dir=tmp_path)
    with pytest.raises(ValueError, match=r"model 'kimi-k3' has no price: add \[llm.prices.\"kimi-k3\"\]"):
        Settings(llm={"provider": "moonshot", "model": "kimi-k3"}, base_dir=tmp_path)


def test_a_provider_table_brings_its_prices_and_a_built_in_one_prices_its_models(tmp_path):
    table = {
        "base_url": "http://127.0.0.1:9/anthropic",
        "api_key_env": "MY_LLM_KEY",
        "prices": {"my-model": {**PRICE, "source": "my invoice"}},
    }
    settings = Settings(llm={"provider": "mine", "model": "my-model"}, providers={"mine": table}, base_dir=tmp_path)
    assert settings.llm.price.input_usd_per_mtok == 0.30 and settings.llm.price.source == "my invoice"
    deepseek = Settings(llm={"provider": "deepseek", "model": "deepseek-v4-pro"}, base_dir=tmp_path)
    assert (deepseek.llm.price.input_usd_per_mtok, deepseek.llm.price.output_usd_per_mtok) == (1.32, 3.96)
    local = Settings(llm={"provider": "ollama", "model": "qwen3-coder"}, base_dir=tmp_path)
    assert local.llm.price.output_usd_per_mtok == 0


def test_the_key_comes_from_dotenv_and_is_scrubbed_like_every_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIMAX_API_KEY", raising=False)
    (tmp_path / ".env").write_text(f"MINIMAX_API_KEY={KEY}\n")
    settings = _settings(tmp_path, "http://127.0.0.1:9/anthropic")
    assert settings.provider_key(BUILTIN_PROVIDERS["minimax"]) == KEY
    assert KEY in settings.secrets()


def test_a_provider_without_its_key_is_a_config_error_naming_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIMAX_API_KEY", raising=False)
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="needs MINIMAX_API_KEY in the environment"):
        build(_settings(tmp_path, "http://127.0.0.1:9/anthropic"))


# -- the real SDK against the fake provider --------------------------------------------------------


def test_without_a_models_api_the_profile_shapes_a_request_the_provider_accepts(tmp_path, keys, tick):
    with FakeProvider().start() as fake:
        settings = _settings(tmp_path, fake.base_url)
        strategy = build(settings, clock=lambda: NOW)
        fake.script(tool_call({"decisions": [_buy()]}, usage=USAGE))
        decisions = _decide(strategy, settings, tick)
        first = strategy.trace
        _decide(strategy, settings, tick)  # the profile's answer is cached: no second lookup
    assert [(d.coin, d.action) for d in decisions] == [("BTC", Action.BUY)]
    assert fake.model_lookups == ["/anthropic/v1/models/MiniMax-M3"]  # asked once, 404: the profile stands in
    assert strategy.caps.source == "profile"
    assert first.shape == "forced_tool"
    assert first.usage.cost_usd == pytest.approx(0.00054)  # 1000 x 0.30 + 200 x 1.20, per million
    sent = fake.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}" and "x-api-key" not in sent.headers
    assert ANTHROPIC_KEY not in json.dumps(sent.headers)  # Anthropic's key never reaches another provider
    assert sent.body["tool_choice"] == {"type": "tool", "name": "decide"}
    assert not {"thinking", "output_config"} & set(sent.body)
    assert "cache_control" not in json.dumps(sent.body)


def test_the_fake_refuses_what_the_provider_does_not_accept(tmp_path):
    import anthropic

    with FakeProvider().start() as fake:
        client = anthropic.Anthropic(auth_token=fake.key, base_url=fake.base_url, max_retries=0)
        system = [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]
        with pytest.raises(anthropic.BadRequestError, match="unsupported parameter: cache_control"):
            client.messages.create(model="MiniMax-M3", max_tokens=256, system=system, messages=[])
        with pytest.raises(anthropic.BadRequestError, match="unsupported parameter: thinking"):
            client.messages.create(model="MiniMax-M3", max_tokens=256, thinking={"type": "disabled"}, messages=[])
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("MiniMax-M3")


def test_a_wrong_key_is_one_line_naming_the_providers_variable_and_never_the_key(tmp_path, monkeypatch, tick):
    monkeypatch.setenv("MINIMAX_API_KEY", "mm-wrong-key-9876543210")
    with FakeProvider().start() as fake:
        settings = _settings(tmp_path, fake.base_url)
        with pytest.raises(LlmRequestError) as caught:
            _decide(build(settings, clock=lambda: NOW), settings, tick)
    message = str(caught.value)
    assert message.startswith("provider minimax: ") and "MINIMAX_API_KEY" in message and "401" in message
    assert "mm-wrong-key" not in message


def test_a_provider_without_tool_use_gets_json_text_checked_by_the_same_contract(tmp_path, keys, tick):
    table = BUILTIN_PROVIDERS["moonshot"].model_dump() | {"api_key_env": "MINIMAX_API_KEY"}
    eth = {**_buy(), "coin": "ETH", "stop_loss": 2_600, "take_profit": 2_700}  # its stop above its price: held
    answer = {"decisions": [_buy(), eth]}
    with FakeProvider(tools=False).start() as fake:
        settings = _settings(tmp_path, fake.base_url, providers={"kimi": table}, provider="kimi")
        strategy = build(settings, clock=lambda: NOW)
        fake.script(text_reply(f"Here it is:\n```json\n{json.dumps(answer)}\n```", usage=USAGE))
        decisions = _decide(strategy, settings, tick)
        fake.script(text_reply("I would rather not say."))
        with pytest.raises(LlmUnavailable, match="kimi's answer holds no JSON object: 'I would rather not say.'"):
            _decide(strategy, settings, tick)
    assert strategy.trace.shape == "json_text"
    body = fake.requests[0].body
    assert "tools" not in body and "tool_choice" not in body
    assert '"decisions"' in body["system"][0]["text"]  # the schema is written out for the model to follow
    assert [(d.coin, d.action) for d in decisions] == [("BTC", Action.BUY), ("ETH", Action.HOLD)]
    assert "stop_loss 2600 is not below the price 2500" in decisions[1].reasoning


# -- the arena across providers, as cron runs it ----------------------------------------------------

ARENA = """
[strategy]
name = "rules"
[trading]
coins = ["BTC", "ETH"]
[arena]
active = "minimax"
[[arena.candidates]]
name = "haiku"
strategy = "claude"
llm = {{ model = "claude-haiku-5-5", retries = 0, timeout_s = 2, deadline_s = 5 }}
[[arena.candidates]]
name = "minimax"
strategy = "claude"
provider = "minimax"
llm = {{ model = "MiniMax-M3", base_url = "{url}", retries = 0, timeout_s = 2, deadline_s = 5 }}
[providers.minimax]
base_url = "https://api.minimax.io/anthropic"
api_key_env = "MINIMAX_API_KEY"
tools = true
forced_tool = true
prices = {{ "MiniMax-M3" = {{ input_usd_per_mtok = 0.30, output_usd_per_mtok = 1.20, cache_write_usd_per_mtok = 0.30, \
cache_read_usd_per_mtok = 0.03 }} }}
"""


def _decision(coin: str, action: str, price: float) -> dict:
    stop, take = (price * 0.98, price * 1.04) if action == "BUY" else (price * 1.02, price * 0.96)
    entry = {"coin": coin, "action": action, "confidence": 0.8, "size_pct": 10, "leverage": 2}
    return {**entry, "stop_loss": round(stop, 2), "take_profit": round(take, 2), "reasoning": "scripted"}


def test_an_arena_of_claude_and_a_provider_trades_two_books_as_scripted(project, fake_anthropic):
    import math

    from bot.models import Side
    from bot.ops.state import StateStore
    from tests.arena.arenakit import FIRST
    from tests.conftest import run_bot

    prices = HistoryMarket().snapshot_at(["BTC", "ETH"], FIRST).coins
    btc, eth = prices["BTC"].last_price, prices["ETH"].last_price
    buy_btc = tool_call({"decisions": [_decision("BTC", "BUY", btc)]}, usage=USAGE)
    fake_anthropic.script_for("claude-haiku-5-5", buy_btc)
    sell_eth = tool_call({"decisions": [_decision("ETH", "SELL", eth)]}, usage=USAGE)
    with FakeProvider().start() as provider:
        provider.script_for("MiniMax-M3", sell_eth, sell_eth)  # its book, then the account (it is active)
        (project / "config.toml").write_text(ARENA.format(url=provider.base_url))
        env = {"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": fake_anthropic.url, "MINIMAX_API_KEY": KEY}
        result = run_bot("tick", "--dry-run", "--replay", cwd=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr

    def book(name):
        return StateStore(project / "var" / "replay" / "arena" / name / "state.json").load()

    def lots(price):  # 10 % of 10,000 at 2x, lot 0.001 rounded down
        return math.floor(10_000 * 0.10 * 2 / price * 1000) / 1000

    haiku, minimax = book("haiku"), book("minimax")
    assert {c: (p.side, p.amount) for c, p in haiku.positions.items()} == {"BTC": (Side.LONG, pytest.approx(lots(btc)))}
    assert {c: (p.side, p.amount) for c, p in minimax.positions.items()} == {
        "ETH": (Side.SHORT, pytest.approx(lots(eth)))
    }
    # each book pays its own model: Haiku 5.5 at 0.10 / 0.50, the provider's row 0.30 / 1.20 per MTok
    assert haiku.llm.spent("2025-06-02").cost_usd == pytest.approx((1000 * 0.10 + 200 * 0.50) / 1e6, abs=1e-12)
    assert minimax.llm.spent("2025-06-02").cost_usd == pytest.approx((1000 * 0.30 + 200 * 1.20) / 1e6, abs=1e-12)
    account = StateStore(project / "var" / "replay" / "state.json").load()
    assert {c: (p.side, p.amount) for c, p in account.positions.items()} == {
        "ETH": (Side.SHORT, pytest.approx(lots(eth)))
    }
    assert [r.headers["authorization"] for r in provider.requests] == [f"Bearer {KEY}"] * 2
    assert [r.headers["authorization"] for r in fake_anthropic.requests] == [f"Bearer {ANTHROPIC_KEY}"]
    status = run_bot("status", "--replay", cwd=project)
    said = [line for line in status.stdout.splitlines() if "serves no Models API" in line]
    assert said == [
        "LLM model MiniMax-M3: provider minimax serves no Models API; its capabilities come from the provider's "
        'profile (README "Other providers")'
    ]
    logs = "".join(p.read_text() for p in (project / "var").rglob("*.log")) + result.stdout + result.stderr
    assert KEY not in logs and ANTHROPIC_KEY not in logs


def test_an_x_api_key_provider_gets_the_key_in_that_header_alone(tmp_path, keys, tick):
    table = BUILTIN_PROVIDERS["deepseek"].model_dump() | {"api_key_env": "MINIMAX_API_KEY"}
    with FakeProvider(auth="x-api-key").start() as fake:
        settings = _settings(tmp_path, fake.base_url, providers={"ds": table}, provider="ds")
        decisions = _decide(build(settings, clock=lambda: NOW), settings, tick)
    assert {d.action for d in decisions} == {Action.HOLD}
    [sent] = fake.requests
    assert sent.headers["x-api-key"] == KEY and "authorization" not in sent.headers


def test_where_the_models_api_answers_it_wins_over_the_profile(tmp_path, keys, tick, fake_anthropic):
    # a provider whose profile says JSON text only, in front of a server whose Models API lists the model
    table = {"base_url": fake_anthropic.url, "api_key_env": "MINIMAX_API_KEY", "prices": {"claude-sonnet-4-6": PRICE}}
    settings = _settings(
        tmp_path, fake_anthropic.url, providers={"proxy": table}, provider="proxy", model="claude-sonnet-4-6"
    )
    strategy = build(settings, clock=lambda: NOW)
    _decide(strategy, settings, tick)
    assert strategy.caps.source == "models_api" and strategy.caps.structured_outputs
    assert strategy.trace.shape == "json_schema"


def test_a_models_api_path_answering_in_openais_shape_leaves_the_profile_in_charge(tmp_path, keys, tick):
    table = BUILTIN_PROVIDERS["ollama"].model_dump() | {"api_key_env": "MINIMAX_API_KEY"}
    with FakeProvider(models_api="openai").start() as fake:
        settings = _settings(tmp_path, fake.base_url, providers={"local": table}, provider="local")
        strategy = build(settings, clock=lambda: NOW)
        decisions = _decide(strategy, settings, tick)
    assert {d.action for d in decisions} == {Action.HOLD}
    assert strategy.caps.source == "profile" and strategy.trace.shape == "auto_tool"  # Ollama: no forced choice
    assert fake.requests[0].body["tool_choice"] == {"type": "auto"}
