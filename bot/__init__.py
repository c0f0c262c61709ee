"""bot: an LLM-driven crypto perpetual-futures trading bot, one cron tick at a time."""

__version__ = "0.1.0"
