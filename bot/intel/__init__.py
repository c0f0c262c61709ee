"""Market intelligence: news and sentiment for the prompt, never from the future.

Implements the tick's ``Intel`` protocol (``bot.tick.protocols``): ``LiveIntel`` asks
the sources of `[intel]` (alternative.me's Fear & Greed index, RSS / Atom feeds,
CryptoPanic with CRYPTOPANIC_TOKEN) while the market loads; ``ArchiveIntel`` replays the
archive ``bot download --intel`` (and live ticks with ``intel.archive``) build. The tick
never imports this package: the CLI and the backtest plug an instance into it.
"""

from __future__ import annotations

from bot.config import Settings
from bot.tick.protocols import Intel


def live_intel(settings: Settings) -> Intel | None:
    """The live sources when `intel.enabled`, else None (the prompt has no context block)."""
    if not settings.intel.enabled:
        return None
    from bot.intel.live import LiveIntel

    return LiveIntel(
        settings,
        cache_dir=settings.var_dir / "cache" / "intel",
        archive_dir=settings.download_dir() if settings.intel.archive else None,  # as `bot download --intel`
    )
