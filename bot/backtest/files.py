"""The backtest's folder (`bot backtest --out`): trades.csv, equity.csv, report.json, equity.png."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.backtest.report import BacktestReport, drawdown_pct


def write_folder(folder: Path, result, report: BacktestReport) -> list[Path]:
    """trades.csv, equity.csv, report.json and equity.png in ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    trades_path, equity_path, json_path, png_path = (
        folder / name for name in ("trades.csv", "equity.csv", "report.json", "equity.png")
    )
    fields = [
        "coin",
        "side",
        "amount",
        "entry_at",
        "entry_price",
        "exit_at",
        "exit_price",
        "exit_reason",
        "fees_usd",
        "funding_received_usd",
        "pnl_usd",
    ]
    with open(trades_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for trade in result.trades:
            writer.writerow(trade.model_dump(mode="json"))
    drawdown = _drawdown_after_each_tick(result)
    with open(equity_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "equity_usd", "drawdown_pct", "buy_and_hold_usd", "exposed"])
        for ms, equity, dd, bench, exposed in zip(
            result.times_ms, result.equity_usd, drawdown, result.benchmark_usd, result.exposed, strict=True
        ):
            writer.writerow([_iso(ms), f"{equity:.6f}", f"{dd:.6f}", f"{bench:.6f}", int(exposed)])
    json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    _plot(png_path, result, report)
    return [trades_path, equity_path, json_path, png_path]


def _drawdown_after_each_tick(result) -> np.ndarray:
    """The drawdown column and chart, from a running peak that starts at the initial
    balance (as ``max_drawdown_pct`` does): a first tick below it is already a drawdown."""
    return drawdown_pct(np.concatenate([[result.initial_usd], result.equity_usd]))[1:]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plot(path: Path, result, report: BacktestReport) -> None:
    import matplotlib.pyplot as plt

    figure = _figure(result, report)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _figure(result, report: BacktestReport):
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    times = [datetime.fromtimestamp(int(ms) / 1000, tz=UTC) for ms in result.times_ms]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(
        times,
        result.equity_usd,
        label=f"{report.strategy} ({report.strategy_metrics.total_return_pct:+.2f} %)",
        color="tab:blue",
    )
    top.plot(
        times,
        result.benchmark_usd,
        label=f"buy & hold ({report.benchmark_metrics.total_return_pct:+.2f} %)",
        color="tab:gray",
        alpha=0.8,
    )
    top.axhline(result.initial_usd, color="black", linewidth=0.5)
    top.set_ylabel("equity (USDT)")
    top.set_title(
        f"{report.strategy} backtest · {', '.join(report.coins)} · {report.start:%Y-%m-%d} → {report.end:%Y-%m-%d}"
    )
    top.legend(loc="best")
    top.grid(alpha=0.3)
    bottom.fill_between(times, -_drawdown_after_each_tick(result), 0, color="tab:red", alpha=0.5, label="drawdown")
    bottom.set_ylabel("drawdown (%)")
    bottom.grid(alpha=0.3)
    # the locator picks days or hours to fit the span; a fixed "%m-%d" labelled every 12 h repeated each date
    locator = mdates.AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    figure.tight_layout()
    return figure
