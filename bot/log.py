"""structlog set-up: JSON lines to var/logs/bot.log, short human lines on stderr.

Every line of a tick carries its ``tick_id`` (bound with structlog's contextvars).
Known secret values are replaced by ``***`` before any renderer sees them, so a key
that leaks into an exception message still never reaches a log file.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path
from typing import Any

from bot.errors import StateError

LOG_MAX_BYTES = 5_000_000  # bot.log rotates at 5 MB (~3 days of ticks), keeping 5 old files
LOG_BACKUPS = 5
_NEVER = logging.CRITICAL + 100  # a MemoryHandler flush level no record reaches
_REDACTED = "***"
_secrets: list[str] = []
_pattern: list[re.Pattern[str]] = []


def scrub(text: str) -> str:
    """``text`` with every secret the bot was configured with replaced by ``***``: whole
    tokens only (not inside a longer run of letters and digits), so a short secret such
    as ``k`` cannot turn ``var/state.json`` into ``var/***tate.j***on``."""
    return _pattern[0].sub(_REDACTED, text) if _pattern else text


def _set_secrets(secrets: list[str]) -> None:
    _secrets[:] = sorted({secret for secret in secrets if secret}, key=len, reverse=True)  # longest first
    alternatives = "|".join(map(re.escape, _secrets))
    _pattern[:] = [re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")] if _secrets else []


def _redactor():
    def redact(value: Any) -> Any:
        if isinstance(value, str):
            return scrub(value)
        if isinstance(value, dict):
            return {key: redact(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [redact(item) for item in value]
        return value

    def processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return redact(event_dict) if _secrets else event_dict

    return processor


def configure_logging(
    *,
    log_file: Path | None,
    level: str = "INFO",
    console_level: str = "WARNING",
    secrets: list[str] = (),
    hold_console: bool = False,
) -> None:
    """``hold_console``: keep console lines until ``release_console`` (a tick's summary
    comes first, its warnings after it, not a log line before the tick's header)."""
    import structlog  # here, not at the top: `scrub` is used on paths that never log (a locked run)

    _set_secrets(list(secrets))
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redactor(),
    ]
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0),
            ],
            foreign_pre_chain=shared,
        )
    )
    if hold_console:
        console = logging.handlers.MemoryHandler(10_000, flushLevel=_NEVER, target=console)
        console.setLevel(console_level)
    handlers.append(console)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            to_file = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            raise StateError(
                f"{log_file}: cannot open the log ({exc.strerror or exc}); nothing ran: make {log_file.parent} "
                f"writable by this user "
                f"(`sudo chown -R $USER {log_file.parent}`), then run again"
            ) from None
        to_file.setLevel(level)
        to_file.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
                foreign_pre_chain=shared,
            )
        )
        handlers.append(to_file)
    # The lowest level any handler writes: an event below it is dropped by the bound
    # logger's method itself, before a processor runs (a backtest's ~2 info events a tick
    # cost more than the tick when the console's level dropped them only at the end).
    threshold = min(
        logging.getLevelName(level) if log_file is not None else logging.CRITICAL, logging.getLevelName(console_level)
    )
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(threshold)
    for noisy in ("asyncio", "urllib3", "httpx", "httpcore", "anthropic", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        cache_logger_on_first_use=True,
    )


def release_console() -> None:
    """Print the console lines held back so far; later ones go straight out."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.handlers.MemoryHandler):
            handler.flushLevel = logging.NOTSET
            handler.flush()
