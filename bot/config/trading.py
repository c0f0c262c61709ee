"""The settings of what the bot trades and how: the venue, the coins, the paper book's
costs, the risk limits, the rule-based strategy, live trading and which strategy decides.

The strategy's name is a plain string: the list of kinds is ``bot.strategies.KINDS``
(config may not import strategies), which checks it with a "did you mean" when it builds
the strategy, before anything is traded.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator

from bot.config.base import Section, optional_url

DEFAULT_COINS = ["BTC", "ETH", "SOL", "BNB", "DOGE", "XRP"]


class ExchangeSettings(Section):
    id: str = Field("binanceusdm", description="ccxt exchange id with linear (USDT-margined) swaps")
    api_url: str | None = Field(
        None, description="replace scheme and host of every REST URL (proxy, mirror, local fake)"
    )
    sandbox: bool = Field(False, description="use ccxt's testnet URLs")
    builder_fee: bool = Field(
        False,
        description=(
            "Hyperliquid: orders carry ccxt's builder at 0.01 % (approve it from the main wallet first); "
            "paper charges it too"
        ),
    )
    timeout_ms: int = Field(8_000, gt=0, le=60_000, description="per-request timeout")
    retries: int = Field(2, ge=0, le=5, description="extra attempts on transient errors (network, rate limit)")
    markets_ttl_minutes: int = Field(
        60, ge=0, le=7 * 24 * 60, description="reuse the market list cached in var/cache for this long; 0 = never cache"
    )

    @field_validator("api_url")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        return optional_url(value)


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
    max_new_notional_per_tick: float = Field(
        1.0,
        gt=0,
        description="notional opened in one tick (entries and adds) at most this multiple of equity: one answer, "
        "obeyed or mistaken, can then take the account only a third of the way to the 3x exposure cap. One "
        "full-size entry at the other limits (20% margin x 10x = 2x equity) is cut to half; a typical one "
        "(10% x 3x = 0.3x) passes three times over",
    )
    max_new_positions_per_tick: int = Field(
        3,
        ge=1,
        description="new coins opened in one tick at most: three at once is a move across the market (the rules "
        "baseline opens three on the sample's first tick); six at once is one cause (a headline, a bug) more than six "
        "signals",
    )
    allow_adding: bool = Field(True, description="BUY on a long / SELL on a short adds to it")
    allow_flipping: bool = Field(True, description="SELL on a long / BUY on a short closes it and opens the other side")


class RulesSettings(Section):
    """Parameters of the rule-based baseline strategy."""

    size_pct: float = Field(10.0, gt=0, le=100, description="margin per entry, % of available balance")
    leverage: float = Field(3.0, ge=1, le=125)
    stop_atr: float = Field(1.5, gt=0, description="stop-loss distance in 4h ATR14")
    reward_risk: float = Field(
        2.0,
        gt=0,
        description="the take-profit earns this times what the stop loses, both net of `[paper]` fees and slippage "
        "(as `risk.min_reward_risk` is measured)",
    )
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
    name: str = Field(
        "auto",
        description="a kind of bot.strategies.KINDS (rules, claude, ...) or auto: Claude when ANTHROPIC_API_KEY "
        "is set, else the rule-based baseline; checked when the strategy is built, before the tick trades",
    )
