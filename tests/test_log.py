"""bot.log: an event below every handler's level costs no processor (issue 24)."""

from __future__ import annotations

import logging

import structlog

from bot.log import configure_logging


def test_events_below_every_handlers_level_never_reach_a_processor(tmp_path):
    seen: list[str] = []

    def counting(_logger, _name, event_dict):
        seen.append(event_dict["event"])
        return event_dict

    try:
        configure_logging(log_file=None, console_level="ERROR")  # `bot backtest`: errors on stderr, no file
        structlog.get_config()["processors"].insert(0, counting)
        log = structlog.get_logger("test_log")
        log.info("tick_done")
        log.warning("risk_verdict")
        log.error("settlement_failed")
        assert seen == ["settlement_failed"]
        seen.clear()
        configure_logging(
            log_file=tmp_path / "bot.log", level="INFO", console_level="WARNING"
        )  # `bot tick`: the file keeps info
        structlog.get_config()["processors"].insert(0, counting)
        structlog.get_logger("test_log_file").info("tick_done")
        assert seen == ["tick_done"]
        assert logging.getLogger().level == logging.INFO
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
