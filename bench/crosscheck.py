"""Cross-check: `bot backtest` against backtesting.py on the same coin, data and rule.

The rule is EMA20/EMA50 on 3m closes, long while EMA20 > EMA50, flat otherwise, half
the cash per entry, no leverage, the same taker fee on entry and exit, no slippage.
Both sides fill at the close of the candle that triggered the signal: ours because a
tick at t fills at the last closed candle's close, backtesting.py because of
``trade_on_close=True``. backtesting.py trades in whole units, so it runs as a
``FractionalBacktest`` in lots of the market's amount step (0.001 BTC) with a cash
balance large enough (10 M USDT) that rounding to lots changes no return beyond 1e-5.
The span is ours: backtesting.py skips the candles before our first tick. It never
calls the strategy on the last candle (it closes what is still open there instead), so
our span ends one tick earlier, on the same candle; a position still open then is
closed by backtesting.py (paying one more fee) and valued by us at the same price
without a fee, so the comparison charges that fee to ours too. Our paper broker also
settles funding every 8 hours, which backtesting.py does not model: the comparison
adds the funding paid back to our return.

    .venv/bin/python bench/crosscheck.py [--coin BTC] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FEE_PCT = 0.05
CASH_USD = 10_000_000.0
SIZE_PCT = 50.0
LOT = 0.001
# The reference rule trades plain: no risk limit may cut or refuse its orders (backtesting.py has none).
REFERENCE_RISK = {
    "min_confidence": 0.0,
    "max_position_margin_pct": 100.0,
    "max_open_positions": 6,
    "max_exposure": 10.0,
    "daily_loss_limit_pct": 100.0,
    "max_drawdown_pct": 100.0,
    "max_entries_per_hour": 1_000,
    "max_entries_per_day": 10_000,
}


@dataclass
class Side:
    """One library's answer: trades as (entry ms, exit ms, entry price, exit price, amount), final return, speed."""

    trades: list[tuple[int, int, float, float, float]]
    return_pct: float
    bars: int
    seconds: float

    @property
    def bars_per_s(self) -> float:
        return self.bars / self.seconds


def run_ours(data_dir: Path | None, coin: str) -> tuple[Side, float]:
    """Our backtest; also what to add back to compare: the exit fee a still-open position
    would pay at the end, minus the funding it paid (backtesting.py has no funding)."""
    from bot.backtest.loop import run_backtest, span_of
    from bot.config import Settings
    from bot.models import TICK
    from bot.strategies.ema_cross import EmaCrossStrategy
    from bot.venues.history import HistoryMarket

    settings = Settings(
        trading={"coins": [coin]},
        paper={"initial_balance_usd": CASH_USD, "taker_fee_pct": FEE_PCT, "slippage_pct": 0.0},
        risk=REFERENCE_RISK,
    )
    market = HistoryMarket(data_dir)
    start, end = span_of(
        market, [coin], start=None, end=None
    )  # reads the CSVs: timed from candles in memory, like theirs
    end -= TICK  # see the module docstring
    started = time.perf_counter()
    result = asyncio.run(
        run_backtest(settings, market=market, strategy=EmaCrossStrategy(size_pct=SIZE_PCT), start=start, end=end)
    )
    seconds = time.perf_counter() - started
    tick_ms = 180_000
    trades, open_fee = [], 0.0
    for trade in result.trades:
        entry_ms, exit_ms = int(trade.entry_at.timestamp() * 1000), int(trade.exit_at.timestamp() * 1000)
        if trade.exit_reason == "end_of_backtest":
            open_fee = trade.amount * trade.exit_price * FEE_PCT / 100
            exit_ms = int(result.times_ms[-1])  # valued at the last tick's price
        # report in candle open times, like backtesting.py: a tick at t acts on the candle that opened at t - 3m
        trades.append((entry_ms - tick_ms, exit_ms - tick_ms, trade.entry_price, trade.exit_price, trade.amount))
    final = result.equity_usd[-1]
    return Side(
        trades, (final / CASH_USD - 1) * 100, len(result.times_ms), seconds
    ), open_fee + result.funding_received_usd


def load_frame(data_dir: Path | None, coin: str):
    """The coin's 3m candles as backtesting.py takes them: an OHLCV frame on a DatetimeIndex."""
    import pandas as pd

    from bot.venues.history import SAMPLE_DIR, _read_csv

    candles = _read_csv((data_dir or SAMPLE_DIR) / "3m", f"{coin}USDT-3m")
    return pd.DataFrame(
        candles[:, 1:],
        columns=["Open", "High", "Low", "Close", "Volume"],
        index=pd.to_datetime(candles[:, 0], unit="ms"),
    )


def run_theirs(data_dir: Path | None, coin: str, first_ms: int, frame=None) -> Side:
    """backtesting.py on the same candles, trading from the candle that opened at ``first_ms``.

    The strategy is the idiomatic one, with nothing checked per bar: the EMAs are computed
    over the whole history (as ours are) and masked with NaN before the bar that precedes
    ``first_ms``, so backtesting.py's own warm-up rule (``next`` starts one bar after the
    last NaN) makes its first call on the candle at ``first_ms``. ``frame``: candles already
    in memory (else read here, outside the timed part either way)."""
    import numpy as np
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    frame = load_frame(data_dir, coin) if frame is None else frame
    warmup = max(int(frame.index.searchsorted(pd.Timestamp(first_ms, unit="ms"))) - 1, 0)

    def ema(span: int) -> np.ndarray:
        values = pd.Series(frame.Close).ewm(span=span, adjust=False).mean().to_numpy(copy=True)
        values[:warmup] = np.nan
        return values

    class EmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(ema, 20, name="ema20")
            self.slow = self.I(ema, 50, name="ema50")

        def next(self) -> None:
            if self.fast[-1] > self.slow[-1]:
                if not self.position:
                    self.buy(size=SIZE_PCT / 100)
            elif self.position:
                self.position.close()

    started = time.perf_counter()
    backtest = FractionalBacktest(
        frame,
        EmaCross,
        cash=CASH_USD,
        commission=FEE_PCT / 100,
        trade_on_close=True,
        finalize_trades=True,
        fractional_unit=LOT,
    )
    stats = backtest.run()
    seconds = time.perf_counter() - started
    trades = [
        (
            int(row.EntryTime.value // 1_000_000),
            int(row.ExitTime.value // 1_000_000),
            float(row.EntryPrice),
            float(row.ExitPrice),
            float(row.Size),
        )
        for row in stats["_trades"].itertuples()
    ]
    bars = len(frame) - max(warmup, 1)  # the bars `next` saw
    return Side(trades, float(stats["Return [%]"]), bars, seconds)


def compare(data_dir: Path | None, coin: str) -> dict:
    from bot.backtest.loop import span_of
    from bot.venues.history import HistoryMarket

    ours, adjustment = run_ours(data_dir, coin)
    start, _ = span_of(HistoryMarket(data_dir), [coin], start=None, end=None)
    theirs = run_theirs(data_dir, coin, int(start.timestamp() * 1000) - 180_000)
    ours_adjusted = ours.return_pct - adjustment / CASH_USD * 100
    matched = sum(
        1
        for a, b in zip(ours.trades, theirs.trades, strict=False)
        if a[0] == b[0] and a[1] == b[1] and abs(a[2] - b[2]) <= 1e-9 * b[2] and abs(a[3] - b[3]) <= 1e-9 * b[3]
    )
    return {
        "coin": coin,
        "ours": ours,
        "theirs": theirs,
        "ours_return_pct": ours_adjusted,
        "theirs_return_pct": theirs.return_pct,
        "return_diff_pp": abs(ours_adjusted - theirs.return_pct),
        "trades_ours": len(ours.trades),
        "trades_theirs": len(theirs.trades),
        "trades_matched": matched,
        "max_size_diff_rel": max(
            (abs(a[4] - b[4]) / b[4] for a, b in zip(ours.trades, theirs.trades, strict=False)), default=0.0
        ),
    }


def quiet() -> None:
    """Logging as `bot backtest` sets it up: errors on stderr, nothing below built."""
    from bot.log import configure_logging

    configure_logging(log_file=None, console_level="ERROR")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coin", default="BTC")
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    quiet()
    data = args.data_dir
    if data is None:
        shared = ROOT.parent / "shared" / "data"
        data = shared if (shared / "3m").is_dir() else None
    result = compare(data, args.coin)
    ours, theirs = result["ours"], result["theirs"]
    print(
        f"EMA20/EMA50 long/flat on {args.coin} 3m, {ours.bars:,} bars, fee {FEE_PCT}% per fill, "
        "no slippage, no leverage"
    )
    print("| | bot backtest | backtesting.py |\n|---|---|---|")
    print(f"| trades | {result['trades_ours']} | {result['trades_theirs']} |")
    print(f"| return | {result['ours_return_pct']:+.6f} % | {result['theirs_return_pct']:+.6f} % |")
    print(f"| wall time | {ours.seconds:.2f} s | {theirs.seconds:.2f} s |")
    print(f"| bars/s | {ours.bars_per_s:,.0f} | {theirs.bars_per_s:,.0f} |")
    print(
        f"trades identical (entry/exit candle, prices to 1e-9): {result['trades_matched']}/{result['trades_theirs']}; "
        f"return difference {result['return_diff_pp']:.2e} percentage points; "
        f"largest size difference {result['max_size_diff_rel']:.1e} relative; "
        f"speed ratio ours/theirs {ours.bars_per_s / theirs.bars_per_s:.2f}"
    )


if __name__ == "__main__":
    main()
