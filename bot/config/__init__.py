"""The settings, one `Section` per `[section]` of config.toml (``bot.config.base``),
grouped by concern: trading, risk and live (``trading``), the LLM (``llm``), running
unattended (``ops``), ``intel``, ``arena`` and ``backtest``; ``settings`` holds
``Settings`` itself and ``file`` reads config.toml, ``.env`` and ``BOT_*`` into it.

The public names are re-exported here: ``from bot.config import Settings, RiskSettings``.
"""

from bot.config.arena import ArenaSettings, Candidate, Rotation
from bot.config.backtest import BacktestSettings
from bot.config.base import SECRET_KEY, Section
from bot.config.intel import Feed, IntelSettings
from bot.config.llm import (
    DEFAULT_KNOWLEDGE_CUTOFFS,
    DEFAULT_MODEL,
    DEFAULT_PRICES,
    PRICES_CHECKED,
    LlmSettings,
    ModelPrice,
)
from bot.config.ops import (
    LogSettings,
    NotifySettings,
    OpsSettings,
    PathSettings,
    ServeSettings,
    TelegramSettings,
    TradingWindow,
)
from bot.config.settings import Settings, require_live_ready, url_secrets
from bot.config.trading import (
    DEFAULT_COINS,
    LIVE_CONFIRMATION,
    ExchangeSettings,
    LiveSettings,
    PaperSettings,
    RiskSettings,
    RulesSettings,
    StopPolicy,
    StrategySettings,
    TradingSettings,
)

__all__ = [
    "DEFAULT_COINS",
    "DEFAULT_KNOWLEDGE_CUTOFFS",
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "LIVE_CONFIRMATION",
    "PRICES_CHECKED",
    "SECRET_KEY",
    "ArenaSettings",
    "BacktestSettings",
    "Candidate",
    "ExchangeSettings",
    "Feed",
    "IntelSettings",
    "LiveSettings",
    "LlmSettings",
    "LogSettings",
    "ModelPrice",
    "NotifySettings",
    "OpsSettings",
    "PaperSettings",
    "PathSettings",
    "RiskSettings",
    "Rotation",
    "RulesSettings",
    "Section",
    "ServeSettings",
    "TelegramSettings",
    "Settings",
    "StopPolicy",
    "StrategySettings",
    "TradingSettings",
    "TradingWindow",
    "require_live_ready",
    "url_secrets",
]
