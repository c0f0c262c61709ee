"""The live broker's protection: stop-loss and take-profit placed, replaced on an add, placed
again when missing, the position closed when a stop cannot be placed."""

from __future__ import annotations

import pytest

from bot.models import Outcome
from tests.conftest import NOW
from tests.fakes.account import TAKER_FEE
from tests.venues.livekit import ENTRY, SL, TICK, TP, Bot, orders, posts


def test_a_stop_loss_fill_cancels_the_orphan_take_profit_and_books_the_loss(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    entry_price = fake.price("BTC")
    bot.tick(NOW)
    fake.set_price("BTC", 102_000.0)  # below the stop at 98 %: the exchange fills it between ticks

    report = bot.tick(NOW + TICK)

    assert orders(fake, "250603T1200") == [
        (ENTRY, "MARKET", "FILLED"),
        (SL, "STOP_MARKET", "FINISHED"),
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
    ]
    [fill] = [f for f in report.fills if f.reduce_only]
    assert (fill.reason, fill.price, fill.amount) == ("stop_loss", 102_000.0, 0.028)
    assert fill.realized_pnl_usd == pytest.approx((102_000.0 - entry_price) * 0.028, abs=1e-6)
    assert fill.fee_usd == pytest.approx(102_000.0 * 0.028 * TAKER_FEE, abs=1e-9)
    kinds = [c.kind for c in report.corrections]
    assert "position_closed" in kinds and "orphan_cancelled" in kinds
    state = bot.state()
    assert state.cash_usd == pytest.approx(fake.account.wallet_usd, abs=1e-6)
    # the stop-out reached the risk step: the strategy's new BUY waits out the cooldown
    assert [str(code) for code in report.verdicts[0].codes] == ["cooldown"]
    assert orders(fake, "250603T1203") == []


def test_killed_after_the_stop_was_saved_the_next_tick_places_it(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW, kill_at="stop_saved")
    assert orders(fake) == [(ENTRY, "MARKET", "FILLED")]
    state = bot.state()
    assert "BTC" in state.positions and [i.kind for i in state.pending_intents] == ["stop_loss"]

    report = bot.tick(NOW + TICK)

    assert orders(fake, "-sl") == [("bot-250603T1203-BTC-sl", "STOP_MARKET", "NEW")]
    assert posts(fake, "/fapi/v1/order") == 1
    assert bot.state().pending_intents == [] and report.outcome is Outcome.OK


def test_an_add_grows_the_position_and_replaces_its_stops_with_ones_for_the_whole_size(tmp_path, fake):
    bot = Bot(tmp_path, fake, allow_adding=True)
    first = fake.price("BTC")
    bot.tick(NOW)
    fake.set_price("BTC", 105_500.0)
    report = bot.tick(NOW + TICK)

    [add] = report.fills
    assert (add.client_order_id, add.price) == ("bot-250603T1203-BTC-add", 105_500.0)
    position = bot.state().positions["BTC"]
    assert position.amount == pytest.approx(0.028 + add.amount, abs=1e-12)
    assert position.entry_price == pytest.approx((0.028 * first + add.amount * 105_500.0) / position.amount, rel=1e-12)
    assert position.entry_tick_id == "250603T1203"  # a re-run of this tick opens nothing more
    assert orders(fake, "-sl") == [(SL, "STOP_MARKET", "CANCELED"), ("bot-250603T1203-BTC-sl", "STOP_MARKET", "NEW")]
    assert orders(fake, "-tp") == [
        (TP, "TAKE_PROFIT_MARKET", "CANCELED"),
        ("bot-250603T1203-BTC-tp", "TAKE_PROFIT_MARKET", "NEW"),
    ]
    assert {o.quantity for o in fake.account.open_algo("BTC")} == {position.amount}
    assert bot.state().exchange.disagreements(bot.state().positions) == []


def test_a_stop_that_cannot_be_placed_closes_the_position_and_alerts(tmp_path, fake):
    bot = Bot(tmp_path, fake, stop_attempts=3)
    fake.inject("precision", path="/fapi/v1/algoOrder", method="POST")
    report = bot.tick(NOW)

    assert posts(fake, "/fapi/v1/algoOrder") == 3  # tried live.stop_attempts times
    assert orders(fake) == [(ENTRY, "MARKET", "FILLED"), ("bot-250603T1200-BTC-exit", "MARKET", "FILLED")]
    assert fake.account.positions["BTC"].amount == 0
    assert [f.reason for f in report.fills] == ["decision", "stop_failed"]
    assert report.outcome is Outcome.DEGRADED and "stop-loss could not be placed after 3 tries" in report.message
    state = bot.state()
    assert state.positions == {} and state.pending_intents == []


def test_a_missing_stop_is_placed_again(tmp_path, fake):
    bot = Bot(tmp_path, fake)
    bot.tick(NOW)
    fake.account.orders[1].status = "CANCELED"  # the owner cancelled the stop in the app
    report = bot.tick(NOW + TICK)
    assert orders(fake, "-sl") == [(SL, "STOP_MARKET", "CANCELED"), ("bot-250603T1203-BTC-sl", "STOP_MARKET", "NEW")]
    assert [c.kind for c in report.corrections if c.kind == "stop_replaced"] == ["stop_replaced"]
    assert bot.state().positions["BTC"].stop_order_id == "bot-250603T1203-BTC-sl"
