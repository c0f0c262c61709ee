"""Strategies: one method, this tick's inputs in, a list of decisions out (the
``Strategy`` protocol lives with the tick, in ``bot.tick.protocols``). The kinds a
setting may name, and the one ``build`` every caller uses, are in ``bot.strategies.kinds``.

Nothing heavy is imported here: `bot --help` reads the kinds' names.
"""

from bot.strategies.hold import HoldStrategy
from bot.strategies.kinds import KINDS, Kind, build, fallback, kind_of, names, on_error, resolve

__all__ = ["KINDS", "HoldStrategy", "Kind", "build", "fallback", "kind_of", "names", "on_error", "resolve"]
