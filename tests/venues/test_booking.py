"""The booking arithmetic both brokers use (bot/venues/booking.py), case by case: a book of
1,000 USD, one order or a few in a row, and the book after, worked by hand in each row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from bot.models import Fill, FillReason, OrderPlan, Position, Side
from bot.venues.booking import book_close, book_entry, close_share, fee_usd, opposite, realized_pnl_usd

AT = datetime(2025, 6, 3, 12, 0, tzinfo=UTC)


@dataclass
class _Book:
    cash_usd: float = 1_000.0
    positions: dict[str, Position] = field(default_factory=dict)
    fees_paid_usd: float = 0.0
    realized_pnl_usd: float = 0.0
    funding_usd: float = 0.0
    funding_payments: list = field(default_factory=list)


def _entry(book, side, amount, price, leverage, fee, *, stop_loss=None, step=0.0) -> Fill:
    plan = OrderPlan(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=side,
        amount=amount,
        reference_price=price,
        leverage=leverage,
        stop_loss=stop_loss,
        maintenance_margin_rate=0.01,
        client_order_id="bot-250603T1200-BTC-entry",
    )
    return book_entry(
        book,
        plan,
        amount=amount,
        price=price,
        fee_usd=fee,
        client_order_id=plan.client_order_id,
        opened_at=AT,
        at=AT,
        step=step,
    )


def _close(book, amount, price, fee, reason=FillReason.DECISION, step=0.0) -> Fill:
    return book_close(
        book, "BTC", amount=amount, price=price, fee_usd=fee, reason=reason, client_order_id="c", at=AT, step=step
    )


L, S = Side.LONG, Side.SHORT
E, C, LIQ = "entry", "close", "liquidation"

# Each case: the orders in turn, then the book: cash, fees, realized PnL and the BTC position
# as (side, amount, entry price, margin), None when flat.
CASES = {
    # 2 x 100 at 4x: margin 200 / 4 = 50; the fee 0.1 leaves cash at once
    "open a long": ([(E, L, 2.0, 100.0, 4.0, 0.1)], 999.9, 0.1, 0.0, (L, 2.0, 100.0, 50.0)),
    # + 1 x 130 at 4x: entry (2 x 100 + 1 x 130) / 3 = 110, margin 50 + 130 / 4 = 82.5
    "add to it": (
        [(E, L, 2.0, 100.0, 4.0, 0.1), (E, L, 1.0, 130.0, 4.0, 0.065)],
        999.835,
        0.165,
        0.0,
        (L, 3.0, 110.0, 82.5),
    ),
    # close 1 of 3 at 120: (120 - 110) x 1 = +10, a third of the margin released (82.5 -> 55)
    "partial close": (
        [(E, L, 2.0, 100.0, 4.0, 0.0), (E, L, 1.0, 130.0, 4.0, 0.0), (C, 1.0, 120.0, 0.06)],
        1_009.94,
        0.06,
        10.0,
        (L, 2.0, 110.0, 55.0),
    ),
    # a short of 2 at 100 closed at 90: (100 - 90) x 2 = +20
    "close a short in profit": ([(E, S, 2.0, 100.0, 5.0, 0.1), (C, 2.0, 90.0, 0.09)], 1_019.81, 0.19, 20.0, None),
    # a long of 2 at 100 closed at 95: -10, both fees out of cash
    "close a long at a loss": ([(E, L, 2.0, 100.0, 2.0, 0.1), (C, 2.0, 95.0, 0.095)], 989.805, 0.195, -10.0, None),
    # the whole 50 of margin lost at the bankruptcy price (100 - 50 / 2 = 75), no fee
    "liquidation": ([(E, L, 2.0, 100.0, 4.0, 0.0), (LIQ, 2.0, 75.0, 0.0)], 950.0, 0.0, -50.0, None),
    # liquidating half of it loses half the margin
    "half liquidated": (
        [(E, L, 2.0, 100.0, 4.0, 0.0), (LIQ, 1.0, 75.0, 0.0)],
        975.0,
        0.0,
        -25.0,
        (L, 1.0, 100.0, 25.0),
    ),
    # long 2 at 100 closed at 110 (+20, fee 0.11), then short 1 at 110 at 2x: margin 55, fee 0.055
    "flip long to short": (
        [(E, L, 2.0, 100.0, 4.0, 0.0), (C, 2.0, 110.0, 0.11), (E, S, 1.0, 110.0, 2.0, 0.055)],
        1_019.835,
        0.165,
        20.0,
        (S, 1.0, 110.0, 55.0),
    ),
    # a close for more than is held takes the position, and books its PnL only: (105 - 100) x 2
    "close more than held": ([(E, L, 2.0, 100.0, 4.0, 0.0), (C, 3.0, 105.0, 0.0)], 1_010.0, 0.0, 10.0, None),
}


def _play(book, steps):
    for step in steps:
        if step[0] == E:
            _entry(book, *step[1:])
        else:
            _close(book, *step[1:3], step[3], FillReason.LIQUIDATION if step[0] == LIQ else FillReason.DECISION)


@pytest.mark.parametrize("steps, cash, fees, realized, position", CASES.values(), ids=CASES.keys())
def test_the_book_after_each_case(steps, cash, fees, realized, position):
    book = _Book()
    _play(book, steps)
    assert book.cash_usd == pytest.approx(cash, abs=1e-9)
    assert book.fees_paid_usd == pytest.approx(fees, abs=1e-9)
    assert book.realized_pnl_usd == pytest.approx(realized, abs=1e-9)
    held = book.positions.get("BTC")
    if position is None:
        assert held is None
    else:
        side, amount, entry, margin = position
        assert (held.side, held.amount) == (side, pytest.approx(amount, abs=1e-12))
        assert (held.entry_price, held.margin_usd) == (pytest.approx(entry, abs=1e-9), pytest.approx(margin, abs=1e-9))
    assert book.cash_usd == pytest.approx(1_000.0 + book.realized_pnl_usd - book.fees_paid_usd, abs=1e-9)


def test_an_entry_fill_and_a_close_fill_say_what_was_booked():
    book = _Book()
    entry = _entry(book, L, 2.0, 100.0, 4.0, 0.1)
    close = _close(book, 2.0, 110.0, 0.11, FillReason.TAKE_PROFIT)
    assert (entry.amount, entry.price, entry.fee_usd, entry.realized_pnl_usd, entry.reduce_only) == (
        2.0,
        100.0,
        0.1,
        0.0,
        False,
    )
    assert (close.side, close.realized_pnl_usd, close.reduce_only, close.reason) == (L, 20.0, True, "take_profit")


def test_a_new_position_takes_the_orders_terms_and_the_liquidation_price():
    book = _Book()
    _entry(book, L, 2.0, 100.0, 4.0, 0.0, stop_loss=90.0)
    held = book.positions["BTC"]
    assert (held.stop_loss, held.maintenance_margin_rate, held.entry_tick_id) == (90.0, 0.01, "250603T1200")
    # (margin + cum - Q E) / (Q MMR - Q) = (50 - 200) / (0.02 - 2) = 75.7575...
    assert held.liquidation_price == pytest.approx(150.0 / 1.98, abs=1e-9)


def test_amounts_stay_on_the_venues_step():
    book = _Book()
    _entry(book, L, 0.028, 100.0, 4.0, 0.0, step=0.001)
    _entry(book, L, 0.025, 100.0, 4.0, 0.0, step=0.001)
    assert book.positions["BTC"].amount == 0.053  # not 0.053000000000000005
    _close(book, 0.011, 100.0, 0.0, step=0.001)
    assert book.positions["BTC"].amount == 0.042


@pytest.mark.parametrize(
    "amount, price, rate, fee",
    [
        (0.028, 105_289.9, 0.0005, 1.4740586),  # 0.028 x 105,289.9 = 2,948.1172 notional x 0.05 %
        (1.0, 2_000.0, 0.00045, 0.9),
        (3.0, 10.0, 0.0, 0.0),
    ],
)
def test_fee_is_the_rate_of_the_notional(amount, price, rate, fee):
    assert fee_usd(amount=amount, price=price, rate=rate) == pytest.approx(fee, abs=1e-9)


def test_share_pnl_and_opposite_on_their_own():
    short = Position(
        coin="BTC",
        symbol="BTC/USDT:USDT",
        side=S,
        amount=4.0,
        entry_price=50.0,
        leverage=2.0,
        margin_usd=100.0,
        opened_at=AT,
    )
    assert close_share(short, 1.0) == 0.25 and close_share(short, 8.0) == 1.0
    assert realized_pnl_usd(short, amount=1.0, price=40.0) == 10.0  # (50 - 40) x 1
    assert realized_pnl_usd(short, amount=2.0, price=40.0, liquidation=True) == -50.0  # half of 100
    assert opposite(short, L) and not opposite(short, S) and not opposite(None, L)
