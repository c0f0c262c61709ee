"""Market data edge: the Market protocol and the live implementation over ccxt.

One snapshot = for every coin, closed 3m and 4h candles, open interest and funding,
all requested concurrently. ccxt's default leaky-bucket throttler sends requests one
by one; the rolling-window limiter sends a tick's ~24 requests together while still
counting their weight against the exchange's published limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import numpy as np
import structlog

from bot._exchange import create_exchange, describe, with_retry
from bot.config import Settings, did_you_mean
from bot.errors import MarketDataError
from bot.models import TIMEFRAME_MS, CoinMarket, MarketInfo, Snapshot

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


class CcxtMarket:
    """Live market data from any ccxt exchange with linear swaps (default Binance USD-M)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.request_count = 0

    async def _call(self, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        async def counted(*a: Any, **k: Any) -> Any:
            self.request_count += 1
            return await function(*a, **k)

        return await with_retry(counted, *args, retries=self.settings.exchange.retries, **kwargs)

    async def snapshot(self, coins: list[str], now: datetime) -> Snapshot:
        import ccxt.async_support as ccxt

        exchange = create_exchange(self.settings)
        try:
            started = time.perf_counter()
            try:
                await self._call(exchange.load_markets)
            except ccxt.BaseError as exc:
                raise MarketDataError(f"{exchange.id}: cannot load markets ({_describe(exc)})") from None
            log.debug("markets_loaded", duration_ms=round((time.perf_counter() - started) * 1000, 1))
            infos, errors = self._map_coins(exchange, coins)
            now_ms = int(now.timestamp() * 1000)
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

    def _map_coins(self, exchange: Any, coins: list[str]) -> tuple[dict[str, MarketInfo], dict[str, str]]:
        """Map base coin names to the exchange's active linear swap on the quote currency."""
        quote = self.settings.trading.quote
        swaps = {
            market["base"]: market
            for market in exchange.markets.values()
            if market.get("swap") and market.get("linear") and market.get("quote") == quote and market.get("active", True)
        }
        infos: dict[str, MarketInfo] = {}
        errors: dict[str, str] = {}
        for coin in coins:
            market = swaps.get(coin)
            if market is None:
                errors[coin] = f"unknown coin {coin!r} on {exchange.id}: fix `trading.coins`{did_you_mean(coin, sorted(swaps))}"
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
    return str(exc) if isinstance(exc, CoinDataError) else describe(exc)
