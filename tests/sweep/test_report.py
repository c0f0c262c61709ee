"""The sweep's ranking and walk-forward pick with cells that made no trade (issue 36 item 3)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from bot.sweep.cell import CellRow
from bot.sweep.report import CellResult, build_report, print_report
from bot.sweep.spec import Fold, Spec

T0 = datetime(2025, 6, 2, 1, tzinfo=UTC)
SPEC = Spec(
    path=Path("spec.toml"),
    start=None,
    end=None,
    metric="sharpe",
    decide_every=1,
    settings={},
    axes={"rules.reward_risk": [1.5, 2.0, 3.0, 4.0]},
    samples=None,
    seed=0,
    heatmap=[],
    train=None,
    test=None,
    folds=0,
    anchored=False,
)


def _row(key: str, *, sharpe: float | None, ret: float, trades: int, ok: bool = True) -> CellRow:
    if not ok:
        return CellRow(key=key, ok=False, error="boom")
    return CellRow(
        key=key,
        ok=True,
        total_return_pct=ret,
        sharpe=sharpe,
        max_drawdown_pct=0.0,
        trades=trades,
        fees_usd=0.0,
        exposure_pct=0.0,
        rejections={"low_reward_risk": 40} if trades == 0 else {},
    )


def _cell(value, row, *, window="span", fold=None) -> CellResult:
    return CellResult(
        values={"rules.reward_risk": value}, window=window, fold=fold, start=T0, end=T0, source="computed", row=row
    )


def test_gh36_3_a_cell_that_never_traded_ranks_as_flat_between_gains_and_losses():
    """Sharpe 1.2 (won), none (flat: 0 trades, +0.00 %), -8.83 (lost), failed. Before: the flat
    cell ranked 3rd, below the loss, and its Sharpe read "-"."""
    results = [
        _cell(1.5, _row("a", sharpe=-8.83, ret=-1.0, trades=6)),
        _cell(2.0, _row("b", sharpe=None, ret=0.0, trades=0)),
        _cell(3.0, _row("c", sharpe=1.2, ret=0.4, trades=3)),
        _cell(4.0, _row("d", sharpe=None, ret=0.0, trades=0, ok=False)),
    ]
    report = build_report(SPEC, results, folds=[], start=T0, end=T0)
    assert [(c.row.key, c.rank) for c in report.cells] == [("c", 1), ("b", 2), ("a", 3), ("d", None)]
    console = Console(file=io.StringIO(), width=200)
    print_report(report, console=console)
    [flat_line] = [line for line in console.file.getvalue().splitlines() if "│ 2 " in line]
    assert "no trades" in flat_line and "low_reward_risk 40" in flat_line


def test_gh36_3_walk_forward_picks_staying_flat_over_a_losing_cell_and_says_so():
    """Fold 1's train window: one cell lost (Sharpe -8.83), one made no trade. Before: the
    winner was the loser, in-sample -8.83, not a word about the flat cell."""
    fold = Fold(
        index=1,
        train_start=T0,
        train_end=T0 + timedelta(hours=6),
        test_start=T0 + timedelta(hours=6, minutes=3),
        test_end=T0 + timedelta(hours=9),
    )
    results = [
        _cell(1.5, _row("a", sharpe=-8.83, ret=-1.0, trades=6), window="train", fold=1),
        _cell(2.0, _row("b", sharpe=None, ret=0.0, trades=0), window="train", fold=1),
        _cell(2.0, _row("t", sharpe=0.5, ret=0.1, trades=1), window="test", fold=1),
    ]
    report = build_report(SPEC, results, folds=[fold], start=T0, end=fold.test_end)
    [result] = report.folds
    assert result.winner == {"rules.reward_risk": 2.0} and result.winner_traded is False
    assert result.in_sample is None and result.out_of_sample == 0.5
    assert result.selection == (
        "the winner made no trade: staying flat beat the 1 cells that traded (best sharpe -8.83); 1 cells were flat"
    )
    assert report.warnings == [
        "fold 1: the best cell made no trade (staying flat beat every cell that traded): no luck to judge"
    ]
    console = Console(file=io.StringIO(), width=200)
    print_report(report, console=console)
    text = console.file.getvalue()
    assert "│ rules.reward_risk=2 │ no trades │ 0.50 " in text and "\nfold 1: the winner made no trade" in text
