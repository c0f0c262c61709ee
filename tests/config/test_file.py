"""Config loading: TOML + environment, one-line errors that name the setting and the fix; any
input (hypothesis) loads or fails with one line; trading windows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from bot.config import OpsSettings, Settings, TradingWindow
from bot.config.file import load_settings
from bot.errors import ConfigError


def _load(tmp_path: Path, text: str, env: str = ""):
    (tmp_path / "config.toml").write_text(text)
    if env:
        (tmp_path / ".env").write_text(env)
    return load_settings(tmp_path / "config.toml")


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _known_keys() -> list[tuple[str, ...]]:
    keys: list[tuple[str, ...]] = []
    for name, field in Settings.model_fields.items():
        if field.exclude or field.validation_alias is not None:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys += [(name, sub) for sub in annotation.model_fields]
        else:
            keys.append((name,))
    return keys


KEYS = _known_keys()
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string for these characters
    return str(value)


def _toml(entries: dict[tuple[str, ...], object]) -> str:
    top = [f"{key[0]} = {_toml_value(value)}" for key, value in entries.items() if len(key) == 1]
    sections: dict[str, list[str]] = {}
    for key, value in entries.items():
        if len(key) == 2:
            sections.setdefault(key[0], []).append(f"{key[1]} = {_toml_value(value)}")
    parts = top + [f"[{name}]\n" + "\n".join(lines) for name, lines in sections.items()]
    return "\n".join(parts) + "\n"


def _load_or_explain(folder: Path):
    """The loader's contract: Settings, or a ConfigError whose message is one line."""
    try:
        return load_settings(folder / "config.toml")
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message, message
        return exc


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
        # tests/strategies/test_kinds.py
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
            "BOT_RISK__MAX_LEVERAGE (environment or {env}): `risk.max_leverage`: Input should be greater than or equal "
            "to 1",
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
        '[llm]\nmodel = "claude-mythos-5-2"\n[llm.prices."claude-mythos-5-2"]\ninput_usd_per_mtok = '
        "10\noutput_usd_per_mtok = 50\n"
        "cache_write_usd_per_mtok = 12.5\ncache_read_usd_per_mtok = 1\n",
    )
    assert settings.llm.price.output_usd_per_mtok == 50
    assert sorted(settings.llm.prices) == [
        "claude-fable-5",
        "claude-fable-5-1",
        "claude-fable-5-2",
        "claude-haiku-4-5",
        "claude-haiku-5-5",
        "claude-mythos-5",
        "claude-mythos-5-1",
        "claude-mythos-5-2",
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
    # Found by the fuzz tests below: pydantic-settings' SettingsError used to escape.
    monkeypatch.setenv("BOT_TRADING__COINS", "BTC:ETH")
    with pytest.raises(
        ConfigError, match=r"""field "trading" .* must be JSON, e\.g\. BOT_TRADING__COINS='\["BTC","ETH"\]'"""
    ):
        _load(tmp_path, "")


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(KEYS + [("trading", "coin"), ("nonsense",), ("risk", "max_leverage_x")]), values, max_size=6
    )
)
def test_any_typed_values_for_any_keys_load_or_fail_with_one_line(tmp_path_factory, entries):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_text(_toml(entries), encoding="utf-8")
    _load_or_explain(folder)


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_config_toml_load_or_fail_with_one_line(tmp_path_factory, content):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_bytes(content)
    _load_or_explain(folder)


@FUZZ
@given(st.sampled_from(KEYS), st.text(max_size=40).filter(lambda text: "\x00" not in text))
def test_any_environment_override_loads_or_fails_with_one_line(tmp_path_factory, key, text):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_text("")
    name = "BOT_" + "__".join(part.upper() for part in key)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(name, text)
        _load_or_explain(folder)


@FUZZ
@given(st.text(max_size=200).filter(lambda text: "\x00" not in text))
def test_any_dotenv_file_loads_or_fails_with_one_line(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.toml").write_text("")
    (folder / ".env").write_text(text, encoding="utf-8")
    _load_or_explain(folder)


@pytest.mark.parametrize(
    ("text", "weekdays", "hours"),
    [
        ("mon-fri 08-20", {0, 1, 2, 3, 4}, (8, 20)),
        ("sat 10:00-14:00", {5}, (10, 14)),
        ("fri-mon 00-24", {4, 5, 6, 0}, (0, 24)),
    ],
)
def test_trading_windows_parse(text, weekdays, hours):
    window = TradingWindow.parse(text)
    assert window.weekdays == weekdays and (window.start_hour, window.end_hour) == hours


@pytest.mark.parametrize("text", ["weekdays 8-20", "mon-fri 20-08", "mon-fri 08-25", "mon 8"])
def test_a_bad_trading_window_is_a_config_error_naming_it(text):
    with pytest.raises(ValueError, match="mon-fri 08-20|0 <= from < to <= 24"):
        OpsSettings(trading_windows=[text])


# -- issue 31: the owner's instructions, ANTHROPIC_BASE_URL from .env ---------------------------------------------


def test_instructions_inline_or_from_a_file_beside_the_config(tmp_path):
    from bot.tick.prompt import system_prompt

    inline = _load(tmp_path, '[llm]\ninstructions = """\nOnly trade with the 4h trend.\nHalf size on DOGE.\n"""\n')
    assert inline.llm.instructions == "Only trade with the 4h trend.\nHalf size on DOGE."
    assert system_prompt(inline).endswith(
        "\n\nThe owner's instructions (the rules above still apply):\nOnly trade with the 4h trend.\nHalf size on DOGE."
    )
    (tmp_path / "notes.md").write_text("  Prefer BTC.\n\n")
    from_file = _load(tmp_path, '[llm]\ninstructions_file = "notes.md"\n')
    assert from_file.llm.instructions == "Prefer BTC."
    assert system_prompt(from_file) == system_prompt(from_file)  # the same bytes every tick: cached


@pytest.mark.parametrize(
    ("text", "files", "message"),
    [
        (
            f'[llm]\ninstructions = "{"x" * 6004}"\n',
            {},
            "config.toml: `llm.instructions`: llm.instructions is ~1,501 tokens (6,004 characters), above "
            f"the 1,500-token bound: shorten it (got '{'x' * 76}...)",
        ),
        (
            '[llm]\ninstructions_file = "big.md"\n',
            {"big.md": "y" * 8000},
            "llm.instructions_file '{dir}/big.md' is ~2,000 tokens (8,000 characters), above the 1,500-token bound: "
            "shorten it",
        ),
        (
            '[llm]\ninstructions_file = "missing.md"\n',
            {},
            "llm.instructions_file '{dir}/missing.md': cannot read (No such file or directory)",
        ),
        (
            '[llm]\ninstructions = "a"\ninstructions_file = "notes.md"\n',
            {"notes.md": "b"},
            "config.toml: `llm`: set llm.instructions or llm.instructions_file, not both",
        ),
    ],
)
def test_instructions_past_the_bound_or_unreadable_are_one_line(tmp_path, text, files, message):
    for name, body in files.items():
        (tmp_path / name).write_text(body)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert str(caught.value).replace(str(tmp_path.resolve()), "{dir}").endswith(message)


def test_anthropic_base_url_in_dotenv_is_honoured_like_the_key(tmp_path, monkeypatch):
    from bot.strategies import build

    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    env = "ANTHROPIC_API_KEY=sk-ant-test\nANTHROPIC_BASE_URL=http://127.0.0.1:8766\n"
    settings = _load(tmp_path, '[strategy]\nname = "claude"\n', env=env)
    assert build(settings).llm.base_url == "http://127.0.0.1:8766"
    # llm.base_url in config.toml still wins, as documented
    settings = _load(tmp_path, '[strategy]\nname = "claude"\n[llm]\nbase_url = "http://127.0.0.1:9"\n', env=env)
    assert build(settings).llm.base_url == "http://127.0.0.1:9"


def test_every_model_of_the_sdk_has_a_sourced_price_or_is_named_unpriced():
    import typing

    from anthropic.types.model_param import ModelParam

    from bot.config.llm import DEFAULT_PRICES

    listed = typing.get_args(typing.get_args(ModelParam)[0])
    unpriced = {"claude-mythos-preview", "claude-mythos-5-2"}  # no price row found (Mythos 5 and 5.1 have one)
    dated = {model for model in listed if model[-9:-8] == "-" and model[-8:].isdigit()}  # aliases of a priced id
    assert set(listed) - unpriced - dated == set(DEFAULT_PRICES)
    assert all(
        price.checked and price.source.startswith("https://platform.claude.com/") for price in DEFAULT_PRICES.values()
    )
    # the cache-read cuts in force since 2026-10-07 (issue 31)
    reads = {model: price.cache_read_usd_per_mtok for model, price in DEFAULT_PRICES.items()}
    assert (reads["claude-sonnet-5-5"], reads["claude-opus-5-5"], reads["claude-fable-5-1"]) == (0.10, 0.20, 0.25)
    fable = DEFAULT_PRICES["claude-fable-5-2"]
    assert (fable.input_usd_per_mtok, fable.output_usd_per_mtok, fable.cache_write_usd_per_mtok) == (8.0, 40.0, 10.0)
    assert fable.cache_read_usd_per_mtok == 0.20
    # config.toml's tables say the same as the defaults
    shipped = load_settings(Path(__file__).parents[2] / "config.toml").llm.prices
    assert {model: shipped[model] for model in DEFAULT_PRICES} == DEFAULT_PRICES


def test_every_priced_model_has_a_knowledge_cutoff():
    from bot.config.llm import DEFAULT_KNOWLEDGE_CUTOFFS, DEFAULT_PRICES

    assert set(DEFAULT_PRICES) == set(DEFAULT_KNOWLEDGE_CUTOFFS)
    # sourced on 2026-12-07 (issue 31): training-data cutoffs, or the release day where none is published
    assert {model: str(DEFAULT_KNOWLEDGE_CUTOFFS[model]) for model in ("claude-opus-5", "claude-opus-4-5")} == {
        "claude-opus-5": "2026-05-31",
        "claude-opus-4-5": "2025-08-31",
    }
    assert (DEFAULT_KNOWLEDGE_CUTOFFS["claude-fable-5"], DEFAULT_KNOWLEDGE_CUTOFFS["claude-opus-4-8"]) == (
        date(2026, 6, 9),
        date(2026, 5, 28),
    )
