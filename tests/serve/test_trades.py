"""Closed trades and the profit tables with numbers worked by hand, through the round trips
`bot serve` plugs in (the backtest's ``trades_from_fills``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.cli.serve import _readers
from bot.config import Settings
from bot.models import Fill, FillReason, Side
from bot.serve.trades import Readers, closed_trades, profit_of

DAY1 = datetime(2025, 6, 2, 1, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def fill(coin, side, amount, price, fee, *, at, close=False, pnl=0.0, reason=FillReason.DECISION) -> Fill:
    return Fill(
        coin=coin,
        side=side,
        amount=amount,
        price=price,
        fee_usd=fee,
        realized_pnl_usd=pnl,
        reduce_only=close,
        reason=reason,
        client_order_id=f"{coin}-{at:%d%H%M}-{'close' if close else 'entry'}",
        at=at,
    )


FILLS = [
    fill("BTC", Side.LONG, 0.1, 100.0, 0.01, at=DAY1),
    fill("ETH", Side.SHORT, 1.0, 50.0, 0.05, at=DAY1),
    # BTC long closed by hand at 110: (110 - 100) x 0.1 = +1.00 before fees
    fill(
        "BTC",
        Side.LONG,
        0.1,
        110.0,
        0.011,
        at=DAY1 + timedelta(minutes=3),
        close=True,
        pnl=1.0,
        reason=FillReason.MANUAL,
    ),  # fmt: skip
    fill("SOL", Side.LONG, 2.0, 20.0, 0.02, at=DAY2),  # still open: not a closed trade
    # ETH short stopped at 52: (50 - 52) x 1 = -2.00 before fees
    fill(
        "ETH",
        Side.SHORT,
        1.0,
        52.0,
        0.052,
        at=DAY2 + timedelta(hours=1),
        close=True,
        pnl=-2.0,
        reason=FillReason.STOP_LOSS,
    ),  # fmt: skip
]


def test_round_trips_carry_exit_reason_fees_and_net_pnl():
    trades = closed_trades(_readers(Settings(), replay=True), FILLS, [("ETH", DAY2, 0.5)])  # ETH received 0.50
    assert [(t.coin, t.side, t.exit_reason) for t in trades] == [
        ("BTC", "long", "manual"),
        ("ETH", "short", "stop_loss"),
    ]
    btc, eth = trades
    assert (btc.entry_price, btc.exit_price, btc.amount) == (100.0, 110.0, 0.1)
    assert btc.fees_usd == pytest.approx(0.021) and btc.pnl_usd == pytest.approx(1.0 - 0.021)
    assert eth.fees_usd == pytest.approx(0.102) and eth.funding_received_usd == 0.5
    assert eth.pnl_usd == pytest.approx(-2.0 - 0.102 + 0.5)
    assert (btc.entry_at, btc.exit_at) == (DAY1, DAY1 + timedelta(minutes=3))


def test_profit_per_coin_best_first_and_per_day_newest_first():
    profit = profit_of(closed_trades(_readers(Settings(), replay=True), FILLS, []))
    assert (profit.trades, profit.wins, profit.win_rate_pct) == (2, 1, 50.0)
    assert profit.net_pnl_usd == pytest.approx(0.979 - 2.102) and profit.fees_usd == pytest.approx(0.123)
    assert [(c.coin, c.trades, c.wins) for c in profit.by_coin] == [("BTC", 1, 1), ("ETH", 1, 0)]
    assert [c.net_pnl_usd for c in profit.by_coin] == pytest.approx([0.979, -2.102])
    assert [(d.day, d.trades) for d in profit.by_day] == [("2025-06-03", 1), ("2025-06-02", 1)]
    assert [d.fees_usd for d in profit.by_day] == pytest.approx([0.102, 0.021])


def test_without_round_trips_plugged_in_or_fills_there_are_no_trades():
    assert closed_trades(Readers(), FILLS, []) == []
    assert closed_trades(_readers(Settings(), replay=True), [], []) == []
    empty = profit_of([])
    assert (empty.trades, empty.win_rate_pct, empty.by_coin, empty.by_day) == (0, None, [], [])
