"""The tick grid: the bot's 3-minute cadence, the candle timeframes it reads, a tick's id and
where a candle ends in an array. Cron, a replay, a backtest and the arena all step on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

TIMEFRAME_MS = {"1m": 60_000, "3m": 180_000, "1h": 3_600_000, "4h": 14_400_000}
TICK = timedelta(minutes=3)  # the bot's cadence: cron's */3, a replay's and a backtest's step


def on_tick_grid(moment: datetime) -> datetime:
    """``moment`` in UTC, floored to its 3-minute tick (xx:00, xx:03, ...; seconds dropped):
    where a tick at ``moment`` belongs, so simulated clocks and cron's minutes agree."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 3, second=0, microsecond=0)


class CandleEnds:
    """Candle open time (ms) -> index just after that candle: where a window ending at it
    ends in ``candles``, in one lookup (a backtest asks several times a tick). Evenly
    spaced candles (every file the bot reads) are found by arithmetic, with no memory per
    candle (a year of 3m candles would hold 175k dict entries); others through a dict."""

    __slots__ = ("_first", "_step", "_count", "_ends")

    def __init__(self, candles: np.ndarray) -> None:
        import numpy as np  # lazily: `bot status` loads these models and never sees a candle

        times = candles[:, 0]
        step = int(times[1] - times[0]) if len(times) > 1 else 0
        regular = step > 0 and bool((np.diff(times) == step).all())
        self._first, self._step, self._count = (int(times[0]) if len(times) else 0), step, len(times)
        self._ends = None if regular else {int(t): end for end, t in enumerate(times.tolist(), start=1)}

    def get(self, open_ms: int, default: int | None = None) -> int | None:
        if self._ends is not None:
            return self._ends.get(open_ms, default)
        index, rest = divmod(open_ms - self._first, self._step)
        return index + 1 if rest == 0 and 0 <= index < self._count else default


def tick_id_for(now: datetime) -> str:
    """Minute resolution: unique per 3-minute tick, identical if the same tick is retried
    (``%y%m%dT%H%M``, formatted by hand: strftime costs four times as much)."""
    return "%02d%02d%02dT%02d%02d" % (now.year % 100, now.month, now.day, now.hour, now.minute)  # noqa: UP031
