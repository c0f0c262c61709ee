"""The backtest's folder: equity.csv's drawdown column, trades.csv's funding column, the chart's date labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

T0 = datetime(2025, 6, 2, tzinfo=UTC)


def test_gh16_10_equity_csv_drawdown_starts_from_the_initial_balance(tmp_path):
    import csv

    from bot.backtest.files import write_folder
    from bot.backtest.loop import BacktestResult
    from bot.backtest.report import build_report
    from bot.config import Settings

    # 10,000 -> 9,000 -> 9,900 -> 11,000: the first tick is 10 % under the initial balance,
    # the second 1 % (9,900 / 10,000), the third a new high. It read 0, 0, 0 (peak from tick 1 on).
    day = 86_400_000
    result = BacktestResult(
        settings=Settings(),
        coins=["BTC"],
        strategy="rules",
        start=T0,
        end=T0 + timedelta(days=2),
        decide_every=1,
        times_ms=np.array([0, day, 2 * day]),
        equity_usd=np.array([9_000.0, 9_900.0, 11_000.0]),
        exposed=np.array([True, True, False]),
        benchmark_usd=np.array([10_000.0, 10_000.0, 10_000.0]),
        trades=[],
        fees_usd=0.0,
        funding_received_usd=0.0,
        llm_cost_usd=0.0,
        outcomes={"ok": 3},
    )
    report = build_report(result)
    write_folder(tmp_path, result, report)
    with open(tmp_path / "equity.csv", encoding="utf-8") as handle:
        column = [float(row["drawdown_pct"]) for row in csv.DictReader(handle)]
    assert column == pytest.approx([10.0, 1.0, 0.0], abs=1e-9)
    assert max(column) == pytest.approx(report.strategy_metrics.max_drawdown_pct)
    with open(tmp_path / "trades.csv", encoding="utf-8") as handle:
        assert "funding_received_usd" in handle.readline()  # issue 16 item 12: the sign named in the column


def test_gh17_8_the_equity_chart_labels_each_date_once(project):
    import matplotlib.pyplot as plt

    from bot.backtest.files import _figure
    from bot.backtest.report import build_report
    from bot.backtest.runner import BacktestRequest, backtest_command
    from bot.config import Settings

    request = BacktestRequest(
        coins=["BTC"],
        start=datetime(2025, 6, 2, 1, 0, tzinfo=UTC),
        end=datetime(2025, 6, 4, 23, 0, tzinfo=UTC),
        decide_every=20,
    )
    result = backtest_command(Settings(base_dir=project), request, progress=False, notify=lambda line: None)
    figure = _figure(result, build_report(result))
    figure.canvas.draw()
    labels = [label.get_text() for label in figure.axes[1].get_xticklabels() if label.get_text()]
    plt.close(figure)
    days = [label for label in labels if ":" not in label]  # between two days a tick may show the hour
    assert days == ["Jun-02", "Jun-03", "Jun-04", "Jun-05"], labels  # "%m-%d" every 12 h gave 06-02, 06-02, 06-03 ...
