"""Settings: config.toml, overridden by ``BOT_<SECTION>__<KEY>`` variables; secrets from the
environment or a ``.env`` file next to the config file, never from config.toml.

Relative paths are resolved against the config file's directory, so cron can start
the bot from any working directory.
"""

from __future__ import annotations

import json
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config_arena import ArenaSettings
from bot.config_intel import IntelSettings
from bot.errors import ConfigError, did_you_mean

DEFAULT_COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]
# Whole-word endings only: `telegram_token` is a secret, `max_tokens` is not.
SECRET_KEY = re.compile(r"(^|_)(api_?key|secret|password|token)$", re.IGNORECASE)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExchangeSettings(Section):
    id: str = Field("binanceusdm", description="ccxt exchange id with linear (USDT-margined) swaps")
    api_url: str | None = Field(
        None, description="replace scheme and host of every REST URL (proxy, mirror, local fake)"
    )
    sandbox: bool = Field(False, description="use ccxt's testnet URLs")
    builder_fee: bool = Field(
        False, description="Hyperliquid: let ccxt add its builder fee (0.01 %) to each order; paper charges it too"
    )
    timeout_ms: int = Field(8_000, gt=0, le=60_000, description="per-request timeout")
    retries: int = Field(2, ge=0, le=5, description="extra attempts on transient errors (network, rate limit)")
    markets_ttl_minutes: int = Field(
        60, ge=0, le=7 * 24 * 60, description="reuse the market list cached in var/cache for this long; 0 = never cache"
    )

    @field_validator("api_url")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        return _url(value)


def _url(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not re.match(r"^https?://[^/]+", value):
        raise ValueError(f"must look like http://host:port, got {value!r}")
    return value


class TradingSettings(Section):
    coins: list[str] = Field(default_factory=lambda: list(DEFAULT_COINS), min_length=1, description="base coin names")
    quote: str = Field("USDT", description="settlement currency of the linear swaps")
    candles: int = Field(500, ge=500, le=1000, description="closed candles per timeframe fed to the indicators")

    @field_validator("coins")
    @classmethod
    def _coin_names(cls, coins: list[str]) -> list[str]:
        normalised = [coin.strip().upper() for coin in coins]
        for coin in normalised:
            if not re.fullmatch(r"[A-Z0-9]{1,20}", coin):
                raise ValueError(f"{coin!r} is not a coin name (use base names like BTC, ETH)")
        if len(set(normalised)) != len(normalised):
            raise ValueError("coins are listed twice")
        return normalised


class PaperSettings(Section):
    initial_balance_usd: float = Field(10_000.0, gt=0, description="starting paper cash")
    taker_fee_pct: float = Field(0.05, ge=0, le=1, description="fee per fill, % of notional")
    slippage_pct: float = Field(0.02, ge=0, le=5, description="adverse price move per market fill, %")


class StopPolicy(StrEnum):
    DERIVE = "derive"  # place one `stop_atr` 4h ATR14s away
    REJECT = "reject"


class RiskSettings(Section):
    """Limits every new position must respect; CLOSE and protective exits are never blocked."""

    min_confidence: float = Field(0.55, ge=0, le=1, description="entries below this confidence are rejected")
    max_leverage: float = Field(10.0, ge=1, le=125, description="higher requested leverage is cut to this")
    max_position_margin_pct: float = Field(
        20.0, gt=0, le=100, description="margin of one position at most this % of equity"
    )
    max_open_positions: int = Field(4, ge=1, description="entries on new coins beyond this many positions are rejected")
    max_exposure: float = Field(
        3.0, gt=0, description="total notional of all positions at most this multiple of equity"
    )
    missing_stop_loss: StopPolicy = Field(
        StopPolicy.DERIVE, description="an entry without a stop-loss: derive one from ATR, or reject"
    )
    stop_atr: float = Field(1.5, gt=0, description="derived stop-loss distance, in 4h ATR14")
    min_reward_risk: float = Field(
        1.5,
        ge=0,
        description="take-profit gain / stop-loss loss at least this, net of fees and slippage (when a TP is given)",
    )
    liquidation_buffer_pct: float = Field(
        10.0,
        ge=0,
        lt=100,
        description="the stop-loss must stay this % of the entry-to-liquidation distance away from liquidation",
    )
    daily_loss_limit_pct: float = Field(
        5.0, gt=0, le=100, description="equity this % below the UTC day's start: no entries until the next UTC day"
    )
    max_drawdown_pct: float = Field(
        20.0, gt=0, le=100, description="equity this % below its peak: no entries while it stays there"
    )
    stop_loss_cooldown_min: float = Field(
        60.0, ge=0, description="no entry on a coin for this many minutes after its stop-loss or liquidation"
    )
    max_entries_per_hour: int = Field(4, ge=0, description="new entries and adds in any rolling hour")
    max_entries_per_day: int = Field(20, ge=0, description="new entries and adds in any rolling 24 hours")
    allow_adding: bool = Field(True, description="BUY on a long / SELL on a short adds to it")
    allow_flipping: bool = Field(True, description="SELL on a long / BUY on a short closes it and opens the other side")


class RulesSettings(Section):
    """Parameters of the rule-based baseline strategy."""

    size_pct: float = Field(10.0, gt=0, le=100, description="margin per entry, % of available balance")
    leverage: float = Field(3.0, ge=1, le=125)
    stop_atr: float = Field(1.5, gt=0, description="stop-loss distance in 4h ATR14")
    reward_risk: float = Field(2.0, gt=0, description="take-profit distance as a multiple of the stop distance")
    sentiment_filter: bool = Field(
        False, description="with [intel]: no longs at Fear & Greed >= greed_above, no shorts at <= fear_below"
    )
    greed_above: int = Field(80, ge=0, le=100)
    fear_below: int = Field(20, ge=0, le=100)


LIVE_CONFIRMATION = "I understand this trades real money"


class LiveSettings(Section):
    """Live trading through ccxt (``enable_trading = true``, keys set, and ``confirm``)."""

    confirm: str = Field("", description=f'must read exactly "{LIVE_CONFIRMATION}" before real orders are sent')
    margin_mode: Literal["isolated", "cross"] = Field(
        "isolated", description="margin mode set on a symbol before its first order"
    )
    stop_attempts: int = Field(
        3, ge=1, le=5, description="tries to place a stop-loss after an entry fills; then the position is closed"
    )


class StrategySettings(Section):
    name: Literal["auto", "claude", "rules"] = Field(
        "auto", description="auto: Claude when ANTHROPIC_API_KEY is set, else the rule-based baseline"
    )


class ModelPrice(Section):
    """USD per million tokens, as Anthropic publishes them (5-minute cache writes)."""

    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    cache_write_usd_per_mtok: float = Field(ge=0)
    cache_read_usd_per_mtok: float = Field(ge=0)


def _price(input_usd: float, output_usd: float) -> ModelPrice:
    """Anthropic's standard rates: 5-minute cache writes 1.25x input, cache reads 0.1x input."""
    cache = {
        "cache_write_usd_per_mtok": round(input_usd * 1.25, 6),
        "cache_read_usd_per_mtok": round(input_usd * 0.1, 6),
    }
    return ModelPrice(input_usd_per_mtok=input_usd, output_usd_per_mtok=output_usd, **cache)


# List prices of every model the Models API listed as active or deprecated, checked on
# PRICES_CHECKED against Anthropic's models overview and pricing pages (Haiku 5.5's
# second rate card, for prompts above 100K tokens, never applies to a tick's prompt).
PRICES_CHECKED = date(2026, 12, 1)
DEFAULT_PRICES = {
    model: _price(input_usd, output_usd)
    for model, input_usd, output_usd in [
        ("claude-fable-5-2", 10.0, 50.0),
        ("claude-fable-5-1", 10.0, 50.0),
        ("claude-fable-5", 10.0, 50.0),
        ("claude-opus-5-5", 4.0, 20.0),
        ("claude-opus-5", 5.0, 25.0),
        ("claude-opus-4-8", 5.0, 25.0),
        ("claude-opus-4-7", 5.0, 25.0),
        ("claude-opus-4-6", 5.0, 25.0),
        ("claude-opus-4-5", 5.0, 25.0),
        ("claude-sonnet-5-5", 2.0, 10.0),
        ("claude-sonnet-5", 2.0, 10.0),
        ("claude-sonnet-4-6", 3.0, 15.0),
        ("claude-haiku-5-5", 0.10, 0.50),
        ("claude-haiku-4-5", 1.0, 5.0),
    ]
}
DEFAULT_MODEL = "claude-sonnet-5-5"  # a current model fast enough for a 3-minute cadence: README "Choosing a model"


class LlmSettings(Section):
    """Claude as the strategy: the model, its limits, the daily budget and the price table."""

    model: str = Field(
        DEFAULT_MODEL,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$",
        description="Anthropic model id; must have a price in `llm.prices`",
    )
    effort: Literal["low", "medium", "high"] = Field(
        "low", description="output_config.effort, sent only where the model lists the level"
    )
    thinking: Literal["adaptive", "off"] = Field(
        "adaptive", description="adaptive where the model allows it; off where it can be turned off"
    )
    output: Literal["auto", "tool"] = Field(
        "auto", description="auto: output_config.format where the model has structured outputs; tool: a strict tool"
    )
    capabilities_ttl_hours: float = Field(
        24.0, ge=0, le=24 * 30, description="reuse the Models API answer cached in var/cache for this long"
    )
    memory_trades: int = Field(
        10, ge=0, le=50, description="the last N closed trades shown in the prompt; 0 = no trade memory"
    )
    memory_max_tokens: int = Field(
        600, ge=0, le=4000, description="cap on the trade memory's size in the prompt (about 4 characters a token)"
    )
    base_url: str | None = Field(
        None, description="Messages API host (proxy, local fake); default: ANTHROPIC_BASE_URL or Anthropic's"
    )
    max_tokens: int = Field(2048, ge=256, le=16_000, description="cap on the answer's tokens")
    timeout_s: float = Field(40.0, gt=0, le=150, description="per HTTP request")
    retries: int = Field(
        2, ge=0, le=5, description="the SDK's own retries on 408/409/429/5xx/overloaded and connection errors"
    )
    deadline_s: float = Field(90.0, gt=0, le=150, description="the whole LLM step, retries included; then HOLD")
    max_usd_per_day: float = Field(
        10.0, ge=0, description="daily budget (UTC day); reached: `llm.fallback` decides until midnight"
    )
    fallback: Literal["rules", "hold"] = Field("rules", description="who decides once the daily budget is spent")
    prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES), description="USD per million tokens per model"
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_has_scheme(cls, value: str | None) -> str | None:
        return _url(value)

    @field_validator("prices")
    @classmethod
    def _keep_default_prices(cls, prices: dict[str, ModelPrice]) -> dict[str, ModelPrice]:
        return {**DEFAULT_PRICES, **prices}  # a config adding one model keeps the others

    @model_validator(mode="after")
    def _model_has_a_price(self) -> LlmSettings:
        if self.model not in self.prices:
            raise ValueError(
                f"model {self.model!r} has no price: add [llm.prices.{json.dumps(self.model)}] to config.toml"
                f"{did_you_mean(self.model, list(self.prices))}"
            )
        if self.deadline_s < self.timeout_s:
            raise ValueError(f"deadline_s ({self.deadline_s:g}) must be at least timeout_s ({self.timeout_s:g})")
        return self

    @property
    def price(self) -> ModelPrice:
        return self.prices[self.model]


# Training-data cutoffs as Anthropic publishes them (the later "training data" date, not
# the "reliable knowledge" one: the model may remember anything up to it), end of month.
DEFAULT_KNOWLEDGE_CUTOFFS = {
    "claude-sonnet-4-6": date(2025, 8, 31),
    "claude-haiku-4-5": date(2025, 7, 31),
    "claude-opus-4-6": date(2025, 8, 31),
    "claude-sonnet-5": date(2026, 1, 31),
    "claude-sonnet-5-5": date(2026, 6, 30),
    "claude-opus-5-5": date(2026, 6, 30),
    "claude-fable-5-1": date(2026, 6, 30),
}


class BacktestSettings(Section):
    """`bot backtest`: LLM cost guard and look-ahead warnings."""

    max_cost_usd: float = Field(
        1.0,
        ge=0,
        description="an LLM backtest estimated above this stops before calling the API (override: --max-cost, --yes)",
    )
    output_tokens_per_decision: int = Field(
        400, ge=1, le=16_000, description="answer tokens assumed per LLM call in the cost estimate"
    )
    knowledge_cutoffs: dict[str, date] = Field(
        default_factory=lambda: dict(DEFAULT_KNOWLEDGE_CUTOFFS),
        description="training-data cutoff per model: a backtest over earlier prices is flagged as look-ahead",
    )

    @field_validator("knowledge_cutoffs")
    @classmethod
    def _keep_default_cutoffs(cls, cutoffs: dict[str, date]) -> dict[str, date]:
        return {**DEFAULT_KNOWLEDGE_CUTOFFS, **cutoffs}  # a config adding one model keeps the others


class PathSettings(Section):
    var_dir: Path = Field(Path("var"), description="state, journal, logs and caches")
    data_dir: Path | None = Field(None, description="history for --replay; default: the bundled sample")


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    console_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"


_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WINDOW = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))? (?P<start>\d{1,2})(?::00)?-(?P<end>\d{1,2})(?::00)?$"
)


class TradingWindow(Section):
    """UTC weekdays (0 = Monday) and hours [start_hour, end_hour) when new positions may open."""

    weekdays: frozenset[int]
    start_hour: int
    end_hour: int

    @classmethod
    def parse(cls, text: str) -> TradingWindow:
        match = _WINDOW.match(text.strip().lower())
        days = [match[group] for group in ("first", "last") if match and match[group]] if match else []
        if not match or any(day not in _WEEKDAYS for day in days):
            raise ValueError(f'{text!r} is not a window; write e.g. "mon-fri 08-20" (UTC weekdays, hours from-to)')
        first = _WEEKDAYS.index(days[0])
        last = _WEEKDAYS.index(days[-1])
        start, end = int(match["start"]), int(match["end"])
        if not 0 <= start < end <= 24:
            raise ValueError(
                f"{text!r}: hours must satisfy 0 <= from < to <= 24 (split a window that crosses midnight in two)"
            )
        weekdays = (
            frozenset(range(first, last + 1)) if first <= last else frozenset([*range(first, 7), *range(0, last + 1)])
        )
        return cls(weekdays=weekdays, start_hour=start, end_hour=end)

    def contains(self, weekday: int, hour: int) -> bool:
        return weekday in self.weekdays and self.start_hour <= hour < self.end_hour


class OpsSettings(Section):
    """Unattended operation: self-pause after repeated failures, backoff, trading windows."""

    max_consecutive_errors: int = Field(
        5, ge=1, le=1000, description="failed ticks in a row before the bot pauses itself"
    )
    recovery_backoff_seconds: int = Field(
        60, ge=0, le=3600, description="wait after a failed tick, doubled per further failure"
    )
    max_backoff_seconds: int = Field(3600, ge=0, le=86_400, description="cap of the doubling backoff")
    trading_windows: list[str] = Field(
        default_factory=list,
        description='UTC windows when new positions may open, e.g. "mon-fri 08-20"; empty = always',
    )
    lock_wait_seconds: float = Field(
        90.0, ge=0, le=600, description="how long pause/resume wait for a running tick to finish"
    )

    @field_validator("trading_windows")
    @classmethod
    def _windows_parse(cls, windows: list[str]) -> list[str]:
        for window in windows:
            TradingWindow.parse(window)
        return windows

    def windows(self) -> list[TradingWindow]:
        return [TradingWindow.parse(window) for window in self.trading_windows]


class NotifySettings(Section):
    """Apprise notifications. URLs carry tokens: put them in .env as BOT_NOTIFY__URLS='["tgram://..."]'."""

    urls: list[SecretStr] = Field(
        default_factory=list, description="apprise URLs (Telegram, Discord, Slack, email, json:// ...)"
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="per notification attempt")
    min_trade_usd: float = Field(0.0, ge=0, description="skip trade notifications below this notional")


class ServeSettings(Section):
    """`bot serve`: the REST API, metrics and dashboard. The token is a secret: BOT_SERVE__TOKEN in .env."""

    host: str = Field("127.0.0.1", description="address to listen on; anything but loopback needs a token")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0: any free port)")
    token: SecretStr | None = Field(
        None, description="bearer token every endpoint but health requires (env or .env only)"
    )
    max_auth_failures: int = Field(
        5, ge=1, le=1000, description="wrong tokens from one address per minute before it is refused"
    )


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

    # Secrets: environment or .env only (config.toml is rejected if it holds any).
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("ANTHROPIC_API_KEY"))
    exchange_api_key: SecretStr | None = Field(None, validation_alias=AliasChoices("EXCHANGE_API_KEY"))
    exchange_secret: SecretStr | None = Field(None, validation_alias=AliasChoices("EXCHANGE_SECRET"))
    cryptopanic_token: SecretStr | None = Field(None, validation_alias=AliasChoices("CRYPTOPANIC_TOKEN"))

    base_dir: Path = Field(Path("."), exclude=True)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        # config.toml arrives as init kwargs and must rank BELOW the environment.
        return (env_settings, dotenv_settings, init_settings)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    @property
    def var_dir(self) -> Path:
        return self.resolve(self.paths.var_dir)

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
        )
        secrets = [value.get_secret_value() for value in values if value and value.get_secret_value()]
        for url in self.notify.urls:
            secrets.extend(url_secrets(url.get_secret_value()))
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
            f'`enable_trading = true` also needs `[live] confirm = "{LIVE_CONFIRMATION}"` in config.toml; add it or run with --dry-run'
        )
