"""Market data edge: the Market protocol and the live implementation over ccxt.

One snapshot = for every coin, closed 3m and 4h candles, open interest and funding,
all requested concurrently. ccxt's default leaky-bucket throttler sends requests one
by one; the rolling-window limiter sends a tick's ~24 requests together while still
counting their weight against the exchange's published limit.

The exchange's market list (Binance USD-M: ~2 MB, hundreds of markets) changes rarely,
so the markets of the configured coins are kept on disk for ``exchange.markets_ttl_minutes``:
a tick with a fresh copy neither downloads nor parses the full list.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import structlog

from bot.config import Settings, did_you_mean
from bot.errors import ConfigError, MarketDataError
from bot.models import TIMEFRAME_MS, CoinMarket, MarketInfo, Snapshot

if TYPE_CHECKING:
    import ccxt.async_support as ccxt_async

log = structlog.get_logger(__name__)


class Market(Protocol):
    async def snapshot(self, coins: list[str], now: datetime) -> Snapshot:
        """Closed candles and derivatives data for ``coins`` as of ``now``."""
        ...


class CoinDataError(Exception):
    """This coin's data is unusable this tick; the other coins go on."""


def closed_candles(rows: list[list[Any]], timeframe: str, now_ms: int, need: int) -> np.ndarray:
    """Validate exchange OHLCV rows and keep the last ``need`` candles closed by ``now_ms``.

    A 200 response can carry malformed rows (ccxt passes ``[7, None, ...]`` through), and
    Binance ends its klines with the still-open candle: both must never reach indicators.
    """
    step = TIMEFRAME_MS[timeframe]
    try:
        array = np.array(rows, dtype=np.float64).reshape(-1, 6)
    except (TypeError, ValueError) as exc:
        raise CoinDataError(f"{timeframe} candles are malformed ({exc})") from None
    array = array[array[:, 0] + step <= now_ms]
    if len(array) < need:
        raise CoinDataError(f"only {len(array)} closed {timeframe} candles, need {need}")
    array = array[-need:]
    if not np.isfinite(array).all() or (array[:, 1:5] <= 0).any() or (array[:, 5] < 0).any():
        raise CoinDataError(f"{timeframe} candles hold missing or non-positive values")
    if (np.diff(array[:, 0]) != step).any():
        raise CoinDataError(f"{timeframe} candles are out of order or have gaps")
    newest_expected = (now_ms // step) * step - step
    if array[-1, 0] < newest_expected - step:
        lag_min = (newest_expected - array[-1, 0]) / 60_000
        raise CoinDataError(f"{timeframe} candles are stale: the newest closed one is {lag_min:.0f} min old")
    return array


def _is_transient(exc: BaseException) -> bool:
    """Retry network hiccups and Binance's -1001 'try again'; never bans, bad requests or auth."""
    import ccxt.async_support as ccxt

    if isinstance(exc, ccxt.DDoSProtection):
        return False  # 418/429: back off until the next tick instead of hammering
    return isinstance(exc, ccxt.NetworkError) or type(exc) is ccxt.OperationFailed


class _MarketsCache:
    """The configured coins' ccxt markets plus every swap's base name (for "did you mean"),
    saved after a full load and trusted for ``ttl_ms`` on the tick's clock. A missing,
    stale, corrupt or foreign file (other exchange, URL or coin list) is a miss, never an
    error: the markets are then loaded from the exchange and the file rewritten."""

    def __init__(self, path: Path, *, ttl_ms: int, source: str) -> None:
        self.path, self.ttl_ms, self.source = path, ttl_ms, source

    def load(self, coins: list[str], now_ms: int) -> tuple[dict[str, dict], list[str]] | None:
        try:
            cached = json.loads(self.path.read_text(encoding="utf-8"))
            fresh = cached["source"] == self.source and 0 <= now_ms - cached["saved_at_ms"] < self.ttl_ms
            swaps, names = cached["swaps"], cached["names"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("markets_cache_unreadable", path=str(self.path), error=f"{type(exc).__name__}: {exc}")
            return None
        if not fresh or not all(coin in swaps or coin not in names for coin in coins):
            return None
        return swaps, names

    def save(self, swaps: dict[str, dict], names: list[str], now_ms: int) -> None:
        payload = {"source": self.source, "saved_at_ms": now_ms, "swaps": swaps, "names": names}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(payload), encoding="utf-8")
            os.replace(tmp, self.path)
        except (OSError, TypeError, ValueError) as exc:  # a cache that cannot be written costs time, not data
            log.warning("markets_cache_not_saved", path=str(self.path), error=f"{type(exc).__name__}: {exc}")


class CcxtMarket:
    """Live market data from any ccxt exchange with linear swaps (default Binance USD-M).

    ``cache_dir`` holds the markets cache; None loads the markets from the exchange every time.
    """

    def __init__(self, settings: Settings, *, cache_dir: Path | None = None) -> None:
        self.settings = settings
        self.request_count = 0
        exchange = settings.exchange
        self.markets_cache = (
            _MarketsCache(
                cache_dir / f"markets-{exchange.id}.json",
                ttl_ms=exchange.markets_ttl_minutes * 60_000,
                source=f"{exchange.id}|{exchange.api_url or ''}|sandbox={exchange.sandbox}|{settings.trading.quote}",
            )
            if cache_dir is not None and exchange.markets_ttl_minutes > 0
            else None
        )

    def _create_exchange(self) -> ccxt_async.Exchange:
        import ccxt.async_support as ccxt

        exchange_cls = getattr(ccxt, self.settings.exchange.id, None)
        if exchange_cls is None:
            hint = did_you_mean(self.settings.exchange.id, ccxt.exchanges)
            raise ConfigError(f"`exchange.id`: unknown ccxt exchange {self.settings.exchange.id!r}{hint}")
        exchange = exchange_cls(
            {
                "enableRateLimit": True,
                "rateLimiterAlgorithm": "rollingWindow",
                "timeout": self.settings.exchange.timeout_ms,
                "options": {"defaultType": "swap", "fetchCurrencies": False},
            }
        )
        # ccxt sleeps 250 ms in close() so TLS connections can shut down gracefully; a
        # cron tick exits right after, so that quarter second is pure latency.
        exchange.timeout_on_exit = 0
        if self.settings.exchange.sandbox:
            exchange.set_sandbox_mode(True)
        if self.settings.exchange.api_url:
            from bot._urls import point_exchange_at

            point_exchange_at(exchange, self.settings.exchange.api_url)
        return exchange

    async def _call(self, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(self.settings.exchange.retries + 1),
            wait=wait_exponential(multiplier=0.25, max=2.0),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                self.request_count += 1
                return await function(*args, **kwargs)

    async def snapshot(self, coins: list[str], now: datetime) -> Snapshot:
        import ccxt.async_support as ccxt

        exchange = self._create_exchange()
        now_ms = int(now.timestamp() * 1000)
        try:
            infos, errors = await self._load_markets(exchange, coins, now_ms)
            results = await asyncio.gather(
                *(self._fetch_coin(exchange, coin, info, now_ms) for coin, info in infos.items()),
                return_exceptions=True,
            )
        finally:
            await exchange.close()
        loaded: dict[str, CoinMarket] = {}
        for coin, result in zip(infos, results, strict=True):
            if isinstance(result, CoinMarket):
                loaded[coin] = result
            elif isinstance(result, (ccxt.BaseError, CoinDataError)):
                errors[coin] = _describe(result)
                log.warning("coin_skipped", coin=coin, error=errors[coin])
            else:
                raise result
        return Snapshot(as_of=now, coins=loaded, errors=errors)

    async def _load_markets(self, exchange: Any, coins: list[str], now_ms: int) -> tuple[dict[str, MarketInfo], dict[str, str]]:
        """The configured coins' markets, from the disk cache when fresh, else the exchange."""
        import ccxt.async_support as ccxt

        started = time.perf_counter()
        cached = self.markets_cache.load(coins, now_ms) if self.markets_cache else None
        if cached is not None:
            swaps, names = cached
            exchange.set_markets(list(swaps.values()))
        else:
            try:
                await self._call(exchange.load_markets)
            except ccxt.BaseError as exc:
                raise MarketDataError(f"{exchange.id}: cannot load markets ({_describe(exc)})") from None
            quote = self.settings.trading.quote
            every = {
                market["base"]: market
                for market in exchange.markets.values()
                if market.get("swap") and market.get("linear") and market.get("quote") == quote and market.get("active", True)
            }
            swaps, names = {coin: every[coin] for coin in coins if coin in every}, sorted(every)
            if self.markets_cache:
                self.markets_cache.save(swaps, names, now_ms)
        log.debug("markets_loaded", cached=cached is not None, duration_ms=round((time.perf_counter() - started) * 1000, 1))
        return _map_coins(exchange.id, coins, swaps, names)


    async def _fetch_coin(self, exchange: Any, coin: str, info: MarketInfo, now_ms: int) -> CoinMarket:
        need = self.settings.trading.candles
        # +2: the still-open candle, and one spare for a tick that starts just before a
        # candle boundary and gets its answer just after it (the newest row then opened
        # after our clock's now, and the one before it has not closed by our clock yet).
        limit = need + 2
        has = exchange.has
        rows_3m, rows_4h, open_interest, funding = await asyncio.gather(
            self._call(exchange.fetch_ohlcv, info.symbol, "3m", limit=limit),
            self._call(exchange.fetch_ohlcv, info.symbol, "4h", limit=limit),
            self._call(exchange.fetch_open_interest, info.symbol) if has.get("fetchOpenInterest") else _none(),
            self._call(exchange.fetch_funding_rate, info.symbol) if has.get("fetchFundingRate") else _none(),
        )
        candles_3m = closed_candles(rows_3m, "3m", now_ms, need)
        candles_4h = closed_candles(rows_4h, "4h", now_ms, need)
        return CoinMarket(
            coin=coin,
            info=info,
            candles_3m=candles_3m,
            candles_4h=candles_4h,
            # The mark price is fresher than the last closed candle's close.
            last_price=_number(funding, "markPrice", required=False) or float(candles_3m[-1, 4]),
            open_interest=_number(open_interest, "openInterestAmount"),
            funding_rate=_number(funding, "fundingRate"),
        )


def _map_coins(exchange_id: str, coins: list[str], swaps: dict[str, dict], names: list[str]) -> tuple[dict[str, MarketInfo], dict[str, str]]:
    """Map base coin names to the exchange's active linear swap on the quote currency."""
    infos: dict[str, MarketInfo] = {}
    errors: dict[str, str] = {}
    for coin in coins:
        market = swaps.get(coin)
        if market is None:
            errors[coin] = f"unknown coin {coin!r} on {exchange_id}: fix `trading.coins`{did_you_mean(coin, names)}"
            log.warning("coin_unknown", coin=coin, error=errors[coin])
            continue
        limits, precision = market.get("limits") or {}, market.get("precision") or {}
        infos[coin] = MarketInfo(
            symbol=market["symbol"],
            amount_step=float(precision.get("amount") or 0.0),
            price_step=float(precision.get("price") or 0.0),
            min_amount=float((limits.get("amount") or {}).get("min") or 0.0),
            min_notional_usd=float((limits.get("cost") or {}).get("min") or 0.0),
            max_leverage=float((limits.get("leverage") or {}).get("max") or 125.0),
        )
    return infos, errors


async def _none() -> None:
    return None


def _number(payload: Any, key: str, *, required: bool = True) -> float | None:
    """A number from a ccxt structure; a malformed 200 response yields None fields, not an error."""
    if payload is None:
        return None  # the exchange does not offer this data
    value = payload.get(key) if isinstance(payload, dict) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        if required:
            raise CoinDataError(f"malformed answer: no {key} in it")
        return None
    return number


def _describe(exc: BaseException) -> str:
    """One line, exception class first; ccxt messages can be long JSON bodies."""
    text = " ".join(str(exc).split())
    if isinstance(exc, CoinDataError):
        return text
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
