"""Market data edge: the Market protocol and the live implementation over ccxt.

One snapshot = for every coin, closed 3m and 4h candles, open interest and funding,
all requested concurrently. ccxt's default leaky-bucket throttler sends requests one
by one; the rolling-window limiter sends a tick's ~24 requests together while still
counting their weight against the exchange's published limit.

The exchange's market list (Binance USD-M: ~2 MB, hundreds of markets) changes rarely,
so the markets of the configured coins are kept on disk for ``exchange.markets_ttl_minutes``:
a tick with a fresh copy neither downloads nor parses the full list. Closed candles are
final, so they are kept there too and a tick asks only for the candles that opened since
the newest one it holds (a few rows instead of 502: less to parse, and Binance weighs a
klines request by its limit, 5 for 502 rows, 1 under 100).

Leverage brackets (maintenance margin per notional tier) are cached with the markets:
the exchange's own when trading live (ccxt ``fetch_leverage_tiers``, a signed request),
else the table bundled in bot/data/markets.json.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from bot.clock import TIMEFRAME_MS
from bot.config import Settings
from bot.errors import MarketDataError, did_you_mean
from bot.models import CoinMarket, MarketInfo, Snapshot
from bot.tick.margin import with_maintenance_amounts
from bot.venues.ccxt_lean import lean_ccxt
from bot.venues.exchange import create_exchange, describe, with_retry
from bot.venues.history import bundled_info
from bot.venues.market_cache import CandleCache, MarketsCache
from bot.venues.profiles import VenueProfile, profile_for

if TYPE_CHECKING:
    import ccxt.async_support as ccxt_async

log = structlog.get_logger(__name__)


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
    ahead_ms = np.nanmax(array[:, 0], initial=0) - now_ms // step * step
    if ahead_ms > step:  # beyond the still-open candle and the boundary spare: our clock is behind the exchange's
        raise CoinDataError(
            f"{timeframe} candles run {ahead_ms / 60_000:.0f} min ahead of the local clock: set the system clock "
            f"right (enable NTP)"
        )
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
    """Live market data from any ccxt exchange with linear swaps (default Binance USD-M).

    ``cache_dir`` holds the markets cache; None loads the markets from the exchange every time.
    """

    def __init__(self, settings: Settings, *, cache_dir: Path | None = None) -> None:
        self.settings = settings
        self.request_count = 0
        exchange = settings.exchange
        keys = settings.enable_trading and bool(
            settings.exchange_api_key and settings.exchange_secret
        )  # for the exchange's brackets
        source = (
            f"{exchange.id}|{exchange.api_url or ''}|sandbox={exchange.sandbox}|{settings.trading.quote}"
            f"|tiers={'live' if keys else 'bundled'}"
        )
        self.markets_cache = (
            MarketsCache(
                cache_dir / f"markets-{exchange.id}.json", ttl_ms=exchange.markets_ttl_minutes * 60_000, source=source
            )
            if cache_dir is not None and exchange.markets_ttl_minutes > 0
            else None
        )
        # One folder per data source: a testnet's or a proxy's candles never mix with the real ones.
        digest = hashlib.sha1(source.encode()).hexdigest()[:10]
        self.candle_cache = (
            CandleCache(cache_dir / "candles" / f"{exchange.id}-{digest}") if cache_dir is not None else None
        )

    def exchange(self) -> ccxt_async.Exchange:
        """A ccxt exchange set up like the tick's (limiter, timeout, sandbox, api_url), for `bot download`."""
        return create_exchange(self.settings)

    async def request(self, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` under the tick's retry policy (transient errors only)."""
        return await self._call(function, *args, **kwargs)

    async def _call(self, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        async def counted(*a: Any, **k: Any) -> Any:
            self.request_count += 1
            return await function(*a, **k)

        return await with_retry(counted, *args, retries=self.settings.exchange.retries, **kwargs)

    async def snapshot(self, coins: list[str], now: datetime) -> Snapshot:
        ccxt = lean_ccxt()

        exchange = create_exchange(
            self.settings, credentials=self.settings.enable_trading
        )  # keys sign only the brackets request
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

    async def _load_markets(
        self, exchange: Any, coins: list[str], now_ms: int
    ) -> tuple[dict[str, MarketInfo], dict[str, str]]:
        """The configured coins' markets, from the disk cache when fresh, else the exchange."""
        ccxt = lean_ccxt()

        started = time.perf_counter()
        cached = self.markets_cache.load(coins, now_ms) if self.markets_cache else None
        if cached is not None:
            swaps, names, tiers = cached
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
                if market.get("swap")
                and market.get("linear")
                and market.get("quote") == quote
                and market.get("active", True)
            }
            swaps, names = {coin: every[coin] for coin in coins if coin in every}, sorted(every)
            tiers = await self._leverage_tiers(exchange, swaps)
            if self.markets_cache:
                self.markets_cache.save(swaps, names, tiers, now_ms)
        log.debug(
            "markets_loaded", cached=cached is not None, duration_ms=round((time.perf_counter() - started) * 1000, 1)
        )
        return map_coins(exchange.id, coins, swaps, names, tiers)

    async def _leverage_tiers(self, exchange: Any, swaps: dict[str, dict]) -> dict[str, list]:
        """The exchange's leverage brackets per coin; {} without keys or when it will not say
        (the bundled table stands in), a coin whose answer is malformed left out."""
        ccxt = lean_ccxt()

        if (
            not self.settings.enable_trading
            or not exchange.apiKey
            or not exchange.has.get("fetchLeverageTiers")
            or not swaps
        ):
            return {}
        try:
            answer = await self._call(exchange.fetch_leverage_tiers, [market["symbol"] for market in swaps.values()])
        except ccxt.BaseError as exc:  # rejected keys are the live broker's one line to say, right after
            (log.info if isinstance(exc, ccxt.AuthenticationError) else log.warning)(
                "leverage_tiers_unavailable", error=_describe(exc), fallback="the bundled brackets"
            )
            return {}
        tiers = {}
        for coin, market in swaps.items():
            brackets = _brackets(answer.get(market["symbol"]) if isinstance(answer, dict) else None)
            if brackets:
                tiers[coin] = brackets
            else:
                log.warning("leverage_tiers_malformed", coin=coin, fallback="the bundled brackets")
        return tiers

    async def _fetch_coin(self, exchange: Any, coin: str, info: MarketInfo, now_ms: int) -> CoinMarket:
        has = exchange.has
        candles_3m, candles_4h, open_interest, funding, settled = await asyncio.gather(
            self._candles(exchange, coin, info.symbol, "3m", now_ms),
            self._candles(exchange, coin, info.symbol, "4h", now_ms),
            self._call(exchange.fetch_open_interest, info.symbol) if has.get("fetchOpenInterest") else _none(),
            self._call(exchange.fetch_funding_rate, info.symbol) if has.get("fetchFundingRate") else _none(),
            # ccxt's fundingRate is Binance's estimate of the next settlement; paper books the last settled one
            self._call(exchange.fetch_funding_rate_history, info.symbol, None, 1)
            if has.get("fetchFundingRateHistory")
            else _none(),
        )
        estimate = _number(funding, "fundingRate")
        return CoinMarket(
            coin=coin,
            info=info,
            candles_3m=candles_3m,
            candles_4h=candles_4h,
            # The mark price is fresher than the last closed candle's close.
            last_price=_number(funding, "markPrice", required=False) or float(candles_3m[-1, 4]),
            open_interest=_number(open_interest, "openInterestAmount"),
            funding_rate=_number(settled[-1], "fundingRate", required=False) if settled else estimate,
        )

    async def _candles(self, exchange: Any, coin: str, symbol: str, timeframe: str, now_ms: int) -> np.ndarray:
        """The last ``trading.candles`` closed candles; only those newer than the cache's are fetched."""
        need = self.settings.trading.candles
        # +2: the still-open candle, and one spare for a tick that starts just before a
        # candle boundary and gets its answer just after it (the newest row then opened
        # after our clock's now, and the one before it has not closed by our clock yet).
        full = need + 2
        cached = self.candle_cache.load(coin, timeframe) if self.candle_cache else None
        if cached is not None and len(cached) >= need:
            step = TIMEFRAME_MS[timeframe]
            # candles opened after the newest cached one, the still-open one included; +1 is
            # the same spare as above, so every closed candle we lack is in the answer
            opened_since = (now_ms // step * step - int(cached[-1, 0])) // step
            if opened_since < need:
                rows = await self._call(exchange.fetch_ohlcv, symbol, timeframe, limit=max(opened_since, 1) + 1)
                try:
                    candles = closed_candles(_merge_candles(cached, rows), timeframe, now_ms, need)
                except CoinDataError as exc:  # a gap, a revised or malformed row: start from scratch
                    log.info("candle_cache_refetch", coin=coin, timeframe=timeframe, reason=str(exc))
                else:
                    self._remember(coin, timeframe, candles, cached)
                    return candles
        candles = closed_candles(
            await self._call(exchange.fetch_ohlcv, symbol, timeframe, limit=full), timeframe, now_ms, need
        )
        self._remember(coin, timeframe, candles, cached)
        return candles

    def _remember(self, coin: str, timeframe: str, candles: np.ndarray, cached: np.ndarray | None) -> None:
        if self.candle_cache and (cached is None or cached[-1, 0] != candles[-1, 0] or len(cached) != len(candles)):
            self.candle_cache.save(coin, timeframe, candles)


def _merge_candles(cached: np.ndarray, rows: list[list[Any]]) -> np.ndarray:
    """Cached candles followed by the fetched rows; a fetched row replaces a cached one with its open time."""
    try:
        fetched = np.array(rows, dtype=np.float64).reshape(-1, 6)
    except (TypeError, ValueError) as exc:
        raise CoinDataError(f"candles are malformed ({exc})") from None
    both = np.concatenate([cached, fetched])
    newest_first = both[::-1]
    _, first = np.unique(newest_first[:, 0], return_index=True)  # sorted by open time, fetched rows win
    return newest_first[first]


def _brackets(rows: Any) -> list[tuple[float, float, float, float]]:
    """ccxt leverage tiers as (cap, MMR, maintenance amount, max leverage); [] unless every
    number is there, finite and positive and the caps ascend. The amount is Binance's ``cum``
    when it sends one, else derived from the rates."""
    try:
        plain = [
            (float(row["maxNotional"]), float(row["maintenanceMarginRate"]), float(row["maxLeverage"])) for row in rows
        ]
        sent = [(row.get("info") or {}).get("cum") for row in rows]
        cums = [float(cum) for cum in sent] if None not in sent else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return []
    numbers = np.array([value for row in plain for value in row] + (cums or []))
    caps = [cap for cap, _, _ in plain]
    if (
        not plain
        or not np.isfinite(numbers).all()
        or (numbers < 0).any()
        or min(caps) <= 0
        or caps != sorted(set(caps))
    ):
        return []
    derived = with_maintenance_amounts(plain)
    return [(cap, rate, cums[i] if cums else cum, leverage) for i, (cap, rate, cum, leverage) in enumerate(derived)]


def _fallback_tiers(profile: VenueProfile, coin: str, market: dict) -> list[tuple[float, float, float, float]]:
    """Brackets when the exchange's own are not read: Binance's bundled table, or the venue's rule."""
    if not profile.bundled_tiers:
        return profile.flat_tiers(float(((market.get("limits") or {}).get("leverage") or {}).get("max") or 0))
    info = bundled_info(coin)
    return info.tiers if info else []


def map_coins(
    exchange_id: str, coins: list[str], swaps: dict[str, dict], names: list[str], tiers: dict[str, list]
) -> tuple[dict[str, MarketInfo], dict[str, str]]:
    """Map base coin names to the exchange's active linear swap on the quote currency."""
    infos: dict[str, MarketInfo] = {}
    errors: dict[str, str] = {}
    profile = profile_for(exchange_id)
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
            tiers=[tuple(tier) for tier in tiers[coin]] if coin in tiers else _fallback_tiers(profile, coin, market),
            funding_interval_h=profile.funding_interval_h(market),
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
    return " ".join(str(exc).split()) if isinstance(exc, CoinDataError) else describe(exc)
