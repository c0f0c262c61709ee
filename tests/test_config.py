"""Config loading: TOML + environment, one-line errors that name the setting and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.file import load_settings
from bot.errors import ConfigError


def _load(tmp_path: Path, text: str, env: str = ""):
    (tmp_path / "config.toml").write_text(text)
    if env:
        (tmp_path / ".env").write_text(env)
    return load_settings(tmp_path / "config.toml")


def test_defaults_paths_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    settings = _load(tmp_path, "")
    assert settings.trading.coins == ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]
    assert settings.var_dir == tmp_path.resolve() / "var"
    assert settings.enable_trading is False


def test_environment_overrides_the_file_and_secrets_come_from_dotenv(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_EXCHANGE__API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BOT_RISK__MAX_LEVERAGE", "4")
    settings = _load(tmp_path, "[risk]\nmax_leverage = 8\n", env="ANTHROPIC_API_KEY=sk-ant-test\nUNRELATED=1\n")
    assert settings.exchange.api_url == "http://127.0.0.1:9"
    assert settings.risk.max_leverage == 4
    assert settings.secrets() == ["sk-ant-test"]
    assert "sk-ant-test" not in repr(settings)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[trading]\ncoin = ["BTC"]', "config.toml: unknown setting `trading.coin` — did you mean `trading.coins`?"),
        ("[tradng]\n", "config.toml: unknown setting `tradng` — did you mean `trading`?"),
        (
            "[risk]\nmax_leverage = -2",
            "config.toml: `risk.max_leverage`: Input should be greater than or equal to 1 (got -2)",
        ),
        (
            '[trading]\ncoins = ["BTC", "B-T"]',
            "config.toml: `trading.coins`: 'B-T' is not a coin name (use base names like BTC, ETH)",
        ),
        ("[paper]\nslippage_pct = 'lots'", "config.toml: `paper.slippage_pct`: Input should be a valid number"),
        (
            '[exchange]\nsecret = "s3cr3t"',
            "config.toml: `exchange.secret` looks like a secret; secrets belong in the environment",
        ),
        ("enable_trading = ", "config.toml: not valid TOML"),
        ('[exchange]\napi_url = "localhost:80"', "config.toml: `exchange.api_url`: must look like http://host:port"),
        (
            '[llm]\nmodel = "claude-sonet-4-6"',
            """config.toml: `llm`: model 'claude-sonet-4-6' has no price: add [llm.prices."claude-sonet-4-6"] """
            "to config.toml — did you mean `claude-sonnet-4-6`?",
        ),
        (
            "[llm]\ntimeout_s = 60\ndeadline_s = 30",
            "config.toml: `llm`: deadline_s (30) must be at least timeout_s (60)",
        ),
        (
            "[llm]\ndeadline_s = 600",
            "config.toml: `llm.deadline_s`: Input should be less than or equal to 150 (got 600)",
        ),
        ('[llm]\nfallback = "claude"', "config.toml: `llm.fallback`: Input should be 'rules' or 'hold' (got 'claude')"),
        # `strategy.name` is checked against bot.strategies.KINDS when the strategy is built:
        # tests/strategies/test_registry.py
        (
            '[llm]\napi_key = "sk-ant-s3cr3t"',
            "config.toml: `llm.api_key` looks like a secret; secrets belong in the environment",
        ),
    ],
)
def test_bad_config_gives_one_line_naming_the_setting(tmp_path, text, message):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, text)
    assert str(error.value).startswith(f"{tmp_path / 'config.toml'}: ")
    assert message.removeprefix("config.toml: ") in str(error.value)
    assert "\n" not in str(error.value)
    assert "s3cr3t" not in str(error.value)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "BOT_EXCHANGE__ENABLE_TRADING",
            "true",
            "BOT_EXCHANGE__ENABLE_TRADING (environment or {env}): unknown setting `exchange.enable_trading`",
        ),
        (
            "BOT_RISK__MAX_LEVERAGE",
            "-3",
            "BOT_RISK__MAX_LEVERAGE (environment or {env}): `risk.max_leverage`: "
            "Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_bad_environment_variable_is_named_instead_of_config_toml(tmp_path, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, "[risk]\nmin_confidence = 0.6\n")
    assert str(error.value).startswith(message.format(env=tmp_path.resolve() / ".env"))


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.toml"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("key", "refused"),
    [("secret", True), ("bot_token", True), ("apikey", True), ("max_tokens", False), ("secretive_mode", False)],
)
def test_only_secret_named_keys_are_refused(tmp_path, key, refused):
    from bot.config.file import _reject_secrets

    if refused:
        with pytest.raises(ConfigError, match="looks like a secret"):
            _reject_secrets(tmp_path / "config.toml", {"section": {key: "x"}})
    else:
        _reject_secrets(tmp_path / "config.toml", {"section": {key: "x"}})


def test_notify_urls_from_the_environment_are_secrets_scrubbed_in_parts(tmp_path, monkeypatch):
    url = "tgram://123456789:AAFsecretTOKENvalue/987654321"
    monkeypatch.setenv("BOT_NOTIFY__URLS", f'["{url}", "json://127.0.0.1:8080/hook"]')
    settings = load_settings(tmp_path / "config.toml", explicit=False)
    assert [u.get_secret_value() for u in settings.notify.urls] == [url, "json://127.0.0.1:8080/hook"]
    assert url not in repr(settings)
    secrets = settings.secrets()
    assert url in secrets and "AAFsecretTOKENvalue" in secrets and "123456789" in secrets and "987654321" in secrets
    assert "127.0.0.1" not in secrets and "hook" not in secrets


def test_notify_urls_that_are_not_json_are_a_config_error_without_the_value(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_NOTIFY__URLS", "tgram://123456789:AAFsecretTOKENvalue/987654321")
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path / "config.toml", explicit=False)
    assert "AAFsecretTOKENvalue" not in str(error.value)
    assert str(error.value).startswith('error parsing value for field "notify" from source "EnvSettingsSource"')


def test_a_priced_model_adds_to_the_default_price_table(tmp_path):
    settings = _load(
        tmp_path,
        '[llm]\nmodel = "claude-mythos-5-1"\n[llm.prices."claude-mythos-5-1"]\n'
        "input_usd_per_mtok = 10\noutput_usd_per_mtok = 50\n"
        "cache_write_usd_per_mtok = 12.5\ncache_read_usd_per_mtok = 1\n",
    )
    assert settings.llm.price.output_usd_per_mtok == 50
    assert sorted(settings.llm.prices) == [
        "claude-fable-5",
        "claude-fable-5-1",
        "claude-fable-5-2",
        "claude-haiku-4-5",
        "claude-haiku-5-5",
        "claude-mythos-5-1",
        "claude-opus-4-5",
        "claude-opus-4-6",
        "claude-opus-4-7",
        "claude-opus-4-8",
        "claude-opus-5",
        "claude-opus-5-5",
        "claude-sonnet-4-6",
        "claude-sonnet-5",
        "claude-sonnet-5-5",
    ]


def test_the_shipped_config_toml_holds_the_defaults(monkeypatch):
    from bot.config import Settings
    from tests.conftest import ROOT

    for name in [key for key in __import__("os").environ if key.startswith(("BOT_", "ANTHROPIC_"))]:
        monkeypatch.delenv(name)
    shipped = load_settings(ROOT / "config.toml")
    defaults = Settings(base_dir=ROOT)
    assert shipped.model_dump(exclude={"base_dir"}) == defaults.model_dump(exclude={"base_dir"})


def test_an_unparsable_list_in_the_environment_is_one_clear_line(tmp_path, monkeypatch):
    # Found by tests/test_config_fuzz.py: pydantic-settings' SettingsError used to escape.
    monkeypatch.setenv("BOT_TRADING__COINS", "BTC:ETH")
    with pytest.raises(
        ConfigError, match=r"""field "trading" .* must be JSON, e\.g\. BOT_TRADING__COINS='\["BTC","ETH"\]'"""
    ):
        _load(tmp_path, "")
