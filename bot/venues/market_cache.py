"""What a live tick keeps on disk between ticks (under var/cache/): the configured coins'
markets and the last closed candles. Closed candles are final and markets change rarely,
so a tick with a fresh copy downloads and parses only what is new (``bot.venues.market``
says what that saves). Every failure here is a cache miss, never an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import structlog

log = structlog.get_logger(__name__)


def _replace_file(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file and rename it over ``path``: a reader sees the old file or
    the new one. A cache that cannot be written costs time on the next tick, never data."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        write(tmp)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError) as exc:
        log.warning("cache_not_saved", path=str(path), error=f"{type(exc).__name__}: {exc}")


class CandleCache:
    """The last closed candles per coin and timeframe, as ``.npy`` files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, coin: str, timeframe: str) -> Path:
        return self.folder / f"{coin}-{timeframe}.npy"

    def load(self, coin: str, timeframe: str) -> np.ndarray | None:
        try:
            array = np.load(self._path(coin, timeframe), allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("candle_cache_unreadable", coin=coin, timeframe=timeframe, error=f"{type(exc).__name__}: {exc}")
            return None
        return array if array.ndim == 2 and array.shape[1] == 6 and len(array) else None

    def save(self, coin: str, timeframe: str, candles: np.ndarray) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, candles, allow_pickle=False)

        _replace_file(self._path(coin, timeframe), write)


class MarketsCache:
    """The configured coins' ccxt markets plus every swap's base name (for "did you mean"),
    saved after a full load and trusted for ``ttl_ms`` on the tick's clock. A missing,
    stale, corrupt or foreign file (other exchange, URL or coin list) is a miss, never an
    error: the markets are then loaded from the exchange and the file rewritten."""

    def __init__(self, path: Path, *, ttl_ms: int, source: str) -> None:
        self.path, self.ttl_ms, self.source = path, ttl_ms, source

    def load(self, coins: list[str], now_ms: int) -> tuple[dict[str, dict], list[str], dict[str, list]] | None:
        try:
            cached = json.loads(self.path.read_text(encoding="utf-8"))
            fresh = cached["source"] == self.source and 0 <= now_ms - cached["saved_at_ms"] < self.ttl_ms
            swaps, names, tiers = cached["swaps"], cached["names"], dict(cached.get("tiers") or {})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("markets_cache_unreadable", path=str(self.path), error=f"{type(exc).__name__}: {exc}")
            return None
        if not fresh or not all(coin in swaps or coin not in names for coin in coins):
            return None
        return swaps, names, tiers

    def save(self, swaps: dict[str, dict], names: list[str], tiers: dict[str, list], now_ms: int) -> None:
        payload = {"source": self.source, "saved_at_ms": now_ms, "swaps": swaps, "names": names, "tiers": tiers}
        _replace_file(self.path, lambda tmp: tmp.write_text(json.dumps(payload), encoding="utf-8"))
