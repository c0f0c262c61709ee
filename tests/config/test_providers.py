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
