"""Tables at 80 columns (cron's log, a pipe) keep every digit: headers wrap, columns drop whole."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from rich.table import Table

from bot.backtest.tables import fit


def _render(table: Table, width: int) -> str:
    out = StringIO()
    Console(file=out, width=width, highlight=False).print(table)
    return out.getvalue()


def _exit_reasons() -> Table:
    """The exit-reason table of issue 34, whose PnL printed as `-361.` at 80 columns."""
    table = Table("reason", "trades", "win rate", "profit factor", "expectancy", "avg hold", "PnL (USDT)")
    table.add_row("decision", "55", "21.8 %", "0.37", "-6.57", "2.42 h", "-361.16")
    table.add_row("end_of_backtest", "4", "75.0 %", "30.80", "+22.50", "4.17 h", "+89.99")
    return table


def test_the_exit_reason_pnl_keeps_every_digit_at_80_columns():
    before = _exit_reasons()
    before.columns[0].min_width = 15  # what the report did before: rich then cut the PnL
    assert "-361." in _render(before, 80) and "-361.16" not in _render(before, 80)
    table = _exit_reasons()
    assert fit(table, 80, drop=("avg hold",)) == []
    text = _render(table, 80)
    for number in ("-361.16", "+89.99", "-6.57", "+22.50", "30.80", "21.8 %", "4.17 h", "end_of_backtest"):
        assert number in text, number
    assert max(len(line) for line in text.splitlines()) == 78  # 15+6+6+6+10+6+7 and 22 of borders


def test_columns_that_cannot_fit_are_dropped_whole_in_the_order_given():
    table = _exit_reasons()
    assert fit(table, 60, drop=("avg hold", "profit factor", "expectancy")) == ["avg hold", "profit factor"]
    text = _render(table, 60)
    assert "-361.16" in text and "-6.57" in text and "0.37" not in text and "2.42 h" not in text
    assert max(len(line) for line in text.splitlines()) == 60  # 78 less two columns of 6 + 3
