"""Command line: a thin face over the stages. One module per command group registers its
commands on the app in ``bot.cli.base``; each imports what it needs when it runs.
See ``bot.cli.base`` for the exit codes."""

from __future__ import annotations

import gc
import os
import sys
from importlib import import_module

from bot.cli.base import app
from bot.errors import BotError, ExitCode

# Each module registers its commands on import; this order is the order of `bot --help`.
COMMAND_MODULES = ("tick", "status", "control", "models", "backtest", "sweep", "serve", "telegram", "arena")
for _name in COMMAND_MODULES:
    import_module(f"bot.cli.{_name}")


def _optional_replay_value(argv: list[str]) -> list[str]:
    """Let `tick --replay` stand alone: Typer's options always need a value, so a bare
    `--replay` (end of line or followed by another option) becomes `--replay=`."""
    if "tick" not in argv:
        return _spread_list_options(argv)
    result = []
    for index, arg in enumerate(argv):
        following = argv[index + 1] if index + 1 < len(argv) else None
        result.append("--replay=" if arg == "--replay" and (following is None or following.startswith("-")) else arg)
    return result


_LIST_OPTIONS = ("--coins", "--timeframes")


def _spread_list_options(argv: list[str]) -> list[str]:
    """Let list options take several values (`--coins BTC ETH`): Click options take one
    value each, so `--coins BTC ETH` becomes `--coins BTC --coins ETH`."""
    result, current = [], None
    for arg in argv:
        if arg in _LIST_OPTIONS:
            current = arg
            result.append(arg)
        elif current and not arg.startswith("-") and result[-1] != current:
            result += [current, arg]
        else:
            current = current if current and not arg.startswith("-") else None
            result.append(arg)
    return result


class _PipeSafe:
    """stdout that drops what a closed pipe (`bot journal | head -1`) no longer takes, so
    the command ends with its own exit code, not click's 1 (the code for a bug)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())  # what is still buffered goes nowhere

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main() -> None:
    """Entry point: every error a user can cause ends in one line and an exit code."""
    # A command is a short-lived process whose imports (ccxt alone defines thousands of
    # classes) set off one full garbage collection after another: ~0.3 s of a 1.5 s tick,
    # for cycles no one frees before exit anyway (peak RSS +1 MB). A long-running command
    # (a backtest) turns the collector back on once its imports are done.
    gc.disable()
    # pydantic scans every installed package's metadata for plugins on its first model
    # (~25 ms of `bot status`); the bot uses none. A value the user set is respected.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    sys.stdout = _PipeSafe(sys.stdout)
    try:
        # standalone mode: the parser reports usage errors itself (exit 2) and Exit
        # becomes SystemExit; everything else reaches the handlers below.
        app(args=_optional_replay_value(sys.argv[1:]), prog_name="bot")
    except BotError as exc:
        from bot.log import scrub

        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line for the user, the traceback for the log
        import logging

        import structlog

        from bot.log import scrub

        if logging.getLogger().handlers:  # only once logging goes to the log file: never a traceback on the console
            structlog.get_logger("bot").exception("internal_error")
        print(
            f"internal error: {type(exc).__name__}: {scrub(str(exc))} (details in the log; please report it)",
            file=sys.stderr,
        )
        sys.exit(ExitCode.INTERNAL)
