"""Historical market: the Market protocol over CSV files, for replay and backtest.

Layout as in the project's data folder: ``3m/BTCUSDT-3m.csv[.gz]``, ``4h/…``,
``funding_8h/BTCUSDT-funding-8h.csv[.gz]``; timestamps are candle OPEN times in ms.
At simulated time t a coin shows only candles that had CLOSED by t (open + length
<= t), the last close as its price, and the last funding rate settled at or before t,
with the settlements before it back to the oldest candle shown (each charged its own rate).
There is no open-interest history, so it is reported as unknown rather than invented.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from bot.clock import TIMEFRAME_MS, CandleEnds
from bot.errors import ConfigError, did_you_mean
from bot.models import CoinMarket, MarketInfo, Snapshot
from bot.tick.margin import with_maintenance_amounts

SAMPLE_DIR = Path(str(resources.files("bot") / "data" / "sample"))
_MARKETS_FILE = Path(str(resources.files("bot") / "data" / "markets.json"))


@cache
def _bundled_markets() -> dict[str, dict]:
    return {k: v for k, v in json.loads(_MARKETS_FILE.read_text()).items() if not k.startswith("_")}


def bundled_info(coin: str, quote: str = "USDT") -> MarketInfo | None:
    """The bundled trading rules and leverage brackets of ``coin``; None for a coin not bundled."""
    spec = dict(_bundled_markets().get(coin) or {})
    if not spec:
        return None
    tiers = with_maintenance_amounts(spec.pop("brackets", []))
    return MarketInfo(**spec, tiers=tiers)


def _read_csv(folder: Path, stem: str) -> np.ndarray:
    for path in (folder / f"{stem}.csv", folder / f"{stem}.csv.gz"):
        if path.exists():
            import pandas as pd

            return pd.read_csv(path).to_numpy(dtype=np.float64)
    raise FileNotFoundError(folder / f"{stem}.csv")


@dataclass
class _CoinHistory:
    candles: dict[str, np.ndarray]  # timeframe -> (n, 6)
    funding: np.ndarray  # (n, 2): settlement time ms, rate
    # Per timeframe, candle open time -> index after that candle: a backtest asks for
    # the window ending at a given candle twice per coin and tick.
    ends: dict[str, CandleEnds] = field(init=False)
    funding_times: list[float] = field(init=False)  # searched by bisect: cheaper than numpy for one value
    funding_rates: list[float] = field(init=False)
    # The last window shown per timeframe, (end index, rows): a 4h window stays the same
    # for 80 ticks and is handed out again instead of sliced anew.
    windows: dict[str, tuple[int, np.ndarray]] = field(init=False, default_factory=dict)
    shown: tuple[int, int, tuple[tuple[int, float], ...]] = field(init=False, default=(0, 0, ()))

    def __post_init__(self) -> None:
        self.ends = {tf: CandleEnds(candles) for tf, candles in self.candles.items()}
        self.funding_times, self.funding_rates = self.funding[:, 0].tolist(), self.funding[:, 1].tolist()

    def settlements(self, since_ms: int, settled: int) -> tuple[tuple[int, float], ...]:
        """The recorded settlements from the last one at or before ``since_ms`` to the
        ``settled``-th: what the paper broker needs to charge each settlement its own rate."""
        first = max(0, bisect_right(self.funding_times, since_ms) - 1)
        if self.shown[:2] != (first, settled):  # the same for 160 ticks: handed out again
            pairs = zip(self.funding_times[first:settled], self.funding_rates[first:settled], strict=True)
            self.shown = (first, settled, tuple((int(at), rate) for at, rate in pairs))
        return self.shown[2]

    def window(self, tf: str, now_ms: int, need: int) -> np.ndarray | None:
        """The last ``need`` candles closed by ``now_ms``; None unless the newest one is the candle that just closed."""
        step = TIMEFRAME_MS[tf]
        end = self.ends[tf].get(now_ms - now_ms % step - step, 0)
        if end < need:
            return None
        last = self.windows.get(tf)
        if last is None or last[0] != end:
            last = self.windows[tf] = (end, self.candles[tf][end - need : end])
        return last[1]


class HistoryMarket:
    """Replays recorded candles as if the exchange were answering at a chosen time."""

    def __init__(self, data_dir: Path | None = None, *, candles: int = 500, quote: str = "USDT") -> None:
        self.data_dir = data_dir or SAMPLE_DIR
        self.need = candles
        self.quote = quote
        self._coins: dict[str, _CoinHistory] = {}
        self._infos: dict[str, MarketInfo] = {}
        if not (self.data_dir / "3m").is_dir():
            raise ConfigError(
                f"history data dir {self.data_dir} has no 3m/ folder; point --data-dir at a folder laid out like the "
                f"bundled sample"
            )

    @cached_property
    def _available(self) -> list[str]:
        suffix = f"{self.quote}-3m.csv"
        names = (path.name.removesuffix(".gz") for path in (self.data_dir / "3m").iterdir())
        return sorted(name.removesuffix(suffix) for name in names if name.endswith(suffix))

    def available_coins(self) -> list[str]:
        return list(self._available)

    def _load(self, coin: str) -> _CoinHistory:
        if coin not in self._coins:
            if coin not in self._available:  # worded as the live market words it
                raise ConfigError(
                    f"unknown coin {coin!r} in {self.data_dir}: fix "
                    f"`trading.coins`{did_you_mean(coin, self._available)}"
                )
            pair = f"{coin}{self.quote}"
            try:
                candles = {tf: _read_csv(self.data_dir / tf, f"{pair}-{tf}") for tf in ("3m", "4h")}
            except FileNotFoundError as exc:
                raise ConfigError(f"no history for {coin}: {exc.args[0]}[.gz] is missing") from None
            try:
                funding = _read_csv(self.data_dir / "funding_8h", f"{pair}-funding-8h")
            except FileNotFoundError:
                funding = np.empty((0, 2))
            self._coins[coin] = _CoinHistory(candles=candles, funding=funding)
        return self._coins[coin]

    def span(self, coins: list[str]) -> tuple[datetime, datetime]:
        """First and last simulated time at which every coin has enough closed candles."""
        first, last = 0, None
        known = [coin for coin in coins if coin in self._available]  # the others are skipped by snapshot_at
        if not known:
            raise ConfigError(
                f"no history in {self.data_dir} for {', '.join(coins)}: fix `trading.coins` (available: "
                f"{', '.join(self._available)})"
            )
        for coin in known:
            history = self._load(coin)
            for tf, candles in history.candles.items():
                if len(candles) < self.need:
                    raise ConfigError(f"{coin} {tf}: {len(candles)} candles in {self.data_dir}, need {self.need}")
                first = max(first, int(candles[self.need - 1, 0]) + TIMEFRAME_MS[tf])
            end = int(history.candles["3m"][-1, 0]) + TIMEFRAME_MS["3m"]
            last = end if last is None else min(last, end)
        return _to_datetime(first), _to_datetime(last or first)

    def candles(self, coin: str) -> dict[str, np.ndarray]:
        """All of a coin's recorded candles per timeframe (a backtest precomputes over them)."""
        return self._load(coin).candles

    @cached_property
    def _recorded_rules(self) -> dict[str, MarketInfo]:
        """The venue's rules `bot download` saved beside the candles (markets.json), if any."""
        path = self.data_dir / "markets.json"
        if not path.exists():
            return {}
        try:
            return {
                coin: MarketInfo.model_validate(spec)
                for coin, spec in json.loads(path.read_text(encoding="utf-8")).items()
            }
        except (OSError, ValueError, AttributeError) as exc:
            raise ConfigError(
                f"{path} is not the rules file `bot download` writes ({type(exc).__name__}): move it away or download "
                f"again"
            ) from None

    def info(self, coin: str) -> MarketInfo:
        if (known := self._infos.get(coin)) is not None:  # asked for every coin every tick
            return known
        # a coin outside the bundled rules: fine-grained defaults
        fallback = MarketInfo(symbol=f"{coin}/{self.quote}:{self.quote}", amount_step=1e-8, price_step=1e-8)
        info = self._recorded_rules.get(coin) or bundled_info(coin) or fallback
        interval_h = funding_interval_h(self._load(coin).funding_times) if coin in self._available else None
        self._infos[coin] = info.model_copy(update={"funding_interval_h": interval_h}) if interval_h else info
        return self._infos[coin]

    async def snapshot(self, coins: list[str], now: datetime) -> Snapshot:
        return self.snapshot_at(coins, now)

    def snapshot_at(self, coins: list[str], now: datetime) -> Snapshot:
        now_ms = int(now.timestamp() * 1000)
        loaded: dict[str, CoinMarket] = {}
        errors: dict[str, str] = {}
        for coin in coins:
            history = self._coins.get(coin)
            if history is None:
                try:
                    history = self._load(coin)
                except ConfigError as exc:
                    errors[coin] = str(exc)
                    continue
            candles_3m, candles_4h = history.window("3m", now_ms, self.need), history.window("4h", now_ms, self.need)
            if candles_3m is None or candles_4h is None:
                missing = "/".join(tf for tf, window in (("3m", candles_3m), ("4h", candles_4h)) if window is None)
                errors[coin] = f"no {missing} history covering {now:%Y-%m-%d %H:%M} UTC"
                continue
            settled = bisect_right(history.funding_times, now_ms)
            rate = history.funding_rates[settled - 1] if settled else None
            loaded[coin] = CoinMarket(
                coin,
                self.info(coin),
                candles_3m,
                candles_4h,
                float(candles_3m[-1, 4]),
                None,
                rate,
                history.settlements(int(candles_3m[0, 0]), settled),
            )
        return Snapshot(as_of=now, coins=loaded, errors=errors)


def funding_interval_h(times_ms: np.ndarray) -> float | None:
    """The interval the recorded settlements keep (their most common spacing, in hours): a
    data folder downloaded from Hyperliquid settles hourly, one from Binance every 8 hours."""
    if len(times_ms) < 2:
        return None
    spacing, counts = np.unique(np.diff(times_ms), return_counts=True)
    step = float(spacing[counts.argmax()])
    return step / 3_600_000 if step > 0 else None


def _to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
