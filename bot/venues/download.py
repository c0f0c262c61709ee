"""`bot download`: OHLCV and funding history through ccxt into a local folder for backtests.

Layout as in the project's data folder and the bundled sample, so `bot backtest
--data-dir` and `bot tick --replay` read it as is: ``3m/BTCUSDT-3m.csv``,
``4h/BTCUSDT-4h.csv``, ``funding_8h/BTCUSDT-funding-8h.csv`` (the folder keeps its name
whatever the venue's funding interval: Hyperliquid's rows are hourly); timestamps are candle
OPEN times (funding: settlement times) in ms, UTC. ``markets.json`` holds the venue's rules.

Resumable: a file already there is extended, never fetched again: only the candles
before its first row (when ``--since`` reaches earlier) and after its last row are
requested. Pages are written as they arrive (each write replaces the file atomically),
so an interrupted download keeps everything fetched so far and the next run goes on
from there. Only closed candles are kept: the still-open one is never written.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bot.clock import TIMEFRAME_MS
from bot.config import Settings
from bot.errors import ConfigError, MarketDataError, did_you_mean
from bot.venues.ccxt_lean import lean_ccxt

FUNDING = "funding"
MARKETS_FILE = "markets.json"  # the venue's trading rules per coin, read by HistoryMarket
_HEADERS = {"ohlcv": "timestamp,open,high,low,close,volume", FUNDING: "timestamp,funding_rate"}


@dataclass
class FileResult:
    path: Path
    added: int
    rows: int
    first_ms: int | None
    last_ms: int | None
    note: str = ""  # one line for the owner: why the file starts later than asked (the venue's candle window)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def path_for(folder: Path, coin: str, quote: str, series: str) -> Path:
    if series == FUNDING:
        return folder / "funding_8h" / f"{coin}{quote}-funding-8h.csv"
    return folder / series / f"{coin}{quote}-{series}.csv"


def _read(path: Path, columns: int) -> np.ndarray:
    if not path.exists():
        return np.empty((0, columns))
    try:
        rows = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as exc:
        raise ConfigError(
            f"{path} is not a CSV this command wrote ({exc}); move it away and run `bot download` again"
        ) from None
    return rows.reshape(-1, columns)


def _write(path: Path, rows: np.ndarray, header: str) -> None:
    """Replace ``path`` atomically: a crash leaves the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(header + "\n")
        for row in rows:
            handle.write(",".join([str(int(row[0]))] + [repr(float(value)) for value in row[1:]]) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _merge(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    both = np.concatenate([old, new]) if len(old) else new
    _, first = np.unique(both[:, 0], return_index=True)  # sorted by time, one row per timestamp
    return both[first]


def missing_ranges(existing: np.ndarray, *, since_ms: int, until_ms: int, step_ms: int) -> list[tuple[int, int]]:
    """[start, end) ranges still to fetch: before the first row and after the last one."""
    if not len(existing):
        return [(since_ms, until_ms)] if since_ms < until_ms else []
    first, last = int(existing[0, 0]), int(existing[-1, 0])
    ranges = []
    if since_ms < first:
        ranges.append((since_ms, min(first, until_ms)))
    if last + step_ms < until_ms:
        ranges.append((max(last + step_ms, since_ms), until_ms))
    return [(start, end) for start, end in ranges if start < end]


class Downloader:
    """One exchange connection, every (coin, series) pair fetched concurrently page by page."""

    def __init__(
        self,
        settings: Settings,
        *,
        folder: Path,
        now: datetime,
        on_progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        from bot.venues.market import CcxtMarket

        self.settings = settings
        self.folder = folder
        self.now_ms = int(now.timestamp() * 1000)
        self.market = CcxtMarket(settings)
        self.on_progress = on_progress or (lambda key, done, total: None)

    async def run(self, coins: list[str], series: list[str], *, since_ms: int, until_ms: int) -> list[FileResult]:
        ccxt = lean_ccxt()

        exchange = self.market.exchange()
        try:
            try:
                await self.market.request(exchange.load_markets)
            except ccxt.BaseError as exc:
                raise MarketDataError(
                    f"{exchange.id}: cannot load markets ({type(exc).__name__}); check the network or "
                    f"`exchange.api_url`"
                ) from None
            symbols = self._symbols(exchange, coins)
            self._save_rules(exchange, coins)
            jobs = [
                self._one(exchange, coin, symbols[coin], name, since_ms=since_ms, until_ms=until_ms)
                for coin in coins
                for name in series
            ]
            return list(await asyncio.gather(*jobs))
        finally:
            await exchange.close()

    def _symbols(self, exchange: Any, coins: list[str]) -> dict[str, str]:
        quote = self.settings.trading.quote
        swaps = {
            m["base"]: m["symbol"]
            for m in exchange.markets.values()
            if m.get("swap") and m.get("linear") and m.get("quote") == quote
        }
        unknown = [coin for coin in coins if coin not in swaps]
        if unknown:
            coin = unknown[0]
            raise ConfigError(
                f"--coins: {coin} has no {quote} perpetual on {exchange.id}{did_you_mean(coin, sorted(swaps))}"
            )
        return {coin: swaps[coin] for coin in coins}

    def _save_rules(self, exchange: Any, coins: list[str]) -> None:
        """The venue's rules for these coins (steps, minimums, funding interval) as ``markets.json``
        beside the candles: a backtest of this folder trades by them, not by Binance's bundled ones."""
        from bot.venues.market import map_coins

        path = self.folder / MARKETS_FILE
        swaps = {
            m["base"]: m
            for m in exchange.markets.values()
            if m["base"] in coins
            and m.get("swap")
            and m.get("linear")
            and m.get("quote") == self.settings.trading.quote
        }
        infos, _ = map_coins(exchange.id, coins, swaps, sorted(swaps), {})
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        rules = {**old, **{coin: info.model_dump(mode="json") for coin, info in infos.items()}}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(rules, indent=1), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot write {path} ({exc.strerror}); check that --data-dir is a writable folder with free space"
            ) from None

    async def _one(
        self, exchange: Any, coin: str, symbol: str, series: str, *, since_ms: int, until_ms: int
    ) -> FileResult:
        ccxt = lean_ccxt()

        from bot.venues.profiles import profile_for

        kind = FUNDING if series == FUNDING else "ohlcv"
        funding_ms = round(profile_for(exchange.id).funding_interval_h(exchange.markets[symbol]) * 3_600_000)
        step = funding_ms if kind == FUNDING else TIMEFRAME_MS[series]
        path = path_for(self.folder, coin, self.settings.trading.quote, series)
        existing = _read(path, 2 if kind == FUNDING else 6)
        # closed candles only (open + step <= now); funding settled by now
        end_ms = min(until_ms, self.now_ms - step + 1 if kind == "ohlcv" else self.now_ms + 1)
        ranges = missing_ranges(existing, since_ms=since_ms, until_ms=end_ms, step_ms=step)
        total = sum((end - start + step - 1) // step for start, end in ranges)
        key, done, added = f"{coin} {series}", 0, 0
        self.on_progress(key, 0, total)
        for start, end in ranges:
            cursor = start
            while cursor < end:
                try:
                    rows = await self._page(exchange, symbol, series, kind, cursor)
                except ccxt.BaseError as exc:
                    raise MarketDataError(
                        f"{coin} {series}: {type(exc).__name__} from {exchange.id} after {added} new rows (saved); "
                        f"run the same command again to resume"
                    ) from None
                page = rows[(rows[:, 0] >= cursor) & (rows[:, 0] < end)] if len(rows) else rows
                if not len(page):
                    break  # nothing more in this range (listing date, exchange gap at the end)
                existing = _merge(existing, page)
                try:
                    _write(path, existing, _HEADERS[kind])
                except OSError as exc:
                    raise ConfigError(
                        f"cannot write {path} ({exc.strerror}); check that --data-dir is a writable folder with free "
                        f"space"
                    ) from None
                added += len(page)
                cursor = int(page[-1, 0]) + step
                done = min(total, done + len(page))
                self.on_progress(key, done, total)
        self.on_progress(key, total, total)
        first, last = (int(existing[0, 0]), int(existing[-1, 0])) if len(existing) else (None, None)
        window = profile_for(exchange.id).candle_window
        note = ""
        if kind == "ohlcv" and window and since_ms < end_ms - window * step and first is not None and first > since_ms:
            # said, not silent: Hyperliquid's candleSnapshot "Only the most recent 5000 candles are available"
            note = (
                f"{exchange.id} serves only its latest {window:,} {series} candles: {coin} {series} starts "
                f"{_when(first)}, not {_when(since_ms)} UTC"
            )
        return FileResult(path=path, added=added, rows=len(existing), first_ms=first, last_ms=last, note=note)

    async def _page(self, exchange: Any, symbol: str, series: str, kind: str, since_ms: int) -> np.ndarray:
        from bot.venues.profiles import profile_for

        candles, funding = profile_for(exchange.id).page_sizes  # the venue's documented maxima per request
        if kind == FUNDING:
            history = await self.market.request(
                exchange.fetch_funding_rate_history, symbol, since=since_ms, limit=funding
            )
            rows = [
                [entry["timestamp"] // 60_000 * 60_000, entry["fundingRate"]]
                for entry in history
                if entry.get("fundingRate") is not None
            ]
            return np.array(rows, dtype=np.float64).reshape(-1, 2)
        rows = await self.market.request(exchange.fetch_ohlcv, symbol, series, since=since_ms, limit=candles)
        try:
            array = np.array(rows, dtype=np.float64).reshape(-1, 6)
        except (TypeError, ValueError):
            raise MarketDataError(
                f"{symbol} {series}: the exchange answered malformed candles; run the command again later"
            ) from None
        array = array[np.isfinite(array).all(axis=1)]
        return array[array[:, 0] + TIMEFRAME_MS[series] <= self.now_ms]  # the still-open candle is not history yet
