"""Errors a user can cause or fix, named by what the caller should do, and exit codes.

The CLI maps each family to one exit code in one place; everything else in the bot
raises these with a message that states the fix.
"""

from __future__ import annotations

import difflib
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug: please report it
    USAGE = 2  # bad config, CLI input, unknown coin, missing key: fix and rerun
    FAILED = 3  # the tick failed (no market data, broken stage): nothing traded; a download or summary that failed
    DEGRADED = 4  # the tick ran but skipped something (a coin, the LLM)
    STATE = 5  # the state file is unreadable or unwritable: recover it before the next tick
    SKIPPED = 6  # paused or backing off after failures: nothing new was traded
    LOCKED = 7  # another tick is running on the same var/ folder: this one did nothing


class BotError(Exception):
    """Base class: the message is shown to the user as one line."""

    exit_code = ExitCode.INTERNAL


class ConfigError(BotError):
    """The user's configuration or input is wrong; retrying will not help."""

    exit_code = ExitCode.USAGE


class StateError(BotError):
    """The state file cannot be trusted; the bot refuses to overwrite it."""

    exit_code = ExitCode.STATE


class MarketDataError(BotError):
    """No usable market data this tick (exchange down, all coins failed)."""

    exit_code = ExitCode.FAILED


class DeliveryError(BotError):
    """A notification no URL accepted (`bot notify-summary`); running again retries it."""

    exit_code = ExitCode.FAILED


class ModelsApiError(BotError):
    """Anthropic's Models API could not be read (down, 5xx, unreachable): `bot models` has
    nothing to show; running it again later retries."""

    exit_code = ExitCode.FAILED


class LockedError(BotError):
    """Another process holds the tick lock; this run did nothing."""

    exit_code = ExitCode.LOCKED


class LlmUnavailable(Exception):
    """The LLM gave no usable answer this tick (an outage: 408, 429, 5xx, 529, a timeout, no
    tool call, a malformed answer). Not a BotError: the tick holds every coin, is marked
    degraded, and the next tick simply asks again."""


class LlmRequestError(LlmUnavailable):
    """The API refused the request itself (400, 401, 403, 404, 413, any 4xx but 408, 409 and
    429): a bug or a configuration to fix, not an outage, since the same request fails the
    same way next tick. The tick counts as failed (backoff, self-pause) unless
    `llm.on_error = "rules"` lets the rules decide while it lasts."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def did_you_mean(word: str, choices: list[str], prefix: str = "") -> str:
    match = difflib.get_close_matches(word, choices, n=1)
    if not match:
        return ""
    return f" — did you mean `{prefix + '.' if prefix else ''}{match[0]}`?"
