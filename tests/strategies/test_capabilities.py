"""What the configured model accepts: read once from the Models API and cached under var/cache;
a retired or unknown model is a config error naming the active ones."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.config import LlmSettings
from bot.errors import ConfigError
from bot.strategies.claude import ClaudeStrategy
from tests.strategies.claudekit import NOW, PRICE, PROMPT, _decide_prompt, _model_strategy


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
        api_key="k",
        cache_dir=tmp_path,
        clock=lambda: NOW + timedelta(hours=25),
        capabilities_ttl=timedelta(hours=24),
    )
    _decide_prompt(later)  # older than llm.capabilities_ttl_hours: asked again
    assert len(fake_anthropic.model_lookups) == 2
    backtest = ClaudeStrategy(strategy.llm, api_key="k", cache_dir=tmp_path, clock=lambda: NOW + timedelta(days=400))
    _decide_prompt(backtest)  # no TTL (a backtest): whatever the cache holds
    assert len(fake_anthropic.model_lookups) == 2


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "claude-sonnet-4-5",
            "llm.model 'claude-sonnet-4-5' is retired: Anthropic no longer serves it; set llm.model in config.toml to "
            "an active model",
        ),
        (
            "claude-nope-test",
            "llm.model 'claude-nope-test' is not a model the Anthropic API knows (404): set llm.model in config.toml "
            "to an active one",
        ),
    ],
)
def test_a_retired_or_unknown_model_is_a_config_error_naming_active_models(fake_anthropic, model, message):
    settings = LlmSettings(base_url=fake_anthropic.url, model=model, retries=0, prices={model: PRICE})
    with pytest.raises(ConfigError) as caught:
        asyncio.run(ClaudeStrategy(settings, api_key="k").decide(features={}, portfolio=None, prompt=PROMPT))
    active = [spec.id for spec in fake_anthropic.models.values() if spec.lifecycle == "active"][:5]
    assert str(caught.value) == f"{message}, e.g. {', '.join(active)}"
    assert fake_anthropic.requests == []  # no message was sent
