"""The settings of running unattended: where files go, logging, self-pause and trading
windows, notifications and `bot serve`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator

from bot.config.base import URL, Section


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

    host: str = Field(
        "127.0.0.1", description="address to listen on; anything but loopback needs a token of 32+ characters"
    )
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0: any free port)")
    token: SecretStr | None = Field(
        None,
        description="bearer token every endpoint but health requires (env or .env only); unset: var/serve.token, "
        "made at the first `bot serve`",
    )
    max_auth_failures: int = Field(
        5,
        ge=1,
        le=1000,
        description="wrong tokens from one address per minute before it gets 429 (the right token always passes)",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the server answers to besides loopback and its listening address (a reverse "
        "proxy's public name, the machine's LAN name); any other Host header is refused (DNS rebinding)",
    )


class TelegramSettings(Section):
    """`bot telegram`: a chat that answers the owner. The token and the chat ids are the owner's:
    BOT_TELEGRAM__TOKEN and BOT_TELEGRAM__CHAT_IDS in .env (config.toml refuses a token)."""

    token: SecretStr | None = Field(None, description="the bot's token from @BotFather (env or .env only)")
    chat_ids: list[int] = Field(
        default_factory=list,
        description="the chats allowed to talk to the bot (BOT_TELEGRAM__CHAT_IDS='[123456789]' in .env); a message "
        "from any other chat is ignored and logged",
    )
    api_url: str = Field(
        "https://api.telegram.org",
        description="the Bot API server: Telegram's, or a self-hosted telegram-bot-api (its URL without /bot<token>)",
    )
    poll_timeout_seconds: int = Field(30, ge=1, le=50, description="getUpdates long-poll timeout")
    confirm_seconds: int = Field(
        120, ge=10, le=3600, description="how long a control command's YES is awaited before it lapses"
    )

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(URL, value):
            raise ValueError(f"must look like https://host[:port], got {value!r}")
        return value.rstrip("/")
