"""Settings: config.toml, overridden by ``BOT_<SECTION>__<KEY>`` variables; secrets from the
environment or a ``.env`` file next to the config file, never from config.toml
(``bot.config.file`` reads them).

Relative paths are resolved against the config file's directory, so cron can start
the bot from any working directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.arena import ArenaSettings
from bot.config.backtest import BacktestSettings
from bot.config.intel import IntelSettings
from bot.config.llm import LlmSettings
from bot.config.ops import LogSettings, NotifySettings, OpsSettings, PathSettings, ServeSettings, TelegramSettings
from bot.config.providers import ANTHROPIC, BUILTIN_PROVIDERS, ProviderProfile
from bot.config.trading import (
    LIVE_CONFIRMATION,
    ExchangeSettings,
    LiveSettings,
    PaperSettings,
    RiskSettings,
    RulesSettings,
    StrategySettings,
    TradingSettings,
)
from bot.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BOT_", env_nested_delimiter="__", extra="ignore", frozen=True, populate_by_name=True
    )

    enable_trading: bool = Field(False, description="send real orders (also needs exchange keys)")
    exchange: ExchangeSettings = ExchangeSettings()
    trading: TradingSettings = TradingSettings()
    paper: PaperSettings = PaperSettings()
    risk: RiskSettings = RiskSettings()
    live: LiveSettings = LiveSettings()
    strategy: StrategySettings = StrategySettings()
    rules: RulesSettings = RulesSettings()
    llm: LlmSettings = LlmSettings()
    backtest: BacktestSettings = BacktestSettings()
    paths: PathSettings = PathSettings()
    log: LogSettings = LogSettings()
    ops: OpsSettings = OpsSettings()
    notify: NotifySettings = NotifySettings()
    intel: IntelSettings = IntelSettings()
    arena: ArenaSettings = ArenaSettings()
    serve: ServeSettings = ServeSettings()
    telegram: TelegramSettings = TelegramSettings()
    providers: dict[str, ProviderProfile] = Field(
        default_factory=dict, description="[providers.NAME]: Anthropic-compatible providers beside the built-in ones"
    )

    # Secrets: environment or .env only (config.toml is rejected if it holds any).
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("ANTHROPIC_API_KEY"))
    exchange_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("EXCHANGE_API_KEY"))
    exchange_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("EXCHANGE_SECRET"))
    cryptopanic_token: SecretStr | None = Field(None, validation_alias=AliasChoices("CRYPTOPANIC_TOKEN"))
    # not a secret, but read where the key is (the SDK reads it from the environment only; `.env` counts too)
    anthropic_base_url: str | None = Field(None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL"))

    base_dir: Path = Field(Path("."), exclude=True)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        # config.toml arrives as init kwargs and must rank BELOW the environment.
        return (env_settings, dotenv_settings, init_settings)

    @model_validator(mode="after")
    def _provider_known(self) -> Settings:
        """`llm.provider` names a provider; a [providers.NAME] model has a price (its rows join `llm.prices`)."""
        custom = {model: price for profile in self.providers.values() for model, price in profile.prices.items()}
        if custom:  # frozen: set once here, as validation ends; config.toml's own [llm.prices] rows still win
            merged = {**custom, **self.llm.prices}
            object.__setattr__(self, "llm", self.llm.model_copy(update={"prices": merged}))
        name, model = self.llm.provider, self.llm.model
        if name != ANTHROPIC and self.provider(name) is None:
            known = ", ".join([ANTHROPIC, *BUILTIN_PROVIDERS, *self.providers])
            raise ValueError(f"llm.provider {name!r} is not a provider: use one of {known} or add [providers.{name}]")
        profile = self.provider(name)
        if model not in self.llm.prices and (profile is None or profile.price_of(model) is None):
            raise ValueError(f'model {model!r} has no price: add [providers.{name}.prices."{model}"] to config.toml')
        return self

    def provider(self, name: str) -> ProviderProfile | None:
        """The profile called ``name``: config.toml's [providers.NAME] first, then the built-in one."""
        return self.providers.get(name) or BUILTIN_PROVIDERS.get(name)

    def provider_key(self, profile: ProviderProfile) -> str:
        """The provider's key: its variable in the environment, else in .env beside config.toml."""
        value = os.environ.get(profile.api_key_env)
        if value is None:
            from dotenv import dotenv_values  # pydantic-settings' own .env reader

            value = dotenv_values(self.base_dir / ".env").get(profile.api_key_env)
        return value or ""

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def var_dir(self) -> Path:
        return self.resolve(self.paths.var_dir)

    def data_dir(self, given: Path | None = None) -> Path | None:
        """The history a replay, backtest or sweep reads: ``--data-dir`` when given, else
        `paths.data_dir`, else None (the bundled sample)."""
        return given or (self.resolve(self.paths.data_dir) if self.paths.data_dir else None)

    def download_dir(self, given: Path | None = None) -> Path:
        """Where `bot download` and the intel archive write: as ``data_dir``, else var/data
        (the bundled sample is read-only)."""
        return self.data_dir(given) or self.var_dir / "data"

    def run_dir(self, *, replay: bool) -> Path:
        """Where one account's state, journal and lock live: var/, or var/replay/ for replays."""
        return self.var_dir / "replay" if replay else self.var_dir

    def log_file(self, *, replay: bool) -> Path:
        """var/logs/bot.log, or var/logs/replay.log: replays never mix into the live log."""
        return self.var_dir / "logs" / ("replay.log" if replay else "bot.log")

    def secrets(self) -> list[str]:
        """Secret values, so logs and outputs can be scrubbed of them."""
        values = (
            self.anthropic_api_key,
            self.exchange_api_key,
            self.exchange_secret,
            self.cryptopanic_token,
            self.serve.token,
            self.telegram.token,
        )
        secrets = [value.get_secret_value() for value in values if value and value.get_secret_value()]
        providers = {**BUILTIN_PROVIDERS, **self.providers}.values()
        secrets.extend(key for profile in providers if len(key := self.provider_key(profile)) >= 8)
        for url in self.notify.urls:
            secrets.extend(url_secrets(url.get_secret_value()))
        if self.telegram.token and self.telegram.token.get_secret_value():
            # the Bot API's URLs hold it as `/bot<token>/`: a letter before it, where a whole-token scrub stops
            secrets.append(f"bot{self.telegram.token.get_secret_value()}")
        return secrets


_HOSTNAME = re.compile(r"^[\w-]+(\.[\w-]+)+$")


def url_secrets(url: str) -> list[str]:
    """A notification URL and each token-like part of it (apprise puts tokens in the host,
    path, user, password or query), so an error message quoting a piece is scrubbed too.
    Hostnames, short parts and plain lowercase words ("webhooks") are left readable."""
    _, _, rest = url.partition("://")
    parts = [
        part
        for part in re.split(r"[/?&=@:#]", rest)
        if len(part) >= 8 and not _HOSTNAME.match(part) and (len(part) >= 16 or re.search(r"[0-9A-Z]", part))
    ]
    return [url, *sorted(set(parts), key=len, reverse=True)]


def require_live_ready(settings: Settings) -> None:
    """Live trading starts only with keys AND the written confirmation; say which is missing."""
    missing = [
        name
        for name, value in (
            ("EXCHANGE_API_KEY", settings.exchange_api_key),
            ("EXCHANGE_SECRET", settings.exchange_secret),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        raise ConfigError(
            f"`enable_trading = true` needs {' and '.join(missing)} in the environment or .env beside the config; "
            "set them or run with --dry-run"
        )
    if settings.live.confirm != LIVE_CONFIRMATION:
        raise ConfigError(
            f'`enable_trading = true` also needs `[live] confirm = "{LIVE_CONFIRMATION}"` in config.toml; '
            "add it or run with --dry-run"
        )
