"""structlog set-up: JSON lines to var/logs/bot.log, short human lines on stderr.

Every line of a tick carries its ``tick_id`` (bound with structlog's contextvars).
Known secret values are replaced by ``***`` before any renderer sees them, so a key
that leaks into an exception message still never reaches a log file.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

_REDACTED = "***"
_secrets: list[str] = []


def scrub(text: str) -> str:
    """``text`` with every secret the bot was configured with replaced by ``***``."""
    for secret in _secrets:
        text = text.replace(secret, _REDACTED)
    return text


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


def configure_logging(*, log_file: Path | None, level: str = "INFO", console_level: str = "WARNING", secrets: list[str] = ()) -> None:
    import structlog  # here, not at the top: `scrub` is used on paths that never log (a locked run)

    _secrets[:] = [secret for secret in secrets if secret]
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
    handlers.append(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setLevel(level)
        to_file.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
                foreign_pre_chain=shared,
            )
        )
        handlers.append(to_file)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(min(logging.getLevelName(level), logging.getLevelName(console_level)))
    for noisy in ("asyncio", "urllib3", "httpx", "httpcore", "anthropic", "ccxt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
