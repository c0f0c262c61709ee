"""What a strategy sees of one coin: ``CoinFeatures`` and its 4h ``Context4h``.

Not pydantic models: features are computed by the bot from candles already checked at
the edge, read by strategies and the prompt, and never parsed from outside. A tick
builds one per coin, a backtest hundreds of thousands, so ``CoinFeatures`` is a view of
one row of an indicator table (``bot.tick.indicators.indicator_table``: one column per
indicator, one row per candle) computed once: over a live tick's 500-candle window, or
over a backtest's whole history. The 10-value series the prompt shows are cut from the
table only when read (the rules never read them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# The columns of an indicator table, in order; "price" is the candle's close.
COLUMNS = ("price", "ema20", "ema50", "macd", "macd_signal", "rsi7", "rsi14", "atr3", "atr14", "volume", "volume_avg")
SERIES = ("price", "ema20", "macd", "rsi7", "rsi14")  # the 3m series shown to the strategy
SERIES_LENGTH = 10  # values of each series shown, oldest first
_LAST = (
    "ema20",
    "ema50",
    "macd",
    "macd_signal",
    "rsi7",
    "rsi14",
    "atr3",
    "atr14",
    "volume",
)  # the 3m values a CoinFeatures shows


@dataclass(slots=True)
class Context4h:
    ema20: float
    ema50: float
    atr3: float
    atr14: float
    volume: float
    volume_avg: float  # mean volume of the last 20 closed 4h candles
    macd: list[float]
    rsi14: list[float]

    def model_dump(self) -> dict[str, Any]:
        return asdict(self)


def _value(column: int) -> property:
    return property(lambda self: self._row[column], doc=f"the last closed 3m candle's {COLUMNS[column]}")


class CoinFeatures:
    """Last values plus short series (oldest first) of one coin at a tick.

    ``price`` is the market's last price (live: the mark price), not the candle's close;
    ``as_of_ms`` is the open time of the last closed 3m candle.
    """

    __slots__ = (
        "coin",
        "as_of_ms",
        "price",
        "h4",
        "open_interest",
        "funding_rate",
        "funding_interval_h",
        "_row",
        "_table",
        "_end",
        "_series",
    )

    def __init__(
        self,
        *,
        coin: str,
        as_of_ms: int,
        price: float,
        series: dict[str, list[float]],
        h4: Context4h,
        open_interest: float | None = None,
        funding_rate: float | None = None,
        funding_interval_h: float = 8.0,
        **last: float,
    ) -> None:
        """From explicit values (``model_copy``, tests): the nine 3m values of ``_LAST`` by name."""
        if set(last) != set(_LAST):
            raise TypeError(f"CoinFeatures needs exactly {', '.join(_LAST)}; got {', '.join(sorted(last)) or 'none'}")
        self._set(coin, as_of_ms, price, h4, open_interest, funding_rate, funding_interval_h)
        self._row = [float("nan") if name == "price" else last.get(name, float("nan")) for name in COLUMNS]
        self._table, self._end, self._series = None, 0, {name: list(values) for name, values in series.items()}

    @classmethod
    def at(
        cls,
        table: np.ndarray,
        end: int,
        *,
        coin: str,
        price: float,
        as_of_ms: int,
        h4: Context4h,
        open_interest: float | None,
        funding_rate: float | None,
        funding_interval_h: float = 8.0,
    ) -> CoinFeatures:
        """The view of row ``end - 1`` of ``table`` (columns ``COLUMNS``): the candle before index ``end``."""
        self = cls.__new__(cls)
        self._set(coin, as_of_ms, price, h4, open_interest, funding_rate, funding_interval_h)
        self._row, self._table, self._end, self._series = table[end - 1].tolist(), table, end, None
        return self

    def _set(
        self,
        coin: str,
        as_of_ms: int,
        price: float,
        h4: Context4h,
        open_interest: float | None,
        funding_rate: float | None,
        funding_interval_h: float,
    ) -> None:
        self.coin, self.as_of_ms, self.price, self.h4 = coin, as_of_ms, price, h4
        self.open_interest, self.funding_rate = open_interest, funding_rate
        self.funding_interval_h = (
            funding_interval_h  # the rate above is per this many hours (the market's settlement interval)
        )

    ema20, ema50, macd, macd_signal = _value(1), _value(2), _value(3), _value(4)
    rsi7, rsi14, atr3, atr14, volume = _value(5), _value(6), _value(7), _value(8), _value(9)

    @property
    def series(self) -> dict[str, list[float]]:
        """price, ema20, macd, rsi7, rsi14: the last ``SERIES_LENGTH`` values, cut on first read."""
        if self._series is None:
            tail = self._table[max(self._end - SERIES_LENGTH, 0) : self._end].T.tolist()
            self._series = {name: tail[COLUMNS.index(name)] for name in SERIES}
        return self._series

    def model_dump(self) -> dict[str, Any]:
        """Every field as plain data, in the contract's order (as the pydantic model dumped)."""
        return {
            "coin": self.coin,
            "as_of_ms": self.as_of_ms,
            "price": self.price,
            **{name: getattr(self, name) for name in _LAST},
            "series": {name: list(values) for name, values in self.series.items()},
            "h4": self.h4.model_dump(),
            "open_interest": self.open_interest,
            "funding_rate": self.funding_rate,
            "funding_interval_h": self.funding_interval_h,
        }

    def model_copy(self, *, update: dict[str, Any] | None = None) -> CoinFeatures:
        fields = {**self.model_dump(), "h4": self.h4, **(update or {})}
        return CoinFeatures(**fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CoinFeatures) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        return f"CoinFeatures({', '.join(f'{key}={value!r}' for key, value in self.model_dump().items())})"
